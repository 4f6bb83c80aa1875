import ZKBase
import ZKFormat
import ZKStorage
import ZKTree

/// Why a replay could not produce the state asked for.
public enum ReplayFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// No valid snapshot (nor the empty tree) from which the log still reaches the target.
    case notCovered(String)
    /// The target lies after the last record.
    case pastEnd(target: Int64, last: Int64)
    /// A record breaks the validity rule, the CRC chain or zxid continuity.
    case damaged(zxid: Int64, message: String)
    /// After the fuzzy window, the replayed tree's digest differs from the record's.
    case digestMismatch(zxid: Int64, logged: UInt64, replayed: UInt64)
    /// LMDB or a file failed.
    case io(String)

    /// The zxid the failure is at, when it is at one.
    public var zxid: Int64? {
        switch self {
        case .damaged(let zxid, _), .digestMismatch(let zxid, _, _): return zxid
        case .pastEnd(let target, _): return target
        case .notCovered, .io: return nil
        }
    }

    public var description: String {
        switch self {
        case .notCovered(let message): return message
        case .pastEnd(let target, let last):
            return "zxid \(ZxidMath.hex(target)) is past the end of the log (last zxid \(ZxidMath.hex(last)))"
        case .damaged(_, let message): return message
        case .digestMismatch(let zxid, let logged, let replayed):
            return "tree digest mismatch after zxid \(ZxidMath.hex(zxid)): the log recorded \(ToolFormat.hex(logged)), "
                + "replay gives \(ToolFormat.hex(replayed))"
        case .io(let message): return message
        }
    }
}

/// A tree rebuilt from a starting point (a snapshot or the empty tree) plus log records.
public struct ReplayedState: Sendable {
    public var tree: DataTree
    /// The snapshot it started from; nil for the empty tree.
    public var start: SnapshotInfo?
    public var startZxid: Int64
    public var txnsReplayed: Int
    /// The last zxid applied (the start zxid when nothing was).
    public var lastZxid: Int64
    /// Records whose digest was compared with the replayed tree (those at or after E).
    public var digestsChecked: Int
    /// The time stamp of the last txn applied (the snapshot's start time when none was).
    public var lastTimeMs: Int64 = 0

    /// `snapshot.00000001000000a0 + 12 txns` / `the empty tree + 40 txns`.
    public var originText: String {
        "\(start?.name ?? "the empty tree") + \(ToolFormat.count(txnsReplayed, "txn"))"
    }
}

/// Rebuilds the tree at a zxid from the newest (or oldest) usable starting point: what
/// `replay`, `status`, `snapshot diff` and `verify` share. The records are checked with the
/// validity rule and CRC chain (LogRecord.decode), zxid continuity (ZxidContinuity) and, after
/// the starting snapshot's fuzzy window, the tree digest: the checks startup recovery makes.
public enum StateReplay {
    static let chunkRecords = 4096

    public enum Preference: Sendable { case newest, oldest }

    /// The starting points from which the log reaches `target`: valid snapshots with E ≤ target
    /// whose records after S are all still in the log, and the empty tree when nothing was
    /// ever purged. In preference order; `nil` stands for the empty tree.
    public static func startingPoints(
        target: Int64, snapshots: [SnapshotInfo], log: LogSummary, preference: Preference
    ) -> [SnapshotInfo?] {
        let usable: [SnapshotInfo?] = snapshots.filter { snapshot in
            guard let end = snapshot.endZxid, end <= target else { return false }
            return coverageProblem(snapshot, log: log) == nil
        }.sorted { $0.startZxid > $1.startZxid }
        let emptyUsable = log.anchor.zxid == 0 && (log.firstZxid.map { ZxidContinuity.follows($0, after: 0) } ?? true)
        let empty: [SnapshotInfo?] = emptyUsable ? [nil] : []
        return preference == .newest ? usable + empty : empty + usable.reversed()
    }

    /// Why the log cannot bring `snapshot` forward (nil when it can): records after its S were
    /// purged or are missing, or the log ends before its E.
    public static func coverageProblem(_ snapshot: SnapshotInfo, log: LogSummary) -> String? {
        let start = snapshot.startZxid
        if log.anchor.zxid > start {
            return "the log was purged through \(ZxidMath.hex(log.anchor.zxid)), after its start zxid \(ZxidMath.hex(start))"
        }
        if let first = log.firstZxid, first > start + 1, !ZxidContinuity.follows(first, after: start) {
            return "the log starts at \(ZxidMath.hex(first)) but every txn after \(ZxidMath.hex(start)) is needed"
        }
        if let end = snapshot.endZxid, log.lastZxid < end {
            return "it holds txns up to \(ZxidMath.hex(end)) but the log ends at \(ZxidMath.hex(log.lastZxid))"
        }
        return nil
    }

