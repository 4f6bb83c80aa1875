import Foundation
import Testing
import ZKBase
import ZKFormat
import ZKStorage
import ZKTools

/// One corruption of a fixture: a log record's value changed through LMDB itself (bit flip,
/// zeroed bytes, truncated or extended value, deleted record), or a snapshot file's bytes
/// (bit flip, zeroed sector, truncation).
struct Damage: Sendable, CustomStringConvertible {
    enum Target: Sendable { case logRecord(index: Int), snapshot(name: String) }
    enum Kind: Sendable { case flip(offset: Int, bit: Int), zero(Range<Int>), truncate(length: Int), extend, delete }

    var fixture: String
    var target: Target
    var kind: Kind

    var description: String {
        let what: String
        switch kind {
        case .flip(let offset, let bit): what = "flip bit \(bit) of byte \(offset)"
        case .zero(let range): what = "zero bytes \(range.lowerBound)..<\(range.upperBound)"
        case .truncate(let length): what = "truncate to \(length) bytes"
        case .extend: what = "append a byte"
        case .delete: what = "delete"
        }
        switch target {
        case .logRecord(let index): return "\(fixture): log record #\(index): \(what)"
        case .snapshot(let name): return "\(fixture): \(name): \(what)"
        }
    }

    /// The damaged bytes, or nil when the change would not change anything.
    func damaged(_ bytes: [UInt8]) -> [UInt8]? {
        var copy = bytes
        switch kind {
        case .flip(let offset, let bit): copy[offset] ^= UInt8(1) << UInt8(bit)
        case .zero(let range): for index in range { copy[index] = 0 }
        case .truncate(let length): copy = Array(copy.prefix(length))
        case .extend: copy.append(0x5a)
        case .delete: return nil
        }
        return copy == bytes ? nil : copy
    }

    func apply(to directory: String, records: [RawLogRecord]) throws {
        switch target {
        case .logRecord(let index):
            let zxid = records[index].zxid
            if case .delete = kind {
                RawLMDB.delete(directory + "/log", zxid: zxid)
            } else {
                RawLMDB.overwrite(directory + "/log", zxid: zxid) { damaged($0)! }
            }
        case .snapshot(let name):
            let path = directory + "/snapshots/" + name
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            try Data(damaged(bytes)!).write(to: URL(fileURLWithPath: path))
        }
    }
}

/// The matrix: every corruption is reported by `verify` at its zxid or file; `repair` then leaves
/// a directory that `verify` passes and that startup recovery (`Recovery.recover`, a fresh
/// environment) starts from; no record before the damage is lost (byte for byte), and what was
/// removed is in the backup. Where repair cannot produce a startable directory (damage in the
/// part of a purged log that its only usable snapshot needs), it refuses and changes nothing.
@Suite struct CorruptionMatrixTests {
    /// The stored records and snapshot files of a fixture (read from a temp copy).
    struct Original {
        var records: [RawLogRecord]
        var snapshots: [String: [UInt8]]
    }

    static func original(_ fixture: String) -> Original {
        try! withFixture(fixture) { directory in
            let names = SnapshotFiles.list(directory: directory + "/snapshots").map { ToolFilesForTests.name($0.path) }
            var snapshots: [String: [UInt8]] = [:]
            for name in names {
                snapshots[name] = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/snapshots/" + name)))
            }
            return Original(records: try rawLog(directory + "/log").records, snapshots: snapshots)
        }
    }

    static let healthy = original("healthy")
    static let purged = original("purged")

    static func logKinds(length: Int) -> [Damage.Kind] {
        let flips = [0, 3, 4, 5, 7, 8, 11, 12, 19, 20, 23, 24, 31, 36, 43, 44, 48, length / 2, length - 1]
            .filter { $0 < length }.map { Damage.Kind.flip(offset: $0, bit: $0 % 8) }
        let zeroed = [0..<24, 0..<4, 8..<12, 12..<20, 20..<24, 24..<length, (length - 8)..<length, 0..<length].map { Damage.Kind.zero($0) }
        let cut = [0, 1, 11, 23, 24, 25, length / 2, length - 1].map { Damage.Kind.truncate(length: $0) }
        return flips + zeroed + cut + [.extend]
    }

