import CLMDB
import Glibc
import ZKBase
import ZKFormat

/// The transaction log in LMDB (FORMAT.md section 2): database `txns` maps the zxid (8-byte
/// big-endian) to a log record; database `meta` holds `format` (uint32 1) and `anchor`
/// (zxid uint64 + CRC32C uint32 of the newest purged record; 0/0 while nothing was purged).
///
/// Threading rules:
/// - `append`, `truncate`, `removeRecords`, `purge` are called from ONE dedicated writer thread
///   (a debug assertion binds the first caller's thread and checks every later call). Each call
///   is one LMDB write transaction begun and committed on that thread; one `append` call is one
///   group commit (one durable sync).
/// - `records(after:limit:)`, `verify`, `statistics`, `lastZxid`, `firstZxid` may run on any
///   thread. Their read transactions are short (values are copied out before they end), because
///   the writer waits for all readers of this process before it can grow the map.
public final class LMDBTransactionLog: TransactionLog, @unchecked Sendable {
    public static let formatVersion: UInt32 = 1
    static let formatKey = Array("format".utf8)
    static let anchorKey = Array("anchor".utf8)

    public let environment: LMDBEnvironment
    let txnsDatabase: MDB_dbi
    let metaDatabase: MDB_dbi
    /// Guards `state` and `writerThread`.
    let stateLock = NSLockLike()
    var state: State
    private var writerThread: pthread_t?

    /// What the writer needs without reading the log: where the chain continues.
    struct State {
        var firstZxid: Int64?
        /// Newest record's zxid, else the anchor's zxid, else 0.
        var lastZxid: Int64
        /// Newest record's stored CRC, else the anchor's CRC, else 0.
        var lastCRC: UInt32
        var anchor: Anchor
    }

    struct Anchor: Equatable {
        var zxid: Int64
        var crc: UInt32
        static let none = Anchor(zxid: 0, crc: 0)
    }

    /// Opens (creating when the configuration allows writes) the log in `directory`, which
    /// must exist (`DataDirectory.logDirectory`).
    public convenience init(directory: String, configuration: LMDBConfiguration = .init()) throws(LogError) {
        try self.init(environment: LMDBEnvironment(path: directory, configuration: configuration))
    }

    /// Opens the log's databases in `environment`, writing `meta/format` on creation and
    /// refusing an unknown format.
    public init(environment: LMDBEnvironment) throws(LogError) {
        self.environment = environment
        let readOnly = environment.configuration.readOnly
        let opened: (MDB_dbi, MDB_dbi, State)
        if readOnly {
            opened = try environment.withReadTransaction(keepDatabaseHandles: true) { transaction throws(LogError) in
                try LMDBTransactionLog.openDatabases(transaction, create: false, path: environment.path)
            }
        } else {
            opened = try environment.withWriteTransaction(growingUpTo: environment.configuration.mapSizeBytesMax) {
                transaction throws(LogError) in
                try LMDBTransactionLog.openDatabases(transaction, create: true, path: environment.path)
            }
        }
        (txnsDatabase, metaDatabase, state) = opened
    }

    /// Closes the environment. The log must not be used afterwards.
    public func close() { environment.close() }

    public var lastZxid: Int64 { stateLock.withLock { state.lastZxid } }
    public var firstZxid: Int64? { stateLock.withLock { state.firstZxid } }

    // MARK: - Append

    /// One LMDB write transaction (one durable commit) for the whole batch, MDB_APPEND per
    /// record, each record chained on the CRC of the one before. All or nothing: on any error
    /// nothing of the batch is visible. `.outOfOrder` when a zxid does not follow the log's last
    /// (checked before anything is written); `.full` when the map cannot grow within the quota
    /// or the disk is full.
    public func append(_ records: [LoggedTxn]) throws(LogError) {
        assertWriterThread()
        guard !records.isEmpty else { return }
        let (lastZxid, lastCRC) = stateLock.withLock { (state.lastZxid, state.lastCRC) }
        let batch = try EncodedBatch(records, lastZxid: lastZxid, lastCRC: lastCRC)
        try environment.withWriteTransaction(growingUpTo: environment.configuration.mapSizeBytesMax) {
            transaction throws(LogError) in
            for entry in batch.entries {
                try put(transaction, txnsDatabase, key: LogKey.bytes(entry.zxid), value: entry.bytes, flags: MDB_APPEND)
            }
        }
        stateLock.withLock {
            state.lastZxid = batch.entries[batch.entries.count - 1].zxid
            state.lastCRC = batch.lastCRC
            if state.firstZxid == nil { state.firstZxid = batch.entries[0].zxid }
        }
        environment.preallocateAhead()
    }