    /// The state after every txn with zxid ≤ `target`, from the preferred usable start.
    public static func state(
        at target: Int64, snapshots: [SnapshotInfo], log: LMDBTransactionLog, summary: LogSummary,
        preference: Preference = .newest
    ) throws(ReplayFailure) -> ReplayedState {
        if target > summary.lastZxid { throw .pastEnd(target: target, last: summary.lastZxid) }
        let starts = startingPoints(target: target, snapshots: snapshots, log: summary, preference: preference)
        guard let start = starts.first else {
            let oldest = summary.firstZxid.map { ZxidMath.hex($0) } ?? "nowhere (it is empty)"
            throw .notCovered("zxid \(ZxidMath.hex(target)) is no longer covered: the log starts at \(oldest) "
                + "(purged through \(ZxidMath.hex(summary.anchor.zxid))) and no valid snapshot ends at or before it")
        }
        return try replay(log: log, from: start, through: target)
    }

    /// Loads `start` (or the empty tree) and applies the records after its S through `target`.
    public static func replay(log: LMDBTransactionLog, from start: SnapshotInfo?, through target: Int64) throws(ReplayFailure) -> ReplayedState {
        var state = try load(start)
        let fuzzyEnd = start?.endZxid ?? 0
        var previousZxid = state.startZxid
        var seed: UInt32?
        var cursor = state.startZxid
        reading: while true {
            let chunk: (previous: LogChainLink, records: [RawLogRecord], foreignKeys: Int)
            do {
                chunk = try log.rawRecords(after: cursor, limit: chunkRecords)
            } catch {
                throw .io("reading the log after \(ZxidMath.hex(cursor)): \(error)")
            }
            if seed == nil { seed = chunk.previous.crc }
            for raw in chunk.records {
                if raw.zxid > target { break reading }
                guard ZxidContinuity.follows(raw.zxid, after: previousZxid) else {
                    throw .damaged(zxid: raw.zxid, message: "log record \(ZxidMath.hex(raw.zxid)): does not follow "
                        + "\(ZxidMath.hex(previousZxid)) (records missing)")
                }
                let record: DecodedLogRecord
                do {
                    record = try LogRecord.decode(zxid: raw.zxid, bytes: raw.bytes, previousCRC: seed)
                } catch {
                    throw .damaged(zxid: raw.zxid, message: error.description)
                }
                _ = state.tree.apply(record.txn)
                if raw.zxid >= fuzzyEnd && record.digest != LogRecord.digestNotRecorded {
                    // Paddock's form, or ZooKeeper's (an ensemble member's replicated txns); a
                    // record without one (0, FORMAT.md section 4) is not checked.
                    guard state.tree.digest == record.digest || state.tree.zooKeeperDigest == record.digest else {
                        throw .digestMismatch(zxid: raw.zxid, logged: record.digest, replayed: state.tree.digest)
                    }
                    state.digestsChecked += 1
                }
                seed = record.crc
                previousZxid = raw.zxid
                state.lastZxid = raw.zxid
                state.lastTimeMs = record.txn.header.time
                state.txnsReplayed += 1
            }
            guard let last = chunk.records.last, chunk.records.count == chunkRecords else { break }
            cursor = last.zxid
        }
        return state
    }

    static func load(_ start: SnapshotInfo?) throws(ReplayFailure) -> ReplayedState {
        guard let start else {
            return ReplayedState(tree: DataTree(), start: nil, startZxid: 0, txnsReplayed: 0, lastZxid: 0, digestsChecked: 0)
        }
        do {
            let loaded = try SnapshotFiles.load(path: start.path)
            let zxid = loaded.header.startZxid
            return ReplayedState(
                tree: loaded.tree, start: start, startZxid: zxid, txnsReplayed: 0, lastZxid: zxid, digestsChecked: 0,
                lastTimeMs: loaded.header.startTimeMs)
        } catch {
            throw .io("loading \(start.name): \(SnapshotInfo.reason(error))")
        }
    }
}
