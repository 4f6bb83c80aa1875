import CLMDB
import Glibc
import NIOCore
import ZKBase
import ZKFormat

/// The transaction log in LMDB (FORMAT.md section 2): database `txns` maps the zxid (8-byte
/// big-endian) to a log record; database `meta` holds `format` (uint32 2), `anchor` (zxid
/// uint64 + CRC32C uint32 of the newest purged record; 0/0 while nothing was purged) and
/// `journal` (the commit journal's current lap, uint64).
///
/// With the commit journal (FORMAT.md section 2a; writable logs with forceSync), `append` writes
/// one journal frame with one flush and returns; a checkpointer thread folds the journaled
/// records into LMDB in large commits off the acknowledgement path. Records not yet folded are
/// kept in memory (`tail`) and reads merge them, so readers see the log as appended.
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
    public static let formatVersion: UInt32 = 2
    /// Format 1 (no journal) is read, and upgraded when opened for writing.
    static let formatVersionsRead: Set<UInt32> = [1, 2]
    static let formatKey = Array("format".utf8)
    static let anchorKey = Array("anchor".utf8)
    static let journalKey = Array("journal".utf8)
    /// How many times a read-only open reads LMDB and the journal again when a live server
    /// started a new journal lap while it read them.
    static let readOnlyLapRereadsMax = 5

    public let environment: LMDBEnvironment
    let txnsDatabase: MDB_dbi
    let metaDatabase: MDB_dbi
    /// Guards `state`, `tail`, `tailBytes`, `tailSinceMs`, `foldFailure`, `journalUsedBytes`,
    /// `foldsCompleted` and `writerThread` (the checkpointer waits on `checkpointControl`).
    let stateLock = NSLockLike()
    var state: State
    private var writerThread: pthread_t?
    /// The commit journal (writable, synced logs), used by the writer thread only.
    let journal: Journal?
    /// Journaled records not yet folded into LMDB, oldest first (read-only opens: the
    /// journal's records past LMDB's last, as found at open).
    var tail = CircularBuffer<RawLogRecord>()
    var tailBytes = 0
    /// When the oldest record of `tail` was appended (monotonic ms).
    var tailSinceMs: Int64 = 0
    /// The checkpointer's failure: every later append reports it.
    var foldFailure: LogError?
    /// Held from taking a copy of `tail` until the copy is folded and removed from it.
    let foldLock = NSLockLike()
    /// Held for a whole append, so a purge on another thread reads a settled log.
    let appendLock = NSLockLike()
    /// Bytes of the journal's current lap (guarded by `stateLock`).
    var journalUsedBytes = 0
    var foldsCompleted = 0
    let checkpointControl = CheckpointControl()
    /// The format the log is in (a writable open upgrades format 1 to 2; a read-only one reads it as it is).
    public let storedFormatVersion: UInt32
    /// What the journal held at open (for `paddock data status` and tests).
    public private(set) var journalReport = JournalOpenReport()

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
    /// refusing an unknown format; then the commit journal: a writable log folds the journal's
    /// records past LMDB's last into LMDB and starts a new lap, a read-only one keeps them in
    /// memory.
    public convenience init(environment: LMDBEnvironment) throws(LogError) {
        try self.init(environment: environment, journalDevice: nil)
    }

    /// `journalDevice`: tests put a simulated disk in place of the journal file (or, read-only,
    /// a device that changes the data dir under the open).
    init(environment: LMDBEnvironment, journalDevice injected: (any JournalDevice)?) throws(LogError) {
        self.environment = environment
        let configuration = environment.configuration
        let readOnly = configuration.readOnly
        let opened: (MDB_dbi, MDB_dbi, State, UInt32, UInt64)
        if readOnly {
            opened = try environment.withReadTransaction(keepDatabaseHandles: true) { transaction throws(LogError) in
                try LMDBTransactionLog.openDatabases(transaction, create: false, path: environment.path)
            }
        } else {
            opened = try environment.withWriteTransaction(growingUpTo: configuration.mapSizeBytesMax) {
                transaction throws(LogError) in
                try LMDBTransactionLog.openDatabases(transaction, create: true, path: environment.path)
            }
        }
        let (format, lap): (UInt32, UInt64)
        (txnsDatabase, metaDatabase, state, format, lap) = opened
        // A lap is recorded (≥ 1) once a journal existed: from then on its file must be there.
        let journalFile = environment.path + "/" + FileJournalDevice.fileName
        if format >= 2 && lap > 0 && injected == nil && configuration.readsJournal && !PosixFile.exists(journalFile) {
            throw LogError(kind: .journalCorrupt("the log is format 2 and names journal lap \(lap), but its journal file \(journalFile) is missing"),
                           detail: environment.path)
        }
        let device: (any JournalDevice)?
        if configuration.journaled, let injected {
            device = injected
        } else if configuration.journaled {
            device = try FileJournalDevice.open(
                directory: environment.path, capacity: configuration.journalBytes, create: true, readOnly: false)
        } else if format >= 2 && configuration.readsJournal {
            // Not journaled now (read-only, or forceSync off): still read what the journal holds.
            if let injected {
                device = injected
            } else {
                device = try FileJournalDevice.open(directory: environment.path, capacity: 0, create: false, readOnly: true)
            }
        } else {
            device = nil
        }
        storedFormatVersion = readOnly ? format : Self.formatVersion
        var found: [RawLogRecord] = []
        var nextLap = lap + 1
        if let device, format >= 2 {
            var lap = lap
            var scan: JournalScan
            var rereads = 0
            while true {
                do throws(LogError) {
                    scan = try Journal.scan(
                        device, lapSequence: lap, salvage: configuration.salvagesDamagedJournal, keepingRecordsAfter: state.lastZxid)
                    break
                } catch {
                    // A tool reading next to a live server: the server may have folded everything
                    // and started a new lap between the read of meta/journal and the read of the
                    // journal, which then looks damaged at the old lap. If the lap moved, read
                    // LMDB's state and the lap again and scan again (bounded).
                    guard readOnly, rereads < Self.readOnlyLapRereadsMax else { throw error }
                    let (txns, meta) = (txnsDatabase, metaDatabase)
                    let (freshState, freshLap) = try environment.withReadTransaction { transaction throws(LogError) in
                        (try Self.readState(transaction, txns, meta, path: environment.path),
                         try Self.readJournalLap(transaction, meta, path: environment.path))
                    }
                    guard freshLap != lap else { throw error }
                    rereads += 1
                    lap = freshLap
                    state = freshState
                }
            }
            found = try Self.recordsPastLog(scan, state: state, path: environment.path)
            journalReport = JournalOpenReport(
                present: true, lapSequence: lap, frames: scan.frames.count, recordsPastLog: found.count, tornAt: scan.tornAt,
                capacityBytes: device.capacity, damage: scan.damage)
            nextLap = scan.nextLap
            if configuration.journaled {
                journal = Journal(device: device, continuing: scan)
            } else {
                device.close()
                journal = nil
            }
        } else if let device {
            // Upgrading a format 1 log: the journal was just created and holds nothing.
            journal = Journal(device: device, continuing: JournalScan(frames: [], endOffset: 0, nextSequence: lap, lastCRC: 0, tornAt: nil))
            journalReport = JournalOpenReport(present: true, lapSequence: lap, capacityBytes: device.capacity)
        } else {
            journal = nil
        }
        if !readOnly && (journal != nil || journalReport.present) {
            // Fold what the journal holds past LMDB and start a new lap in the same commit: the
            // journal's frames are then all stale and every record is in LMDB, durably.
            try foldRecovered(found, journal: journal, lap: nextLap)
            if journal != nil && configuration.backgroundFolds { startCheckpointer() }
        } else if !found.isEmpty {
            tail.append(contentsOf: found)
            tailBytes = found.reduce(0) { $0 + $1.bytes.count }
            state.lastZxid = found[found.count - 1].zxid
            state.lastCRC = storedCRC(found[found.count - 1].bytes)
            if state.firstZxid == nil { state.firstZxid = found[0].zxid }
        }
    }

    /// A log dropped without `close` (a crash in tests) stops its checkpointer; what was not
    /// folded is still in the journal.
    deinit {
        _ = checkpointControl.stop()
    }

    /// Folds what the journal holds into LMDB, closes the journal and the environment. The log
    /// must not be used afterwards.
    public func close() {
        stopCheckpointer()
        journal?.device.close()
        environment.close()
    }

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
        try appendLock.withLock { () throws(LogError) in try appendHoldingLock(records) }
    }

    private func appendHoldingLock(_ records: [LoggedTxn]) throws(LogError) {
        let (lastZxid, lastCRC, failure) = stateLock.withLock { (state.lastZxid, state.lastCRC, foldFailure) }
        if let failure { throw failure }
        let batch = try EncodedBatch(records, lastZxid: lastZxid, lastCRC: lastCRC)
        if let journal {
            try appendJournaled(batch, journal: journal)
            return
        }
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
        let merged = try mergedRecords(after: zxid, limit: limit)
        if merged.purged {
            throw LogError(kind: .missingRange(
                "records after \(ZxidMath.hex(zxid)) through \(ZxidMath.hex(merged.previous.zxid)) were purged"))
        }
        return try decodeChain(
            merged.records.map { (zxid: $0.zxid, bytes: $0.bytes) }, previousZxid: merged.previous.zxid, seed: merged.previous.crc)
    }

    /// LMDB's records after `zxid` (up to `limit`), the chain position before them, the keys
    /// that are not zxids; in one short read transaction.
    func lmdbRecords(after zxid: Int64, limit: Int) throws(LogError) -> (previous: LogChainLink, records: [RawLogRecord], foreignKeys: Int, purged: Bool) {
        let path = environment.path
        return try environment.withReadTransaction { transaction throws(LogError) in
            let anchor = try Self.readAnchor(transaction, metaDatabase, path: path)
            let cursor = try LMDBCursor(transaction, txnsDatabase, path: path)
            defer { cursor.close() }
            let start = LogKey.bytes(zxid >= Int64.max ? Int64.max : max(0, zxid + 1))
            var previous = LogChainLink(zxid: anchor.zxid, crc: anchor.crc)
            let found = try cursor.get(MDB_SET_RANGE, key: start, { _, _ in true }) != nil
            let before = try cursor.get(found ? MDB_PREV : MDB_LAST, { key, value in Self.chainLink(key, value) }) ?? nil
            if let before { previous = LogChainLink(zxid: before.zxid, crc: before.crc) }
            var records: [RawLogRecord] = []
            var foreignKeys = 0
            var entry = try cursor.get(MDB_SET_RANGE, key: start)
            while let current = entry, records.count < limit {
                if let key = LogKey.zxid(current.key) {
                    records.append(RawLogRecord(zxid: key, bytes: current.value))
                } else {
                    foreignKeys += 1
                }
                entry = try cursor.get(MDB_NEXT)
            }
            return (previous, records, foreignKeys, before == nil && zxid < anchor.zxid)
        }
    }

    /// The unfolded records after `zxid` (up to `limit`), and the unfolded record at or before
    /// `zxid` if there is one. Records only leave `tail` once LMDB holds them, so a copy taken
    /// before an LMDB read, merged with it, misses nothing.
    func tailRecords(after zxid: Int64, limit: Int) -> (previous: RawLogRecord?, records: [RawLogRecord]) {
        stateLock.withLock {
            guard !tail.isEmpty, tail[tail.index(before: tail.endIndex)].zxid > zxid || tail[tail.startIndex].zxid <= zxid else {
                return (nil, [])
            }
            // Binary search: the first record with zxid > `zxid`.
            var low = 0
            var high = tail.count
            while low < high {
                let middle = (low + high) / 2
                if tail[tail.index(tail.startIndex, offsetBy: middle)].zxid > zxid { high = middle } else { low = middle + 1 }
            }
            let previous = low > 0 ? tail[tail.index(tail.startIndex, offsetBy: low - 1)] : nil
            var records: [RawLogRecord] = []
            var index = low
            while index < tail.count && records.count < limit {
                records.append(tail[tail.index(tail.startIndex, offsetBy: index)])
                index += 1
            }
            return (previous, records)
        }
    }

    // MARK: - Helpers shared by the extensions
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

    /// Opens `txns` and `meta`, checks or writes `meta/format` (a writable open upgrades
    /// format 1 to 2), and reads the chain state and the journal's lap.
    static func openDatabases(_ transaction: OpaquePointer, create: Bool, path: String) throws(LogError) -> (MDB_dbi, MDB_dbi, State, UInt32, UInt64) {
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
        var format = formatVersion
        if let stored = try readMeta(transaction, meta, formatKey, path: path) {
            let version = stored.count == 4 ? stored.reduce(UInt32(0)) { $0 << 8 | UInt32($1) } : nil
            guard let version, formatVersionsRead.contains(version) else {
                let found = version.map { "\($0)" } ?? "\(stored.count) bytes"
                throw LogError(kind: .io("unsupported log format \(found) in meta/format; this Paddock reads formats \(formatVersionsRead.sorted())"), detail: path)
            }
            format = version
            if create && version < formatVersion {
                try writeMeta(transaction, meta, formatKey, withUnsafeBytes(of: formatVersion.bigEndian) { Array($0) }, path: path)
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
        let lap = try readJournalLap(transaction, meta, path: path)
        return (txns, meta, try readState(transaction, txns, meta, path: path), format, lap)
    }

    static func readJournalLap(_ transaction: OpaquePointer, _ database: MDB_dbi, path: String) throws(LogError) -> UInt64 {
        guard let bytes = try readMeta(transaction, database, journalKey, path: path) else { return 0 }
        guard bytes.count == 8 else { throw LogError(kind: .io("meta/journal is \(bytes.count) bytes, expected 8"), detail: path) }
        return bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    static func writeMeta(_ transaction: OpaquePointer, _ database: MDB_dbi, _ key: [UInt8], _ value: [UInt8], path: String) throws(LogError) {
        let code = withValue(key) { keyValue in
            withValue(value) { dataValue in mdb_put(transaction, database, &keyValue, &dataValue, 0) }
        }
        try LMDBEnvironment.check(code, "mdb_put(meta)", path)
    }
}
