import ZKBase
import CLMDB
import Glibc
import NIOConcurrencyHelpers
import ZKFormat

/// Settings of the LMDB environment that holds the transaction log (FORMAT.md section 2).
public struct LMDBConfiguration: Sendable, Equatable {
    /// false opens with MDB_NOSYNC: a process crash loses nothing committed, an OS crash may
    /// lose the newest commits (integrity is kept on file systems that keep write order).
    public var forceSync: Bool
    /// The map size at open (the map is address space, not disk; the file grows as used).
    public var mapSizeBytesInitial: Int
    /// The quota: appends that need a larger map fail with `LogError.Kind.full`.
    public var mapSizeBytesMax: Int
    /// Extra map a purge or truncate may use beyond the quota, so a full log can still purge.
    public var maintenanceHeadroomBytes: Int
    /// Slots in LMDB's reader table (concurrent read transactions across all processes).
    public var readersMax: Int
    /// MDB_RDONLY: for tools that read next to a live server. Every write is then refused.
    public var readOnly: Bool
    /// Size of the commit journal (FORMAT.md section 2a) a writable, synced log keeps in front of
    /// LMDB; 0 turns it off (every commit then makes LMDB's two ordered flushes).
    public var journalBytes: Int
    /// A batch whose journal frame would be at least this large goes straight to LMDB (two
    /// flushes, but its bytes are written once): under heavy load batches are large and the
    /// device's bytes matter more than one flush.
    public var journalBypassBytes: Int
    /// The checkpointer folds journaled records into LMDB once this many bytes wait...
    public var foldBytes: Int
    /// ...or once the oldest has waited this long.
    public var foldDelayMs: Int

    /// false: a read-only open looks at LMDB alone (a compacted copy made next to the log, whose
    /// journal stays where it is).
    public var readsJournal = true
    /// `paddock data repair` only: a damaged journal (a valid frame after a damaged one) is
    /// read up to the damage instead of refused; what follows the damage is dropped.
    public var salvagesDamagedJournal = false
    /// Bytes kept allocated ahead of LMDB's high-water mark (posix_fallocate; 0: none).
    public var preallocationBytes = 16 << 20

    /// Whether appends go through the commit journal.
    public var journaled: Bool { forceSync && journalBytes > 0 && !readOnly }

    /// Tests: no checkpointer thread (folds happen only when called), for deterministic crash points.
    var backgroundFolds = true
    /// Negative control for the crash tests only: MDB_NOMETASYNC without the journal, which
    /// loses acknowledged commits on power loss. Never set outside tests.
    var unsafeMetaSyncWithoutJournal = false
    /// Whether every commit is durable when it returns (meta page included).
    var commitsAreDurable: Bool { forceSync && !journaled && !unsafeMetaSyncWithoutJournal }

    public init(
        forceSync: Bool = true,
        mapSizeBytesInitial: Int = 64 << 20,
        mapSizeBytesMax: Int = 64 << 30,
        maintenanceHeadroomBytes: Int? = nil,
        readersMax: Int = 126,
        readOnly: Bool = false,
        journalBytes: Int = 64 << 20,
        journalBypassBytes: Int = 1 << 20,
        foldBytes: Int = 4 << 20,
        foldDelayMs: Int = 1000
    ) {
        precondition(journalBytes == 0 || (journalBytes >= 2 * JournalFrame.alignment && journalBytes % JournalFrame.alignment == 0),
                     "journalBytes is 0 or a multiple of \(JournalFrame.alignment) of at least two frames")
        self.journalBytes = journalBytes
        self.journalBypassBytes = journalBypassBytes
        self.foldBytes = foldBytes
        self.foldDelayMs = foldDelayMs
        self.forceSync = forceSync
        self.mapSizeBytesInitial = mapSizeBytesInitial
        self.mapSizeBytesMax = mapSizeBytesMax
        self.maintenanceHeadroomBytes = maintenanceHeadroomBytes ?? min(64 << 20, max(256 << 10, mapSizeBytesMax / 16))
        self.readersMax = readersMax
        self.readOnly = readOnly
    }
}