    // MARK: - Read

    /// Up to `limit` records after `zxid`, read in one short read transaction (copied out before
    /// it ends), then decoded and checked: the CRC chain is seeded with the stored CRC of the
    /// record at or before `zxid` (or the anchor), and zxids must be continuous.
    public func records(after zxid: Int64, limit: Int) throws(LogError) -> [DecodedLogRecord] {
        precondition(limit > 0, "records(after:limit:) needs a positive limit")
        guard zxid < Int64.max else { return [] }
        let path = environment.path
        let (values, previousZxid, seed) = try environment.withReadTransaction { transaction throws(LogError) in
            let anchor = try Self.readAnchor(transaction, metaDatabase, path: path)
            let cursor = try LMDBCursor(transaction, txnsDatabase, path: path)
            defer { cursor.close() }
            let start = LogKey.bytes(max(0, zxid + 1))
            // The record before the first one returned seeds the chain.
            let previous: (zxid: Int64, crc: UInt32)?
            if try cursor.get(MDB_SET_RANGE, key: start, { _, _ in true }) != nil {
                previous = try cursor.get(MDB_PREV, { key, value in Self.chainLink(key, value) }) ?? nil
            } else {
                previous = try cursor.get(MDB_LAST, { key, value in Self.chainLink(key, value) }) ?? nil
            }
            if previous == nil && zxid < anchor.zxid {
                throw LogError(kind: .missingRange(
                    "records after \(ZxidMath.hex(zxid)) through \(ZxidMath.hex(anchor.zxid)) were purged"))
            }
            var values: [(zxid: Int64, bytes: [UInt8])] = []
            var entry = try cursor.get(MDB_SET_RANGE, key: start)
            while let current = entry, values.count < limit {
                values.append((try Self.zxid(current.key, path: path), current.value))
                entry = try cursor.get(MDB_NEXT)
            }
            return (values, previous?.zxid ?? anchor.zxid, previous?.crc ?? anchor.crc)
        }
        return try decodeChain(values, previousZxid: previousZxid, seed: seed)
    }

    // MARK: - Helpers shared by the extensions

    func assertWriterThread() {
        assert(stateLock.withLock { () -> Bool in
            let current = pthread_self()
            guard let writerThread else {
                writerThread = current
                return true
            }
            return pthread_equal(writerThread, current) != 0
        }, "LMDBTransactionLog writes must all come from one thread (the log writer thread)")
    }

    func put(_ transaction: OpaquePointer, _ database: MDB_dbi, key: [UInt8], value: [UInt8], flags: Int32) throws(LogError) {
        let code = withValue(key) { keyValue in
            withValue(value) { dataValue in mdb_put(transaction, database, &keyValue, &dataValue, UInt32(flags)) }
        }
        if code == MDB_KEYEXIST {
            throw LogError(kind: .outOfOrder, detail: "key \(key) is not after the log's last key (MDB_APPEND)")
        }
        try LMDBEnvironment.check(code, "mdb_put", environment.path)
    }

    static func zxid(_ key: [UInt8], path: String) throws(LogError) -> Int64 {
        guard let zxid = LogKey.zxid(key) else {
            throw LogError(kind: .io("txns holds a \(key.count)-byte key; Paddock writes 8-byte zxid keys"), detail: path)
        }
        return zxid
    }

    /// The zxid and stored CRC of an entry, without validating it (nil for a foreign key).
    static func chainLink(_ key: MDB_val, _ value: MDB_val) -> (zxid: Int64, crc: UInt32)? {
        guard let zxid = LogKey.zxid(copiedBytes(key)) else { return nil }
        let crc = value.mv_data.flatMap { storedCRC(UnsafeRawBufferPointer(start: $0, count: value.mv_size)) } ?? 0
        return (zxid, crc)
    }

    static func readMeta(_ transaction: OpaquePointer, _ database: MDB_dbi, _ key: [UInt8], path: String) throws(LogError) -> [UInt8]? {
        var value = MDB_val()
        let code = withValue(key) { keyValue in mdb_get(transaction, database, &keyValue, &value) }
        if code == MDB_NOTFOUND { return nil }
        try LMDBEnvironment.check(code, "mdb_get(meta)", path)
        return copiedBytes(value)
    }

