import NIOCore
import ZKBase
import ZKFormat
import ZKWire

/// A txn together with the tree digest after it is applied: what one log record holds.
public struct LoggedTxn: Sendable, Equatable {
    public var txn: Txn
    public var digest: UInt64

    public init(txn: Txn, digest: UInt64) {
        self.txn = txn
        self.digest = digest
    }
}

/// Where txns become durable. The server hands it batches (group commit: one append, one sync
/// per batch) from a single writer thread and replies only after `append` returns.
///
/// Threading: `append` (and every other mutating call of an implementation) is called from one
/// dedicated thread only. `records(after:limit:)`, `lastZxid` and `firstZxid` may be called
/// from any thread.
public protocol TransactionLog: AnyObject, Sendable {
    /// Appends records in zxid order and makes them durable before returning: all or nothing.
    /// Each zxid must follow the log's last one (`ZxidContinuity`), else `.outOfOrder` and
    /// nothing is written.
    func append(_ records: [LoggedTxn]) throws(LogError)
    /// Up to `limit` records with zxid > `zxid`, in order, each checked against the validity
    /// rule and the CRC chain (FORMAT.md section 2). `.missingRange` when `zxid` lies before
    /// what the log still holds (purged).
    func records(after zxid: Int64, limit: Int) throws(LogError) -> [DecodedLogRecord]
    /// The newest zxid in the log; the purge anchor's zxid when the log is empty after a purge;
    /// 0 for a new log.
    var lastZxid: Int64 { get }
    /// The oldest zxid still in the log, nil when it holds no record.
    var firstZxid: Int64? { get }
}

/// An operating error of the transaction log. `kind` says what the caller can do about it;
/// `detail` says where it happened (the LMDB call, the error code and LMDB's message).
public struct LogError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// The map size quota, the disk or the user's disk quota is full. The write failed as a
        /// whole and nothing written before is damaged; raise the quota or free space.
        case full
        /// Any other failure of LMDB or the operating system (code and message).
        case io(String)
        /// A stored record breaks the validity rule: stop and run `paddock data verify`.
        case corrupt(LogRecordError)
        /// An append whose zxids do not follow the log's last zxid (an upstream bug). Not written.
        case outOfOrder
        /// Records that should be there are not (purged, or a gap in the chain).
        case missingRange(String)
        /// The commit journal holds a valid frame after a damaged one (damage, not a torn
        /// tail): stop and run `paddock data repair`.
        case journalCorrupt(String)
    }

    public var kind: Kind
    public var detail: String
    /// The raw LMDB/errno code when the error came from LMDB (internal: drives map growth).
    var code: Int32?

    public init(kind: Kind, detail: String = "") {
        self.kind = kind
        self.detail = detail
        self.code = nil
    }

    init(kind: Kind, detail: String, code: Int32?) {
        self.kind = kind
        self.detail = detail
        self.code = code
    }

    public static func == (left: LogError, right: LogError) -> Bool {
        left.kind == right.kind && left.detail == right.detail
    }

    public var description: String {
        let suffix = detail.isEmpty ? "" : ": \(detail)"
        switch kind {
        case .full: return "transaction log full\(suffix)"
        case .io(let message): return "transaction log I/O error: \(message)\(suffix)"
        case .corrupt(let error):
            return "transaction log corrupt: \(error)\(suffix); stop and run `paddock data verify`"
        case .outOfOrder: return "transaction log append out of zxid order\(suffix)"
        case .missingRange(let range): return "transaction log is missing records: \(range)\(suffix)"
        case .journalCorrupt(let what):
            return "commit journal corrupt: \(what)\(suffix); stop and run `paddock data repair` (it backs the journal up first)"
        }
    }
}

/// Validation and encoding of one append batch, shared by every log implementation so they
/// refuse the same inputs and produce the same bytes. Pure.
struct EncodedBatch {
    var entries: [(zxid: Int64, bytes: [UInt8])]
    var lastCRC: UInt32

    /// `lastZxid`/`lastCRC`: the log's newest record (or anchor, or 0/0 for a new log).
    init(_ records: [LoggedTxn], lastZxid: Int64, lastCRC: UInt32) throws(LogError) {
        var previousZxid = lastZxid
        var crc = lastCRC
        entries = []
        entries.reserveCapacity(records.count)
        var scratch = ByteBufferAllocator().buffer(capacity: 4096)
        for record in records {
            let zxid = record.txn.zxid
            guard zxid > previousZxid, ZxidContinuity.follows(zxid, after: previousZxid) else {
                throw LogError(kind: .outOfOrder, detail: "zxid \(ZxidMath.hex(zxid)) after \(ZxidMath.hex(previousZxid))")
            }
            let encoded = LogRecord.encode(record.txn, digest: record.digest, previousCRC: crc, scratch: &scratch)
            entries.append((zxid, encoded.bytes))
            crc = encoded.crc
            previousZxid = zxid
        }
        self.lastCRC = crc
    }
}