/// One open LMDB environment (`data.mdb` + `lock.mdb` in a directory), opened with MDB_NOTLS.
///
/// Threading rules (STORAGE-NOTES.md section 4):
/// - Every write transaction runs on the log's one writer thread, begun and committed inside one
///   synchronous call (`withWriteTransaction`), never across an `await`.
/// - Read transactions may run on any thread. They hold a shared lock for their whole life, so
///   they must be short: copy values out and end the transaction (bulk reads go in chunks).
/// - Growing the map (`mdb_env_set_mapsize`) needs no transaction active in this process. Only the
///   writer thread grows it, between its own write transactions, and it waits for readers by
///   taking the lock exclusively. So a long reader delays the writer's growth, never breaks it.
/// - Open each environment once per process (LMDB's rule), and never use it after fork().
public final class LMDBEnvironment: @unchecked Sendable {
    public let path: String
    public let configuration: LMDBConfiguration
    let environment: OpaquePointer
    /// Shared by read transactions, exclusive for resize and close.
    private let resizeLock = ReadWriteLock()
    /// Held for a whole write transaction, growth included: the log's writer thread and its
    /// checkpointer both write, and a resize needs no transaction active in the process.
    private let writeLock = NSLockLike()
    /// Tests: called after every commit (with whether the commit is durable when it returns) and
    /// after every forced sync (true), so a crash test can keep the states a crash may leave.
    nonisolated(unsafe) var commitObserver: ((_ durable: Bool) -> Void)?
    /// Tests: an environment opened in a task that set this gets it as its `commitObserver` (with
    /// its path), for crash tests of code that opens its own environment (`paddock data repair`).
    @TaskLocal static var commitObserverForTests: (@Sendable (_ path: String, _ durable: Bool) -> Void)?
    /// Guarded by `resizeLock`: true after close, or after a failed remap left no usable map.
    private var unusableReason: String?
    let pageBytes: Int
    /// Writer thread only: the high-water mark at the last `releaseMappedPages`.
    var mappedPagesReleasedBelow = 0
    /// Committing thread only: when `clearStaleReaders` last ran, and the slots it cleared.
    var staleReadersCheckedMs: Int64 = 0
    private let staleReadersClearedTotal = NIOLockedValueBox(0)
    /// Reader slots of dead processes cleared since open (any thread may read it: `mntr`).
    public var staleReadersCleared: Int { staleReadersClearedTotal.withLockedValue { $0 } }

    /// Opens (creating when allowed) the environment in the existing directory `path`.
    public init(path: String, configuration: LMDBConfiguration = .init()) throws(LogError) {
        precondition(configuration.mapSizeBytesInitial > 0 && configuration.mapSizeBytesMax > 0, "map sizes must be positive")
        self.path = path
        self.configuration = configuration
        self.pageBytes = max(4096, sysconf(Int32(_SC_PAGESIZE)))
        environment = try Self.open(path: path, configuration: configuration, pageBytes: pageBytes)
        if let observer = Self.commitObserverForTests { commitObserver = { durable in observer(path, durable) } }
    }

    /// Creates, configures and opens the LMDB environment; closes it again on any failure.
    /// (Kept out of init: a throw after every property is set would run deinit, closing twice.)
    private static func open(path: String, configuration: LMDBConfiguration, pageBytes: Int) throws(LogError) -> OpaquePointer {
        var created: OpaquePointer?
        try check(mdb_env_create(&created), "mdb_env_create", path)
        guard let pointer = created else { throw LogError(kind: .io("mdb_env_create returned no environment"), detail: path) }
        do throws(LogError) {
            try check(mdb_env_set_maxdbs(pointer, 4), "mdb_env_set_maxdbs", path)
            try check(mdb_env_set_maxreaders(pointer, UInt32(configuration.readersMax)), "mdb_env_set_maxreaders", path)
            let initial = min(configuration.mapSizeBytesInitial, configuration.mapSizeBytesMax)
            try check(mdb_env_set_mapsize(pointer, max(pageBytes, initial / pageBytes * pageBytes)), "mdb_env_set_mapsize", path)
            var flags = MDB_NOTLS
            if !configuration.forceSync { flags |= MDB_NOSYNC }
            // The journal holds every record until a forced sync covers LMDB's meta page, so a
            // fold's commit need not flush the meta page (its data pages are still flushed, so
            // a crash can only undo folds, never tear LMDB).
            if configuration.journaled || configuration.unsafeMetaSyncWithoutJournal { flags |= MDB_NOMETASYNC }
            if configuration.readOnly { flags |= MDB_RDONLY }
            let creating = !configuration.readOnly && access(path + "/data.mdb", F_OK) != 0
            try check(mdb_env_open(pointer, path, UInt32(flags), 0o644), "mdb_env_open", path)
            var dead: Int32 = 0
            try check(mdb_reader_check(pointer, &dead), "mdb_reader_check", path)
            if creating {
                // The new data.mdb and lock.mdb are directory entries: make them durable too.
                do {
                    try PosixFile.syncDirectory(path, reportingAs: path + "/data.mdb")
                } catch {
                    throw LogError(kind: .io("\(error)"), detail: path)
                }
            }
            return pointer
        } catch {
            mdb_env_close(pointer)
            throw error
        }
    }

