import CLMDB
import ZKBase
import ZKFormat

/// One thing `verify` found wrong, at the record stored under `zxid`.
public struct LogProblem: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The record breaks the validity rule (length, magic, version, CRC chain, txn decode,
        /// header zxid ≠ key).
        case invalidRecord(LogRecordError)
        /// The zxid does not follow `previous` (the record before, or the anchor): records are
        /// missing, or a record sits at or before the purge anchor.
        case discontinuity(previous: Int64)
        /// A key that is not an 8-byte zxid (`zxid` is then the previous record's).
        case invalidKey(byteCount: Int)
        /// LMDB failed while reading (`zxid` is the last one read); the walk stopped there.
        case unreadable(String)
        /// The walk stopped after this many problems.
        case tooManyProblems(Int)
    }

    public var zxid: Int64
    public var kind: Kind

    public init(zxid: Int64, kind: Kind) {
        self.zxid = zxid
        self.kind = kind
    }

    public var description: String {
        let at = ZxidMath.hex(zxid)
        switch kind {
        case .invalidRecord(let error): return "\(error)"
        case .discontinuity(let previous): return "log record \(at): does not follow \(ZxidMath.hex(previous)) (records missing)"
        case .invalidKey(let count): return "after log record \(at): a \(count)-byte key that is not a zxid"
        case .unreadable(let message): return "after log record \(at): cannot read the log: \(message)"
        case .tooManyProblems(let count): return "stopped after \(count) problems"
        }
    }
}

/// Counts and sizes of the log, for `stat`/`mntr`-style reports and tools.
public struct LogStatistics: Sendable, Equatable {
    public var firstZxid: Int64?
    public var lastZxid: Int64
    public var recordCount: Int
    /// zxid of the newest purged record (0 when nothing was purged).
    public var anchorZxid: Int64
    public var mapSizeBytes: Int
    public var mapSizeBytesMax: Int
    public var fileSizeBytes: Int
}

extension LMDBTransactionLog {
    /// Records per read transaction in `verify`: bounds memory and how long a reader is held.
    static let verifyChunkRecordsMax = 1024
    static let verifyChunkBytesMax = 4 << 20

    /// Walks the whole log from the anchor: every record's validity rule, the CRC chain and
    /// zxid continuity. Reads in chunks, each with a fresh short read transaction, so memory is
    /// bounded. After a damaged record or a gap the chain restarts from the next record's stored
    /// CRC (that one link is not checked), so each damage is reported once. Run it while no
    /// purge or truncate is running (appends meanwhile are harmless).
    public func verify(problemsMax: Int = 1000) -> [LogProblem] {
        var walk = VerifyWalk(problemsMax: problemsMax)
        var resumeKey: [UInt8]?
        let path = environment.path
        while !walk.stopped {
            let chunk: [(key: [UInt8], value: [UInt8])]
            do {
                chunk = try environment.withReadTransaction { transaction throws(LogError) in
                    if resumeKey == nil {
                        let anchor = try Self.readAnchor(transaction, metaDatabase, path: path)
                        walk.start(anchor: anchor)
                    }
                    return try Self.readChunk(transaction, txnsDatabase, after: resumeKey, path: path)
                }
            } catch {
                walk.report(LogProblem(zxid: walk.previousZxid, kind: .unreadable("\(error)")))
                break
            }
            guard let last = chunk.last else { break }
            for entry in chunk where !walk.stopped { walk.check(key: entry.key, value: entry.value) }
            resumeKey = last.key
        }
        // Then what the journal holds that LMDB does not yet (a record folds into LMDB only
        // after it was journaled, so nothing falls between the two walks).
        for record in tailRecords(after: walk.previousZxid, limit: Int.max).records where !walk.stopped {
            walk.check(key: LogKey.bytes(record.zxid), value: record.bytes)
        }
        return walk.problems
    }

    /// Up to a chunk of entries after `resumeKey` (from the first when nil), copied out.
    static func readChunk(
        _ transaction: OpaquePointer, _ database: MDB_dbi, after resumeKey: [UInt8]?, path: String
    ) throws(LogError) -> [(key: [UInt8], value: [UInt8])] {
        let cursor = try LMDBCursor(transaction, database, path: path)
        defer { cursor.close() }
        var entry: (key: [UInt8], value: [UInt8])?
        if let resumeKey {
            entry = try cursor.get(MDB_SET_RANGE, key: resumeKey)
            if entry?.key == resumeKey { entry = try cursor.get(MDB_NEXT) }
        } else {
            entry = try cursor.get(MDB_FIRST)
        }
        var chunk: [(key: [UInt8], value: [UInt8])] = []
        var bytes = 0
        while let current = entry {
            chunk.append(current)
            bytes += current.value.count
            if chunk.count >= verifyChunkRecordsMax || bytes >= verifyChunkBytesMax { break }
            entry = try cursor.get(MDB_NEXT)
        }
        return chunk
    }

