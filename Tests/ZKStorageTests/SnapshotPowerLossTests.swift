import Foundation
import Testing
import ZKBase
@testable import ZKFormat
import ZKPipeline
import ZKStorage
import ZKTestSupport
import ZKTree

/// Seeded power cuts during snapshots and retention, on a simulated disk behind the snapshot
/// files (`SimulatedDisk`): the server's sequence — fuzzy snapshots walked in slices while txns
/// keep landing, then retention (the log purged through the oldest kept snapshot's start, older
/// snapshots removed durably) — runs until the power fails at a random file operation (a write,
/// fsync, rename, directory fsync or unlink); the disk then keeps only what a power cut keeps.
/// Recovery from what is left plus the log must give exactly the live tree: every acknowledged
/// txn, nothing else. (The log's own power-loss proof is `JournalCrashTests`; here it is kept in
/// memory and is durable on return, as the journaled log is.)
///
/// The negative control renames a snapshot into place without its fsync: the same test must then
/// fail for some seeds (a torn snapshot under its final name after the log was purged past it).
@Suite struct SnapshotPowerLossTests {
    static let directory = "/simulated/snapshots"
    static let keep = 2

    struct Outcome {
        var failure: String?
        var snapshotsFinished = 0
        var crashedMidSnapshot = false
        var purges = 0
    }

    static func run(seed: UInt64, syncBeforeRename: Bool) -> Outcome {
        var load = FuzzySnapshotRecoveryTests.Load(seed: seed)
        var random = SplitMix64(seed: seed ^ 0x5eed)
        let disk = SimulatedDisk()
        var outcome = Outcome()
        // A run makes about 6 file operations per snapshot and 2 per removed one.
        disk.crashAt = 1 + random.below(70)
        PosixFile.$simulated.withValue(disk) {
            rounds: for _ in 0..<8 {
                for _ in 0..<(5 + random.below(60)) { load.step() }
                // A fuzzy snapshot, as the server takes it.
                do throws(SnapshotError) {
                    let writer = try SnapshotWriter(directory: directory, startZxid: load.core.lastProcessedZxid, startTimeMs: load.nowMs,
                                                    level: random.below(2) == 0 ? 0 : 1)
                    writer.unsafeSkipsSyncBeforeRename = !syncBeforeRename
                    try writer.writeSessions(load.core.tree.sessions.sorted { $0.key < $1.key }.map { (id: $0.key, timeoutMs: $0.value) })
                    var walk = FuzzySnapshotWalk()
                    while !walk.isFinished {
                        for entry in walk.nextSlice(of: load.core.tree, nodesMax: 1 + random.below(8)) {
                            try writer.writeNode(path: entry.path, node: entry.node)
                        }
                        for _ in 0..<random.below(4) { load.step() }
                    }
                    _ = try writer.finish(endZxid: load.core.lastProcessedZxid)
                    outcome.snapshotsFinished += 1
                    // Retention, in the server's order: the log first, then the old files.
                    let snapshots = SnapshotFiles.list(directory: directory)
                    if snapshots.count > keep {
                        load.log.purge(through: snapshots[keep - 1].zxid)
                        outcome.purges += 1
                        for old in snapshots[keep...] { try PosixFile.removeDurably(old.path, directory: directory) }
                    }
                } catch {
                    guard disk.crashed else {
                        outcome.failure = "seed \(seed): snapshot failed without a crash: \(error)"
                        return
                    }
                    outcome.crashedMidSnapshot = true
                    break rounds
                }
            }
            disk.powerLoss(&random)
            do {
                let (recovered, _) = try Recovery.recover(snapshotDirectory: directory, log: load.log)
                let live = load.core.tree
                if recovered.lastProcessedZxid != live.lastProcessedZxid {
                    outcome.failure = "seed \(seed): recovered through \(ZxidMath.hex(recovered.lastProcessedZxid)), acknowledged through \(ZxidMath.hex(live.lastProcessedZxid))"
                } else if recovered.digest != live.digest || recovered.nodes != live.nodes || recovered.sessions != live.sessions {
                    outcome.failure = "seed \(seed): the recovered tree differs from the live one"
                }
            } catch {
                outcome.failure = "seed \(seed): recovery failed: \(error)"
            }
        }
        return outcome
    }

    static var seeds: [UInt64] {
        let count = Int(ProcessInfo.processInfo.environment["PADDOCK_CRASH_SEEDS"] ?? "") ?? 1000
        return (0..<UInt64(count)).map { $0 &* 0x9E37_79B9 &+ 17 }
    }

    @Test func everyAcknowledgedTxnSurvivesAPowerCutDuringSnapshotsAndRetention() {
        var finished = 0, crashedMidSnapshot = 0, purges = 0
        for seed in Self.seeds {
            let outcome = Self.run(seed: seed, syncBeforeRename: true)
            if let failure = outcome.failure {
                Issue.record(Comment(rawValue: failure))
                return
            }
            finished += outcome.snapshotsFinished
            crashedMidSnapshot += outcome.crashedMidSnapshot ? 1 : 0
            purges += outcome.purges
        }
        // The runs did what they are for: snapshots finished, power cut inside one, retention ran.
        #expect(finished > 0 && crashedMidSnapshot > Self.seeds.count / 2 && purges > 0,
                "finished \(finished), crashed mid-snapshot \(crashedMidSnapshot), purges \(purges)")
    }

    @Test func renamingBeforeTheFsyncIsCaught() {
        let failures = Self.seeds.prefix(400).filter { Self.run(seed: $0, syncBeforeRename: false).failure != nil }
        #expect(!failures.isEmpty, "a snapshot renamed into place unsynced was never caught")
    }
}