    deinit { close() }

    /// Closes the environment (idempotent); waits for running read transactions. Calls after
    /// this fail with `.io`.
    public func close() {
        resizeLock.withWriteLock {
            guard unusableReason != "closed" else { return }
            unusableReason = "closed"
            mdb_env_close(environment)
        }
    }

    /// The current map size in bytes.
    public var mapSizeBytes: Int {
        resizeLock.withReadLock {
            var info = MDB_envinfo()
            return unusableReason == nil && mdb_env_info(environment, &info) == 0 ? info.me_mapsize : 0
        }
    }

    /// The size of `data.mdb` on disk (bytes in use up to the high-water mark; never shrinks).
    public var fileSizeBytes: Int {
        var info = stat()
        return stat(path + "/data.mdb", &info) == 0 ? Int(info.st_size) : 0
    }

    // MARK: - Transactions

    /// Runs `body` in a read transaction (MDB_RDONLY) and aborts it afterwards (commits it with
    /// `keepDatabaseHandles`, which keeps handles opened in it). Values seen in `body` point
    /// into the map: copy them before returning.
    /// Runs `body` inside a read transaction, holding its reader slot (and LMDB's view of the
    /// log as it was at the start) until `body` returns: what a tool reading a live log holds.
    public func whileHoldingReadTransaction(_ body: () -> Void) throws(LogError) {
        try withReadTransaction { _ in body() }
    }

    func withReadTransaction<T>(
        keepDatabaseHandles: Bool = false, _ body: (OpaquePointer) throws(LogError) -> T
    ) throws(LogError) -> T {
        var resized = false
        while true {
            let outcome = try resizeLock.withReadLock { () throws(LogError) -> T? in
                if let unusableReason { throw LogError(kind: .io("environment \(unusableReason)"), detail: path) }
                var transaction: OpaquePointer?
                let code = mdb_txn_begin(environment, nil, UInt32(MDB_RDONLY), &transaction)
                if code == MDB_MAP_RESIZED && !resized { return nil }
                try Self.check(code, "mdb_txn_begin (read)", path)
                let result: T
                do throws(LogError) {
                    result = try body(transaction!)
                } catch {
                    mdb_txn_abort(transaction)
                    throw error
                }
                if keepDatabaseHandles {
                    try Self.check(mdb_txn_commit(transaction), "mdb_txn_commit (read)", path)
                } else {
                    mdb_txn_abort(transaction)
                }
                return result
            }
            if let outcome { return outcome }
            // Another process grew the map: adopt its size (needs no transaction active here).
            resized = true
            try resizeLock.withWriteLock { () throws(LogError) in
                try Self.check(mdb_env_set_mapsize(environment, 0), "mdb_env_set_mapsize (adopt)", path)
            }
        }
    }

    /// Runs `body` in a write transaction and commits it; on any error the transaction is
    /// aborted and nothing is written. On MDB_MAP_FULL the map grows (doubling, up to `limit`)
    /// and `body` runs again from scratch, so it must be repeatable. Call only on the writer thread.
    func withWriteTransaction<T>(
        growingUpTo limit: Int, _ body: (OpaquePointer) throws(LogError) -> T
    ) throws(LogError) -> T {
        precondition(!configuration.readOnly, "write transaction on a read-only LMDB environment")
        return try writeLock.withLock { () throws(LogError) -> T in
            while true {
                do throws(LogError) {
                    return try attemptWrite(body)
                } catch {
                    guard error.code == MDB_MAP_FULL else { throw error }
                    try grow(upTo: limit, after: error)
                }
            }
        }
    }

    /// Clears reader slots left by processes that died mid-read (a tool killed while reading):
    /// such a slot pins an old snapshot, so LMDB could never reuse the pages freed since. Checked
    /// at open and, at most once a second, by the committing thread.
    func clearStaleReaders() {
        let now = Recovery.monotonicMs()
        guard now - staleReadersCheckedMs >= 1000 else { return }
        staleReadersCheckedMs = now
        var dead: Int32 = 0
        _ = resizeLock.withReadLock { unusableReason == nil ? mdb_reader_check(environment, &dead) : 0 }
        if dead > 0 { staleReadersClearedTotal.withLockedValue { $0 += Int(dead) } }
    }