/// Decodes records copied out of a log, checking the CRC chain from `seed` and zxid
/// continuity from `previousZxid`. Pure.
func decodeChain(
    _ values: [(zxid: Int64, bytes: [UInt8])], previousZxid: Int64, seed: UInt32
) throws(LogError) -> [DecodedLogRecord] {
    var decoded: [DecodedLogRecord] = []
    decoded.reserveCapacity(values.count)
    var crc = seed
    var previous = previousZxid
    for value in values {
        guard ZxidContinuity.follows(value.zxid, after: previous) else {
            throw LogError(kind: .missingRange("\(ZxidMath.hex(value.zxid)) does not follow \(ZxidMath.hex(previous))"))
        }
        do {
            let record = try LogRecord.decode(zxid: value.zxid, bytes: value.bytes, previousCRC: crc)
            decoded.append(record)
            crc = record.crc
        } catch {
            throw LogError(kind: .corrupt(error))
        }
        previous = value.zxid
    }
    return decoded
}

/// A log kept in memory: durable for the life of the process only. It stores LogRecord-encoded
/// bytes with the CRC chain, so the encode/decode paths are the ones the LMDB log takes.
public final class InMemoryTransactionLog: TransactionLog, @unchecked Sendable {
    /// Guarded by `lock`.
    private var values: [(zxid: Int64, bytes: [UInt8])] = []
    private var lastCRC: UInt32 = 0
    /// The last purged record's zxid and CRC (nil before any purge).
    private var purged: (zxid: Int64, crc: UInt32)?
    private let lock = NSLockLike()

    public init() {}

    public func append(_ records: [LoggedTxn]) throws(LogError) {
        try lock.withLock { () throws(LogError) in
            let batch = try EncodedBatch(records, lastZxid: values.last?.zxid ?? purged?.zxid ?? 0, lastCRC: lastCRC)
            values.append(contentsOf: batch.entries)
            lastCRC = batch.lastCRC
        }
    }

    public func records(after zxid: Int64, limit: Int) throws(LogError) -> [DecodedLogRecord] {
        precondition(limit > 0, "records(after:limit:) needs a positive limit")
        let found = lock.withLock { () -> ([(zxid: Int64, bytes: [UInt8])], Int64, UInt32)? in
            if let purged, zxid < purged.zxid { return nil }
            let start = values.firstIndex { $0.zxid > zxid } ?? values.endIndex
            let end = min(values.endIndex, start + limit)
            if start == values.startIndex, let purged { return (Array(values[start..<end]), purged.zxid, purged.crc) }
            let previous = start > values.startIndex ? values[start - 1] : nil
            let seed = previous.map { storedCRC($0.bytes) } ?? 0
            return (Array(values[start..<end]), previous?.zxid ?? 0, seed)
        }
        guard let (slice, previousZxid, seed) = found else {
            throw LogError(kind: .missingRange("records after \(ZxidMath.hex(zxid)) were purged"))
        }
        return try decodeChain(slice, previousZxid: previousZxid, seed: seed)
    }

    /// Removes the records with zxid <= `zxid` (what the oldest kept snapshot no longer needs),
    /// keeping the last removed one's zxid and CRC as the anchor the next record chains from.
    public func purge(through zxid: Int64) {
        lock.withLock {
            let count = values.prefix { $0.zxid <= zxid }.count
            guard count > 0 else { return }
            let last = values[count - 1]
            purged = (last.zxid, storedCRC(last.bytes))
            values.removeFirst(count)
        }
    }

    public var lastZxid: Int64 { lock.withLock { values.last?.zxid ?? purged?.zxid ?? 0 } }
    public var firstZxid: Int64? { lock.withLock { values.first?.zxid } }
}

/// The CRC a record stores (offset 8), without validating anything else: the seed for the
/// record after it. A value too short to hold it yields nil.
func storedCRC(_ bytes: UnsafeRawBufferPointer) -> UInt32? {
    guard bytes.count >= 12 else { return nil }
    return UInt32(bytes[8]) << 24 | UInt32(bytes[9]) << 16 | UInt32(bytes[10]) << 8 | UInt32(bytes[11])
}

func storedCRC(_ bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBytes { storedCRC($0) } ?? 0
}
