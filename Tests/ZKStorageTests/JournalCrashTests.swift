import Foundation
import Testing
import ZKBase
import ZKFormat
@testable import ZKStorage

/// Seeded power-loss runs of the journaled log: appends (some large enough to bypass the
/// journal), checkpoints (folds), truncates and purges, then a crash — during a journal write (a
/// random subset of that write's 512-byte sectors reaches the disk) or between operations — with
/// LMDB left in any state a crash may leave it: the last forced sync, any commit after it, or
/// everything. After reopening, the log must hold exactly the acknowledged records (every batch
/// whose append returned, truncations and purges applied), plus at most the batch whose append
/// was interrupted, and verify clean.
///
/// The same harness must catch the unsafe configurations: forceSync=no, and MDB_NOMETASYNC
/// without the journal (negative controls).
@Suite struct JournalCrashTests {
    enum Mode { case journal, noSync, metaSyncWithoutJournal }

    struct Run {
        var violation: String?
        var acknowledged = 0
        var crashedDuringWrite = false
        var tornTail = false
        var interruptedBatchSurvived = false
        var lmdbRolledBack = false
    }

    static let journalCapacity = 32 << 10

    static func run(seed: UInt64, mode: Mode) throws -> Run {
        try withTemporaryDirectory { path in
            var random = SplitMix64(seed: seed)
            var configuration = LMDBConfiguration(
                forceSync: mode != .noSync, mapSizeBytesInitial: 1 << 20,
                journalBytes: mode == .journal ? journalCapacity : 0, journalBypassBytes: 12 << 10)
            configuration.backgroundFolds = false
            configuration.preallocationBytes = 0
            configuration.unsafeMetaSyncWithoutJournal = mode == .metaSyncWithoutJournal
            let device = SimulatedJournalDevice(capacity: journalCapacity, crashAtWrite: random.below(40), seed: random.next())
            var copies: [(path: String, durable: Bool)] = []
            let environment = try LMDBEnvironment(path: path, configuration: configuration)
            environment.commitObserver = { durable in
                let copy = path + "/copy-\(copies.count).mdb"
                try? FileManager.default.copyItem(atPath: path + "/data.mdb", toPath: copy)
                copies.append((copy, durable))
            }
            let log = try LMDBTransactionLog(environment: environment, journalDevice: mode == .journal ? device : nil)
            var run = Run()
            var model: [LoggedTxn] = []
            var interrupted: [LoggedTxn]?
            var next: Int64 = 1
            var salt: UInt8 = 0
            var purgedThrough: Int64 = 0
            for _ in 0..<(10 + random.below(50)) {
                let roll = random.below(100)
                do throws(LogError) {
                    if roll < 70 {
                        let count = Int64(1 + random.below(6))
                        let batch = makeRecords(next...(next + count - 1), payloadBytes: random.below(3000), salt: salt)
                        interrupted = batch
                        try log.append(batch)
                        interrupted = nil
                        model += batch
                        next += count
                    } else if roll < 82 {
                        try log.fold()
                    } else if roll < 92 {
                        let keep = random.below(model.count + 1)
                        let cut = keep == 0 ? purgedThrough : model[keep - 1].txn.zxid
                        _ = try log.truncate(after: cut)
                        model.removeLast(model.count - keep)
                        next = ZxidMath.counter(cut) + 1
                        salt &+= 1
                    } else if !model.isEmpty {
                        let through = model[random.below(model.count)].txn.zxid
                        try log.purge(through: through)
                        model.removeAll { $0.txn.zxid <= through }
                        purgedThrough = max(purgedThrough, through)
                    }
                } catch {
                    guard device.crashed else { throw error }
                    run.crashedDuringWrite = true
                    break
                }
            }
            run.acknowledged = model.count
            // The crash: the process is gone (nothing folded or closed), and LMDB is left in a
            // state the crash allows.
            environment.commitObserver = nil
            environment.close()
            let candidates: ArraySlice<(path: String, durable: Bool)>
            switch mode {
            case .journal:
                // Pessimistic: any commit since the last forced sync may be undone.
                candidates = copies[(copies.lastIndex { $0.durable } ?? 0)...]
            case .metaSyncWithoutJournal:
                // Each commit's data flush carries the previous meta page: only the last may go.
                candidates = copies.suffix(2)
            case .noSync:
                candidates = copies[...]
            }
            let chosen = random.below(candidates.count + 1)  // the last choice: nothing was lost
            if chosen < candidates.count {
                let data = path + "/data.mdb"
                try FileManager.default.removeItem(atPath: data)
                try FileManager.default.copyItem(atPath: candidates[candidates.startIndex + chosen].path, toPath: data)
                run.lmdbRolledBack = chosen < candidates.count - 1
            }
            for copy in copies { try? FileManager.default.removeItem(atPath: copy.path) }

            let afterCrash = SimulatedJournalDevice(capacity: journalCapacity, image: device.image)
            let reopened: LMDBTransactionLog
            do {
                reopened = try LMDBTransactionLog(
                    environment: LMDBEnvironment(path: path, configuration: configuration), journalDevice: mode == .journal ? afterCrash : nil)
            } catch {
                run.violation = "seed \(seed): reopening failed: \(error)"
                return run
            }
            defer { reopened.close() }
            run.tornTail = reopened.journalReport.tornAt != nil
            let recovered: [LoggedTxn]
            do {
                recovered = logged(try reopened.records(after: purgedThrough, limit: 1_000_000))
            } catch {
                run.violation = "seed \(seed): reading the recovered log failed: \(error)"
                return run
            }
            if recovered == model {
                // Acknowledged and nothing more.
            } else if let interrupted, recovered == model + interrupted {
                run.interruptedBatchSurvived = true
            } else {
                let lost = model.filter { record in !recovered.contains { $0.txn.zxid == record.txn.zxid && $0 == record } }
                run.violation = "seed \(seed): recovered \(recovered.count) records, \(model.count) acknowledged"
                    + " (\(lost.count) acknowledged records lost or changed; interrupted batch \(interrupted?.count ?? 0))"
                return run
            }
            let problems = reopened.verify()
            if !problems.isEmpty { run.violation = "seed \(seed): verify after recovery: \(problems)" }
            return run
        }
    }