    /// Makes every committed transaction durable, meta page included (mdb_env_sync, forced).
    func syncDurably() throws(LogError) {
        try resizeLock.withReadLock { () throws(LogError) in
            if let unusableReason { throw LogError(kind: .io("environment \(unusableReason)"), detail: path) }
            try Self.check(mdb_env_sync(environment, 1), "mdb_env_sync", path)
        }
        commitObserver?(true)
    }

    private func attemptWrite<T>(_ body: (OpaquePointer) throws(LogError) -> T) throws(LogError) -> T {
        if let unusableReason { throw LogError(kind: .io("environment \(unusableReason)"), detail: path) }
        var transaction: OpaquePointer?
        var code = mdb_txn_begin(environment, nil, 0, &transaction)
        if code == MDB_MAP_RESIZED {
            try resizeLock.withWriteLock { () throws(LogError) in
                try Self.check(mdb_env_set_mapsize(environment, 0), "mdb_env_set_mapsize (adopt)", path)
            }
            code = mdb_txn_begin(environment, nil, 0, &transaction)
        }
        try Self.check(code, "mdb_txn_begin (write)", path)
        let result: T
        do {
            result = try body(transaction!)
        } catch {
            mdb_txn_abort(transaction)
            throw error
        }
        // mdb_txn_commit frees the transaction on failure too: no abort after it.
        try Self.check(mdb_txn_commit(transaction), "mdb_txn_commit", path)
        commitObserver?(configuration.commitsAreDurable)
        return result
    }

    /// Doubles the map, up to `limit`; `.full` when it is already there or the remap fails.
    private func grow(upTo limit: Int, after failure: LogError) throws(LogError) {
        let current = mapSizeBytes
        let target = roundDown(min(limit, max(current * 2, current + pageBytes)))
        guard target > current else {
            throw LogError(
                kind: .full,
                detail: "map size limit of \(limit) bytes reached (map \(current) bytes, data.mdb \(fileSizeBytes) bytes; "
                    + "raise mapSizeBytesMax or purge) [\(failure.detail)]",
                code: nil)
        }
        try resize(to: target)
    }

    /// Sets the map size from outside any write transaction (maintenance giving back its
    /// headroom): waits for a write transaction of another thread (the checkpointer's fold) to
    /// end first, since LMDB refuses to remap under one.
    func resizeBetweenWrites(to requestedBytes: Int) throws(LogError) {
        try writeLock.withLock { () throws(LogError) in try resize(to: requestedBytes) }
    }

    /// Sets the map size; shrinking stops at the pages in use (LMDB rounds up silently). Inside
    /// a write transaction (growing it) or under `writeLock` only.
    func resize(to requestedBytes: Int) throws(LogError) {
        let bytes = roundDown(requestedBytes)
        try resizeLock.withWriteLock { () throws(LogError) in
            if let unusableReason { throw LogError(kind: .io("environment \(unusableReason)"), detail: path) }
            let code = mdb_env_set_mapsize(environment, bytes)
            guard code == 0 else {
                // EINVAL: a write transaction of this environment is open, and LMDB refused
                // before touching the map. Any other failure comes after it unmapped the old
                // map and could not map the new one: nothing works now.
                if code != EINVAL { unusableReason = "unusable after a failed map resize to \(bytes) bytes (reopen it)" }
                throw LogError(kind: .full, detail: Self.describe(code, "mdb_env_set_mapsize(\(bytes))", path), code: code)
            }
        }
    }

    private func roundDown(_ bytes: Int) -> Int { max(pageBytes, bytes / pageBytes * pageBytes) }

    // MARK: - Errors

    /// Throws the LogError for an LMDB return code (0 = success).
    static func check(_ code: Int32, _ operation: String, _ path: String) throws(LogError) {
        guard code != 0 else { return }
        throw error(code, operation, path)
    }

    static func error(_ code: Int32, _ operation: String, _ path: String) -> LogError {
        let detail = describe(code, operation, path)
        switch code {
        case MDB_MAP_FULL, ENOSPC, EDQUOT: return LogError(kind: .full, detail: detail, code: code)
        default: return LogError(kind: .io(detail), detail: "", code: code)
        }
    }

    static func describe(_ code: Int32, _ operation: String, _ path: String) -> String {
        "\(operation) in \(path): \(String(cString: mdb_strerror(code))) (code \(code))"
    }
}
