import Glibc
import ZKBase
import ZKFormat
import ZKTree
import ZKWire

/// What startup recovered, for the log line and the dbinittime / startup_* metrics.
public struct RecoveryReport: Sendable {
    public var snapshotPath: String?
    public var snapshotStartZxid: Int64 = 0
    public var snapshotEndZxid: Int64 = 0
    public var snapshotLoadMs: Int64 = 0
    public var txnsReplayed = 0
    public var replayMs: Int64 = 0
    public var lastZxid: Int64 = 0
    public var elapsedMs: Int64 = 0
    /// Snapshots that failed their validity rule and were passed over (newest first), with why.
    public var skippedSnapshots: [(path: String, reason: String)] = []
    /// Quotas whose stats node was checked against its subtree after replay.
    public var quotasChecked = 0
    /// Quotas whose stats node disagrees with its subtree (a client wrote it): what each says.
    public var quotaMismatches: [String] = []
}

/// Recovery stops the node: the message says what is wrong and which offline command to run.
public struct RecoveryError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String {
        "\(message); the server will not start. Inspect with `paddock data verify <dataDir>` and repair with `paddock data repair <dataDir>` (it shows what would be lost before changing anything)."
    }
}

/// FORMAT.md section 5: the newest valid snapshot, then the log after its start zxid, with the
/// chain, continuity and digest checks. Nothing is repaired here.
public enum Recovery {
    static let replayChunk = 10_000

    /// Roughly how many txns the log holds after `zxid` (exact within one epoch; 0 when unknown).
    static func txnsInLog(after zxid: Int64, _ log: any TransactionLog) -> Int {
        guard log.lastZxid > zxid, ZxidMath.epoch(log.lastZxid) == ZxidMath.epoch(zxid) else { return 0 }
        return Int(ZxidMath.counter(log.lastZxid) - ZxidMath.counter(zxid))
    }

    /// `replayWholeLog` false: replay only the snapshot's fuzzy window (through its end zxid) —
    /// an ensemble member, whose log may end in txns no quorum has committed yet; ZAB applies
    /// the rest once they are. A record's digest may be in Paddock's form or in ZooKeeper's
    /// (replicated txns carry ZooKeeper's: `DataTree.zooKeeperDigest`).
    public static func recover(snapshotDirectory: String, log: any TransactionLog, replayWholeLog: Bool = true) throws(RecoveryError) -> (DataTree, RecoveryReport) {
        let started = monotonicMs()
        var report = RecoveryReport()
        var tree = DataTree()
        for candidate in SnapshotFiles.list(directory: snapshotDirectory) {
            let loadStarted = monotonicMs()
            do {
                let loaded = try SnapshotFiles.load(path: candidate.path, txnsToFollow: txnsInLog(after: candidate.zxid, log))
                // An ensemble member applies committed txns before its own copy of them is
                // durable, so its newest fuzzy snapshot may end past its durable log after a
                // crash: an older snapshot that the log does cover is the one to start from.
                if !replayWholeLog && log.lastZxid < loaded.trailer.endZxid {
                    report.skippedSnapshots.append((candidate.path, "ends at \(ZxidMath.hex(loaded.trailer.endZxid)), past the durable log (\(ZxidMath.hex(log.lastZxid)))"))
                    continue
                }
                tree = loaded.tree
                report.snapshotPath = candidate.path
                report.snapshotStartZxid = loaded.header.startZxid
                report.snapshotEndZxid = loaded.trailer.endZxid
                report.snapshotLoadMs = monotonicMs() - loadStarted
                break
            } catch {
                report.skippedSnapshots.append((candidate.path, "\(error)"))
            }
        }
        let start = report.snapshotStartZxid
        if let first = log.firstZxid, first > start + 1, !ZxidContinuity.follows(first, after: start) {
            throw RecoveryError(message: "the log starts at zxid \(ZxidMath.hex(first)) but the snapshot \(report.snapshotPath ?? "(none: empty tree)") needs every txn after \(ZxidMath.hex(start)): the range between is missing")
        }
        if log.lastZxid < report.snapshotEndZxid {
            throw RecoveryError(message: "snapshot \(report.snapshotPath ?? "") holds txns up to \(ZxidMath.hex(report.snapshotEndZxid)) but the log ends at \(ZxidMath.hex(log.lastZxid))")
        }
        if report.snapshotPath == nil {
            // No snapshot: room for the nodes replay may create (a hint, capped).
            tree.reserveCapacity(nodes: min(txnsInLog(after: 0, log), 1 << 20))
        }
        let replayStarted = monotonicMs()
        var cursor = start
        replay: while true {
            let records: [DecodedLogRecord]
            do {
                records = try log.records(after: cursor, limit: replayChunk)
            } catch {
                throw RecoveryError(message: "reading the log after zxid \(ZxidMath.hex(cursor)): \(error)")
            }
            if records.isEmpty { break }
            for record in records {
                let zxid = record.txn.zxid
                if !replayWholeLog && zxid > report.snapshotEndZxid { break replay }
                if cursor != 0 && !ZxidContinuity.follows(zxid, after: cursor) {
                    throw RecoveryError(message: "the log jumps from zxid \(ZxidMath.hex(cursor)) to \(ZxidMath.hex(zxid))")
                }
                _ = tree.apply(record.txn)
                // Inside the fuzzy window the tree is between states; after it, it must match.
                // A digest of 0 was not recorded: a ZooKeeper 3.8 leader proposes error txns
                // without one, and its followers log them so (FORMAT.md section 4).
                if zxid >= report.snapshotEndZxid && record.digest != LogRecord.digestNotRecorded
                    && tree.digest != record.digest && tree.zooKeeperDigest != record.digest {
                    throw RecoveryError(message: "tree digest mismatch after replaying zxid \(ZxidMath.hex(zxid)): the log recorded \(record.digest), replay gives \(tree.digest)")
                }
                cursor = zxid
                report.txnsReplayed += 1
            }
        }
        report.replayMs = monotonicMs() - replayStarted
        report.lastZxid = tree.lastProcessedZxid
        // Quota stats are derived from the tree: loading recomputed them and replay kept them.
        report.quotasChecked = tree.quotaPrefixes.count
        report.quotaMismatches = tree.quotaStatMismatches().map { "\($0.path): its stats node says \($0.stored), the subtree has \($0.actual)" }
        report.elapsedMs = monotonicMs() - started
        return (tree, report)
    }

    static func monotonicMs() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}