    static func runMany(seeds: Range<UInt64>, mode: Mode) throws -> [Run] {
        try seeds.map { seed in try run(seed: seed &* 0x2545_F491_4F6C_DD1D &+ 17, mode: mode) }
    }

    /// PADDOCK_CRASH_SEEDS raises the count (default 1000 crash runs).
    static var seedCount: UInt64 {
        ProcessInfo.processInfo.environment["PADDOCK_CRASH_SEEDS"].flatMap { UInt64($0) } ?? 1000
    }

    @Test func everyAcknowledgedBatchSurvivesPowerLoss() throws {
        let runs = try Self.runMany(seeds: 0..<Self.seedCount, mode: .journal)
        let violations = runs.compactMap(\.violation)
        #expect(violations.isEmpty, "\(violations.count) of \(runs.count) crash runs broke durability, e.g. \(violations.prefix(3))")
        let acknowledged = runs.reduce(0) { $0 + $1.acknowledged }
        let duringWrite = runs.filter(\.crashedDuringWrite).count
        let torn = runs.filter(\.tornTail).count
        let survived = runs.filter(\.interruptedBatchSurvived).count
        let rolledBack = runs.filter(\.lmdbRolledBack).count
        print("journal crash runs: \(runs.count), acknowledged records checked \(acknowledged), crashes during a journal write \(duringWrite), torn tails found \(torn), interrupted batches that survived whole \(survived), LMDB rolled back to an earlier commit \(rolledBack)")
        // The counts prove the crash points were reached, not skipped.
        #expect(acknowledged > 0 && duringWrite > 0 && torn > 0 && survived > 0 && rolledBack > 0)
    }

    @Test(arguments: [Mode.noSync, Mode.metaSyncWithoutJournal])
    func unsafeConfigurationsLoseAcknowledgedWrites(mode: Mode) throws {
        let runs = try Self.runMany(seeds: 0..<200, mode: mode)
        let violations = runs.compactMap(\.violation)
        print("negative control \(mode): \(violations.count) of \(runs.count) crash runs lost acknowledged records")
        #expect(!violations.isEmpty, "the crash harness must catch \(mode)")
    }
}