    static func logCases(_ fixture: String, _ original: Original, indices: [Int]) -> [Damage] {
        indices.flatMap { index in
            logKinds(length: original.records[index].bytes.count)
                .map { Damage(fixture: fixture, target: .logRecord(index: index), kind: $0) }
                .filter { $0.damaged(original.records[index].bytes) != nil }
        }
    }

    static func snapshotCases(_ fixture: String, _ original: Original) -> [Damage] {
        original.snapshots.keys.sorted().flatMap { name -> [Damage] in
            let bytes = original.snapshots[name]!
            let length = bytes.count
            let flips = stride(from: 0, to: length, by: 7).map { Damage.Kind.flip(offset: $0, bit: $0 % 8) }
                + [length - 1, length - 4, length - 56, 39, 40].map { Damage.Kind.flip(offset: $0, bit: 3) }
            let sectors = stride(from: 0, to: length, by: 512).map { Damage.Kind.zero($0..<min(length, $0 + 512)) }
                + stride(from: 0, to: length, by: 97).map { Damage.Kind.zero($0..<min(length, $0 + 16)) }
                + [Damage.Kind.zero(0..<length)]
            let cuts = (stride(from: 0, to: length, by: 37).map { $0 } + [1, 7, 8, 39, 40, 41, length - 57, length - 56, length - 55, length - 5, length - 4, length - 1])
                .map { Damage.Kind.truncate(length: $0) }
            return (flips + sectors + cuts).map { Damage(fixture: fixture, target: .snapshot(name: name), kind: $0) }
                .filter { $0.damaged(bytes) != nil }
        }
    }

    static let logDamage: [Damage] = logCases("healthy", healthy, indices: [0, 5, 13, 16, 20, 21, 22, 28])
        + [1, 0, 13, 21, 22, 27].map { Damage(fixture: "healthy", target: .logRecord(index: $0), kind: .delete) }
    static let snapshotDamage: [Damage] = snapshotCases("healthy", healthy)
    /// In a purged log (anchor 0x10000000e, oldest snapshot ends at 0x100000012): damage after
    /// 0x100000012 is repairable, damage before it leaves no usable starting point.
    static let purgedDamage: [Damage] = logCases("purged", purged, indices: [0, 2, 3, 4, 7, 14])

    @Test(arguments: logDamage + purgedDamage)
    func logDamageIsFoundAndRepaired(_ damage: Damage) throws {
        try check(damage)
    }

    @Test(arguments: snapshotDamage)
    func snapshotDamageIsFoundAndRepaired(_ damage: Damage) throws {
        try check(damage)
    }

    @Test func matrixSize() {
        // The numbers the report quotes; every one of them must be detected.
        #expect(Self.logDamage.count + Self.purgedDamage.count + Self.snapshotDamage.count >= 600)
    }

    func check(_ damage: Damage) throws {
        let original = damage.fixture == "purged" ? Self.purged : Self.healthy
        try withFixture(damage.fixture) { directory in
            try damage.apply(to: directory, records: original.records)
            let before = try verifyReport(directory)
            expectDetected(damage, before, original)
            let locked = try ToolDataDirectory.openForChange(directory)
            let plan = try DataRepair.plan(locked, nowMs: fixedNowMs)
            if let refusal = plan.refusal {
                locked.close()
                try expectRefusalIsRight(damage, refusal: refusal, original: original, directory: directory)
                return
            }
            let report = try DataRepair.apply(plan, locked, nowMs: fixedNowMs)
            locked.close()
            #expect(report.status == .healthy, "\(damage): repair: \(report.text)")
            let after = try verifyReport(directory)
            #expect(after.problems.isEmpty, "\(damage): verify after repair: \(after.text)")
            #expect(throws: Never.self, "\(damage): startup recovery after repair") { try startupRecovery(directory) }
            try expectNothingBeforeTheDamageLost(damage, plan: plan, original: original, directory: directory)
        }
    }