    /// First/last zxid, record count (LMDB's entries and the journal's records not yet folded),
    /// anchor, map and file size.
    public var statistics: LogStatistics {
        get throws(LogError) {
            let path = environment.path
            // No fold between counting LMDB's entries and the journal's.
            let (count, anchor) = try foldLock.withLock { () throws(LogError) -> (Int, Anchor) in
                let (stored, anchor) = try environment.withReadTransaction { transaction throws(LogError) -> (Int, Anchor) in
                    var statistics = MDB_stat()
                    try LMDBEnvironment.check(mdb_stat(transaction, txnsDatabase, &statistics), "mdb_stat(txns)", path)
                    return (statistics.ms_entries, try Self.readAnchor(transaction, metaDatabase, path: path))
                }
                return (stored + stateLock.withLock { tail.count }, anchor)
            }
            let current = stateLock.withLock { self.state }
            return LogStatistics(
                firstZxid: current.firstZxid, lastZxid: current.lastZxid, recordCount: count, anchorZxid: anchor.zxid,
                mapSizeBytes: environment.mapSizeBytes, mapSizeBytesMax: environment.configuration.mapSizeBytesMax,
                fileSizeBytes: environment.fileSizeBytes)
        }
    }
}

/// The state of one `verify` walk: where the chain stands and what was found. Pure.
struct VerifyWalk {
    let problemsMax: Int
    var problems: [LogProblem] = []
    var stopped = false
    var previousZxid: Int64 = 0
    /// CRCs the next record may chain on. One after a valid record. After a CRC mismatch, both
    /// the stored CRC (the payload was damaged) and the computed one (the CRC field was): the
    /// next record is fine if it chains on either. Empty after other damage or a gap: that one
    /// link is not checked. So each damage is reported once.
    var seeds: [UInt32] = [0]

    init(problemsMax: Int) {
        precondition(problemsMax > 0, "verify needs room for at least one problem")
        self.problemsMax = problemsMax
    }

    mutating func start(anchor: LMDBTransactionLog.Anchor) {
        previousZxid = anchor.zxid
        seeds = [anchor.crc]
    }

    mutating func check(key: [UInt8], value: [UInt8]) {
        guard let zxid = LogKey.zxid(key) else {
            report(LogProblem(zxid: previousZxid, kind: .invalidKey(byteCount: key.count)))
            seeds = []
            return
        }
        if !ZxidContinuity.follows(zxid, after: previousZxid) {
            report(LogProblem(zxid: zxid, kind: .discontinuity(previous: previousZxid)))
            seeds = []  // the missing record's CRC is what this one chains on
        }
        previousZxid = zxid
        switch Self.decode(zxid: zxid, value: value, seeds: seeds) {
        case .success(let record):
            seeds = [record.crc]
        case .failure(let error):
            report(LogProblem(zxid: zxid, kind: .invalidRecord(error)))
            seeds = Self.seedsAfter(error, value: value)
        }
    }

    /// Decodes with the first seed that the record chains on (no chain check without seeds).
    static func decode(zxid: Int64, value: [UInt8], seeds: [UInt32]) -> Result<DecodedLogRecord, LogRecordError> {
        var result = Result<DecodedLogRecord, LogRecordError> { () throws(LogRecordError) in
            try LogRecord.decode(zxid: zxid, bytes: value, previousCRC: seeds.first)
        }
        for seed in seeds.dropFirst() {
            guard case .failure(let error) = result, case .crcMismatch = error.kind else { break }
            result = Result { () throws(LogRecordError) in try LogRecord.decode(zxid: zxid, bytes: value, previousCRC: seed) }
        }
        return result
    }

    static func seedsAfter(_ error: LogRecordError, value: [UInt8]) -> [UInt32] {
        switch error.kind {
        case .crcMismatch(let expected, let actual): return [actual, expected]
        case .tooShort, .badMagic, .unknownVersion: return []
        case .reservedNotZero, .lengthMismatch, .zxidMismatch, .undecodableTxn: return [storedCRC(value)]
        }
    }

    mutating func report(_ problem: LogProblem) {
        guard !stopped else { return }
        if problems.count == problemsMax {
            problems.append(LogProblem(zxid: problem.zxid, kind: .tooManyProblems(problemsMax)))
            stopped = true
            return
        }
        problems.append(problem)
    }
}
