import Foundation
import Testing
import ZKBase
import ZKFormat
import ZKStorage
import ZKTree
import ZKWire

/// Recovery never repairs: damage in the log or a gap stops it with one message naming the
/// offline commands; an invalid snapshot is passed over for an older one.
@Suite struct RecoveryFailureTests {
    /// A log of real txns (prep-predicted digests) in LMDB, plus the live tree they produce.
    struct Fixture {
        let directory: String
        let logPath: String
        let snapshotPath: String
        let records: [LoggedTxn]
        let live: DataTree

        init(seed: UInt64, steps: Int = 120) throws {
            var load = FuzzySnapshotRecoveryTests.Load(seed: seed)
            for _ in 0..<steps { load.step() }
            directory = NSTemporaryDirectory() + "paddock-recovery-\(UUID().uuidString)"
            logPath = directory + "/log"
            snapshotPath = directory + "/snapshots"
            try FileManager.default.createDirectory(atPath: logPath, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: snapshotPath, withIntermediateDirectories: true)
            records = try load.log.records(after: 0, limit: Int.max).map { LoggedTxn(txn: $0.txn, digest: $0.digest) }
            live = load.core.tree
            let log = try LMDBTransactionLog(directory: logPath)
            try log.append(records)
            log.close()
        }

        func recover() throws(RecoveryError) -> (DataTree, RecoveryReport) {
            let log = try! LMDBTransactionLog(directory: logPath)
            defer { log.close() }
            return try Recovery.recover(snapshotDirectory: snapshotPath, log: log)
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    func expectStops(_ fixture: Fixture, mentioning fragment: String) {
        do {
            _ = try fixture.recover()
            Issue.record("recovery went on over damage that should stop it (\(fragment))")
        } catch {
            #expect(error.description.contains(fragment), "message was: \(error.description)")
            #expect(error.description.contains("paddock data verify"))
            #expect(error.description.contains("paddock data repair"))
        }
    }

    @Test func healthyLogRecoversTheLiveTree() throws {
        let fixture = try Fixture(seed: 7)
        defer { fixture.remove() }
        let (tree, report) = try fixture.recover()
        #expect(report.txnsReplayed == fixture.records.count)
        #expect(tree.nodes == fixture.live.nodes)
        #expect(tree.digest == fixture.live.digest)
    }

    @Test(arguments: [0, 9, 13, 30])
    func bitFlipInTheMiddleStops(offset: Int) throws {
        let fixture = try Fixture(seed: 8)
        defer { fixture.remove() }
        let victim = fixture.records[fixture.records.count / 2].txn.zxid
        RawLMDB.overwrite(fixture.logPath, zxid: victim) { value in
            var bytes = value
            bytes[min(offset, bytes.count - 1)] ^= 0x10
            return bytes
        }
        expectStops(fixture, mentioning: ZxidMath.hex(victim))
    }

    @Test func missingRecordInTheMiddleStops() throws {
        let fixture = try Fixture(seed: 9)
        defer { fixture.remove() }
        let victim = fixture.records[fixture.records.count / 2].txn.zxid
        RawLMDB.delete(fixture.logPath, zxid: victim)
        do {
            _ = try fixture.recover()
            Issue.record("recovery went on over a missing record")
        } catch {
            #expect(error.description.contains("paddock data verify"), "message was: \(error.description)")
        }
    }

    @Test func digestMismatchStops() throws {
        let fixture = try Fixture(seed: 10)
        defer { fixture.remove() }
        // Rewrite the last record with a wrong digest but a correct chained CRC, so only the
        // digest check can notice.
        let count = fixture.records.count
        let reader = try LMDBTransactionLog(directory: fixture.logPath)
        let previousCRC = try reader.records(after: fixture.records[count - 3].txn.zxid, limit: 1)[0].crc
        reader.close()
        let last = fixture.records[count - 1]
        let forged = LogRecord.encode(last.txn, digest: last.digest &+ 1, previousCRC: previousCRC).bytes
        RawLMDB.overwrite(fixture.logPath, zxid: last.txn.zxid) { _ in forged }
        expectStops(fixture, mentioning: "digest mismatch")
    }

    @Test func aRecordWithoutADigestIsReplayedAndTheNextDigestStillChecked() throws {
        // A ZooKeeper 3.8 leader proposes error txns without a digest; a Paddock follower logs 0.
        let fixture = try Fixture(seed: 11)
        defer { fixture.remove() }
        let count = fixture.records.count
        let reader = try LMDBTransactionLog(directory: fixture.logPath)
        let crcs = try reader.records(after: fixture.records[count - 4].txn.zxid, limit: 3).map(\.crc)
        reader.close()
        let middle = fixture.records[count - 2], last = fixture.records[count - 1]
        let undigested = LogRecord.encode(middle.txn, digest: LogRecord.digestNotRecorded, previousCRC: crcs[0])
        RawLMDB.overwrite(fixture.logPath, zxid: middle.txn.zxid) { _ in undigested.bytes }
        let relinked = LogRecord.encode(last.txn, digest: last.digest, previousCRC: undigested.crc)
        RawLMDB.overwrite(fixture.logPath, zxid: last.txn.zxid) { _ in relinked.bytes }
        let (tree, report) = try fixture.recover()
        #expect(report.txnsReplayed == count)
        #expect(tree.digest == fixture.live.digest)
        // The record after it still has its digest checked.
        let forged = LogRecord.encode(last.txn, digest: last.digest &+ 1, previousCRC: undigested.crc)
        RawLMDB.overwrite(fixture.logPath, zxid: last.txn.zxid) { _ in forged.bytes }
        expectStops(fixture, mentioning: "digest mismatch")
    }

    @Test func invalidNewestSnapshotFallsBackToAnOlderOne() throws {
        let fixture = try Fixture(seed: 11)
        defer { fixture.remove() }
        // A valid snapshot of the empty-ish start, and a newer one that is damaged.
        _ = try SnapshotFiles.write(tree: DataTree(), directory: fixture.snapshotPath, startZxid: 0, level: 1)
        let newest = try SnapshotFiles.write(tree: fixture.live, directory: fixture.snapshotPath,
                                             startZxid: fixture.live.lastProcessedZxid, level: 1)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: newest)))
        bytes[bytes.count / 2] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: newest))
        let (tree, report) = try fixture.recover()
        #expect(report.skippedSnapshots.map(\.path) == [newest])
        #expect(report.txnsReplayed == fixture.records.count)
        #expect(tree.nodes == fixture.live.nodes)
    }

    @Test func logThatNoLongerCoversTheSnapshotStops() throws {
        let fixture = try Fixture(seed: 12)
        defer { fixture.remove() }
        let middle = fixture.records[fixture.records.count / 2].txn.zxid
        let log = try LMDBTransactionLog(directory: fixture.logPath)
        try log.purge(through: middle)
        log.close()
        // No snapshot at all: the empty tree needs the log from zxid 1, which is gone.
        expectStops(fixture, mentioning: "missing")
    }
}