    func verifyReport(_ directory: String) throws -> VerifyReport {
        let readOnly = try ToolDataDirectory.openReadOnly(directory)
        defer { readOnly.close() }
        return try DataVerify.verify(readOnly)
    }

    /// Reported where it is: the damaged record's zxid (for a deleted record, the next one's),
    /// or the damaged snapshot's file name.
    func expectDetected(_ damage: Damage, _ report: VerifyReport, _ original: Original) {
        #expect(report.status == .problems, "\(damage): verify found nothing")
        switch damage.target {
        case .logRecord(let index):
            let zxid: Int64
            if case .delete = damage.kind { zxid = original.records[index + 1].zxid } else { zxid = original.records[index].zxid }
            #expect(report.problems.contains { $0.area == .log && $0.zxid == zxid }, "\(damage): \(report.text)")
        case .snapshot(let name):
            #expect(report.problems.contains { $0.area == .snapshot && $0.file == name }, "\(damage): \(report.text)")
        }
    }

    /// Every record before the damage is still there byte for byte; the removed ones (damaged
    /// bytes included) are in the backup's records file; moved snapshots are in the backup.
    func expectNothingBeforeTheDamageLost(_ damage: Damage, plan: RepairPlan, original: Original, directory: String) throws {
        let now = try rawLog(directory + "/log").records
        switch damage.target {
        case .logRecord(let index):
            #expect(now == Array(original.records.prefix(index)), "\(damage): records before the damage changed")
            let reader = try RecordsFileReader(path: directory + "/" + plan.backup.recordsFile)
            var saved: [RawLogRecord] = []
            while let record = try reader.next() { saved.append(record) }
            #expect(reader.problem == nil)
            let removedZxids = original.records.suffix(from: index).map(\.zxid).filter { zxid in
                if case .delete = damage.kind { return zxid != original.records[index].zxid }
                return true
            }
            #expect(saved.map(\.zxid) == removedZxids, "\(damage): backup holds \(saved.count) records")
            if case .delete = damage.kind {} else if let first = saved.first {
                #expect(first.bytes == damage.damaged(original.records[index].bytes), "\(damage): backup holds other bytes")
            }
        case .snapshot(let name):
            #expect(now == original.records, "\(damage): snapshot damage cost log records")
            #expect(plan.snapshots.map(\.snapshot.name) == [name], "\(damage): repair moved \(plan.snapshots.map(\.snapshot.name))")
            #expect(FileManager.default.fileExists(atPath: directory + "/" + plan.backup.relativePath + "/" + name))
            let left = SnapshotFiles.list(directory: directory + "/snapshots").map { ToolFilesForTests.name($0.path) }
            #expect(left == original.snapshots.keys.sorted(by: >).filter { $0 != name })
        }
    }

    /// Only the purged fixture may be refused, only for damage in what its oldest snapshot
    /// needs (records through its end zxid 0x100000012), and a refusal changes nothing.
    func expectRefusalIsRight(_ damage: Damage, refusal: String, original: Original, directory: String) throws {
        guard case .logRecord(let index) = damage.target, damage.fixture == "purged" else {
            Issue.record("\(damage): repair refused: \(refusal)")
            return
        }
        #expect(original.records[index].zxid <= 0x1_0000_0012, "\(damage): refused: \(refusal)")
        let now = try rawLog(directory + "/log").records
        #expect(now.count == original.records.count - (damage.kindIsDelete ? 1 : 0), "\(damage): a refused repair changed the log")
        #expect(!FileManager.default.fileExists(atPath: directory + "/backup"), "\(damage): a refused repair made a backup")
    }
}

extension Damage {
    var kindIsDelete: Bool {
        if case .delete = kind { return true }
        return false
    }
}