    static func readAnchor(_ transaction: OpaquePointer, _ database: MDB_dbi, path: String) throws(LogError) -> Anchor {
        guard let bytes = try readMeta(transaction, database, anchorKey, path: path) else { return .none }
        guard bytes.count == 12 else {
            throw LogError(kind: .io("meta/anchor is \(bytes.count) bytes, expected 12"), detail: path)
        }
        let zxid = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let crc = bytes[8..<12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return Anchor(zxid: Int64(bitPattern: zxid), crc: crc)
    }

    static func anchorBytes(_ anchor: Anchor) -> [UInt8] {
        withUnsafeBytes(of: UInt64(bitPattern: anchor.zxid).bigEndian) { Array($0) }
            + withUnsafeBytes(of: anchor.crc.bigEndian) { Array($0) }
    }

    /// The chain position after the newest record (or the anchor): the writer's starting state.
    static func readState(_ transaction: OpaquePointer, _ txns: MDB_dbi, _ meta: MDB_dbi, path: String) throws(LogError) -> State {
        let anchor = try readAnchor(transaction, meta, path: path)
        let cursor = try LMDBCursor(transaction, txns, path: path)
        defer { cursor.close() }
        let first = try cursor.get(MDB_FIRST, { key, _ in copiedBytes(key) })
        let last = try cursor.get(MDB_LAST, { key, value in (copiedBytes(key), chainLink(key, value)?.crc ?? 0) })
        guard let first, let last else {
            return State(firstZxid: nil, lastZxid: anchor.zxid, lastCRC: anchor.crc, anchor: anchor)
        }
        return State(
            firstZxid: try zxid(first, path: path), lastZxid: try zxid(last.0, path: path),
            lastCRC: last.1, anchor: anchor)
    }

    /// Opens `txns` and `meta`, checks or writes `meta/format`, and reads the chain state.
    static func openDatabases(_ transaction: OpaquePointer, create: Bool, path: String) throws(LogError) -> (MDB_dbi, MDB_dbi, State) {
        var txns: MDB_dbi = 0
        var meta: MDB_dbi = 0
        let flags = UInt32(create ? MDB_CREATE : 0)
        let txnsCode = mdb_dbi_open(transaction, "txns", flags, &txns)
        let metaCode = mdb_dbi_open(transaction, "meta", flags, &meta)
        if !create && (txnsCode == MDB_NOTFOUND || metaCode == MDB_NOTFOUND) {
            throw LogError(kind: .io("no Paddock transaction log (databases txns/meta are missing)"), detail: path)
        }
        try LMDBEnvironment.check(txnsCode, "mdb_dbi_open(txns)", path)
        try LMDBEnvironment.check(metaCode, "mdb_dbi_open(meta)", path)
        if let format = try readMeta(transaction, meta, formatKey, path: path) {
            let version = format.count == 4 ? format.reduce(UInt32(0)) { $0 << 8 | UInt32($1) } : nil
            guard version == formatVersion else {
                let found = version.map { "\($0)" } ?? "\(format.count) bytes"
                throw LogError(kind: .io("unsupported log format \(found) in meta/format; this Paddock reads format \(formatVersion)"), detail: path)
            }
        } else {
            var statistics = MDB_stat()
            try LMDBEnvironment.check(mdb_stat(transaction, txns, &statistics), "mdb_stat(txns)", path)
            guard statistics.ms_entries == 0 else {
                throw LogError(kind: .io("txns holds \(statistics.ms_entries) records but meta/format is missing"), detail: path)
            }
            guard create else { throw LogError(kind: .io("meta/format is missing (log never initialised)"), detail: path) }
            try writeMeta(transaction, meta, formatKey, withUnsafeBytes(of: formatVersion.bigEndian) { Array($0) }, path: path)
            try writeMeta(transaction, meta, anchorKey, anchorBytes(.none), path: path)
        }
        return (txns, meta, try readState(transaction, txns, meta, path: path))
    }

    static func writeMeta(_ transaction: OpaquePointer, _ database: MDB_dbi, _ key: [UInt8], _ value: [UInt8], path: String) throws(LogError) {
        let code = withValue(key) { keyValue in
            withValue(value) { dataValue in mdb_put(transaction, database, &keyValue, &dataValue, 0) }
        }
        try LMDBEnvironment.check(code, "mdb_put(meta)", path)
    }
}
