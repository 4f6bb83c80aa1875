import CLMDB
import Glibc
import ZKBase
import ZKFormat

/// What the commit journal held when the log was opened.
public struct JournalOpenReport: Sendable, Equatable {
    public var present = false
    /// The lap `meta/journal` named.
    public var lapSequence: UInt64 = 0
    /// Valid frames of that lap.
    public var frames = 0
    /// Records those frames held past LMDB's last record (folded at a writable open).
    public var recordsPastLog = 0
    /// Where a torn frame ended the lap (the last write before a crash), if one did.
    public var tornAt: Int?
    public var capacityBytes = 0
    /// Damage a salvaging open read past (`salvagesDamagedJournal`): frames after it were dropped.
    public var damage: String?
}

/// The commit journal in front of LMDB (FORMAT.md section 2a): the append path, the
/// checkpointer that folds journaled records into LMDB, and laps.
extension LMDBTransactionLog {
    /// The journal's records past LMDB's last record, checked: they must continue LMDB's chain
    /// (zxid continuity and CRCs). A lap that does not continue LMDB is damage.
    static func recordsPastLog(_ scan: JournalScan, state: State, path: String) throws(LogError) -> [RawLogRecord] {
        let past = scan.frames.flatMap(\.records).filter { $0.zxid > state.lastZxid }
        guard !past.isEmpty else { return [] }
        do {
            _ = try decodeChain(past.map { (zxid: $0.zxid, bytes: $0.bytes) }, previousZxid: state.lastZxid, seed: state.lastCRC)
        } catch {
            throw LogError(kind: .journalCorrupt(
                "its records from \(ZxidMath.hex(past[0].zxid)) do not continue the log after \(ZxidMath.hex(state.lastZxid)): \(error)"),
                detail: path)
        }
        return past
    }

    /// At a writable open: folds `found` into LMDB and records lap `sequence` in the same
    /// commit, makes it durable, and starts the lap at offset 0.
    func foldRecovered(_ found: [RawLogRecord], journal: Journal?, lap sequence: UInt64) throws(LogError) {
        try environment.withWriteTransaction(growingUpTo: environment.configuration.mapSizeBytesMax) { transaction throws(LogError) in
            for record in found {
                try put(transaction, txnsDatabase, key: LogKey.bytes(record.zxid), value: record.bytes, flags: MDB_APPEND)
            }
            try Self.writeMeta(transaction, metaDatabase, Self.journalKey, Self.lapBytes(sequence), path: environment.path)
        }
        if environment.configuration.forceSync { try environment.syncDurably() }
        journal?.startLap(sequence)
        if let last = found.last {
            state.lastZxid = last.zxid
            state.lastCRC = storedCRC(last.bytes)
            if state.firstZxid == nil { state.firstZxid = found[0].zxid }
        }
    }

    static func lapBytes(_ sequence: UInt64) -> [UInt8] {
        withUnsafeBytes(of: sequence.bigEndian) { Array($0) }
    }

    // MARK: - Append

    /// One journal frame (one flush), unless the batch is large (then straight to LMDB).
    func appendJournaled(_ batch: EncodedBatch, journal: Journal) throws(LogError) {
        let configuration = environment.configuration
        let frameBytes = JournalFrame.frameBytes(payloadBytes: JournalFrame.payloadBytes(batch.entries))
        if frameBytes >= configuration.journalBypassBytes || frameBytes > journal.capacity {
            try appendBypassingJournal(batch)
            return
        }
        if frameBytes > journal.freeBytes { try startNewLap(journal) }
        try journal.append(batch.entries)
        let now = Recovery.monotonicMs()
        stateLock.withLock {
            state.lastZxid = batch.entries[batch.entries.count - 1].zxid
            state.lastCRC = batch.lastCRC
            if state.firstZxid == nil { state.firstZxid = batch.entries[0].zxid }
            if tail.isEmpty { tailSinceMs = now }
            for entry in batch.entries {
                tail.append(RawLogRecord(zxid: entry.zxid, bytes: entry.bytes))
                tailBytes += entry.bytes.count
            }
            journalUsedBytes = journal.writeOffset
        }
        checkpointControl.wake()
    }

    /// Folds what waits, then commits `batch` to LMDB and forces LMDB durable (meta page too).
    private func appendBypassingJournal(_ batch: EncodedBatch) throws(LogError) {
        try foldLock.withLock { () throws(LogError) in
            try foldHoldingLock()
            try environment.withWriteTransaction(growingUpTo: environment.configuration.mapSizeBytesMax) { transaction throws(LogError) in
                for entry in batch.entries {
                    try put(transaction, txnsDatabase, key: LogKey.bytes(entry.zxid), value: entry.bytes, flags: MDB_APPEND)
                }
            }
            try environment.syncDurably()
            environment.preallocateAhead()
        }
        stateLock.withLock {
            state.lastZxid = batch.entries[batch.entries.count - 1].zxid
            state.lastCRC = batch.lastCRC
            if state.firstZxid == nil { state.firstZxid = batch.entries[0].zxid }
        }
    }

    /// The journal is full: fold everything, record the next lap in LMDB, force LMDB durable,
    /// then write from offset 0 again. Until that sync, the old lap's frames are still needed.
    private func startNewLap(_ journal: Journal) throws(LogError) {
        try foldLock.withLock { () throws(LogError) in
            try foldHoldingLock()
            let sequence = journal.nextSequence + 1
            try environment.withWriteTransaction(growingUpTo: environment.configuration.mapSizeBytesMax) { transaction throws(LogError) in
                try Self.writeMeta(transaction, metaDatabase, Self.journalKey, Self.lapBytes(sequence), path: environment.path)
            }
            try environment.syncDurably()
            journal.startLap(sequence)
        }
        stateLock.withLock { journalUsedBytes = 0 }
    }

    /// Runs a maintenance write (truncate, purge, reset, anchor) with nothing waiting to fold.
    /// `restartsLap`: the write removes or replaces records, so the journal must never replay
    /// the old ones: the same commit records a new lap, LMDB is forced durable, and the journal
    /// starts over. Writer thread.
    ///
    /// A purge (`restartsLap` false) runs before the fold instead: it is how a log too full to
    /// fold makes room, and it leaves the records after LMDB's last alone.
    func maintenanceTransaction<T>(
        restartsLap: Bool, growingUpTo limit: Int, _ body: (OpaquePointer) throws(LogError) -> T
    ) throws(LogError) -> T {
        guard let journal else { return try environment.withWriteTransaction(growingUpTo: limit, body) }
        if !restartsLap {
            return try foldLock.withLock { () throws(LogError) -> T in
                var result = try environment.withWriteTransaction(growingUpTo: limit, body)
                do throws(LogError) {
                    // The fold may need the pages the purge freed: one more commit makes them
                    // reusable. Then the purge once more over what the fold brought in (it is
                    // idempotent).
                    try releaseFreedPages()
                    if try foldHoldingLock() > 0 { result = try environment.withWriteTransaction(growingUpTo: limit, body) }
                } catch {
                    recordFoldFailure(error)
                }
                return result
            }
        }
        let result = try foldLock.withLock { () throws(LogError) -> T in
            try foldHoldingLock()
            let sequence = journal.nextSequence + 1
            let result = try environment.withWriteTransaction(growingUpTo: limit) { transaction throws(LogError) -> T in
                let result = try body(transaction)
                if restartsLap {
                    try Self.writeMeta(transaction, metaDatabase, Self.journalKey, Self.lapBytes(sequence), path: environment.path)
                }
                return result
            }
            if restartsLap {
                try environment.syncDurably()
                journal.startLap(sequence)
            }
            return result
        }
        if restartsLap { stateLock.withLock { journalUsedBytes = 0 } }
        return result
    }

    // MARK: - Folding

    /// Folds every record waiting in `tail` into LMDB in one commit (its data pages flushed; its
    /// meta page reaches the disk with a later commit or sync, which is why the journal keeps
    /// the records until a lap ends).
    func fold() throws(LogError) {
        _ = try foldLock.withLock { () throws(LogError) in try foldHoldingLock() }
    }

    /// Returns how many records it folded.
    @discardableResult
    private func foldHoldingLock() throws(LogError) -> Int {
        let pending = stateLock.withLock { Array(tail) }
        guard !pending.isEmpty else { return 0 }
        try environment.withWriteTransaction(growingUpTo: environment.configuration.mapSizeBytesMax) { transaction throws(LogError) in
            for record in pending {
                try put(transaction, txnsDatabase, key: LogKey.bytes(record.zxid), value: record.bytes, flags: MDB_APPEND)
            }
        }
        let now = Recovery.monotonicMs()
        stateLock.withLock {
            tail.removeFirst(pending.count)
            tailBytes -= pending.reduce(0) { $0 + $1.bytes.count }
            if !tail.isEmpty { tailSinceMs = now }
            foldsCompleted += 1
            foldFailure = nil
        }
        environment.preallocateAhead()
        return pending.count
    }

    /// Milliseconds until the next fold is due (0: now), nil while nothing waits.
    func foldDue(nowMs: Int64) -> Int? {
        stateLock.withLock {
            guard !tail.isEmpty else { return nil }
            let configuration = environment.configuration
            // A fold must fit the map quota (and be well inside it: a log near its quota can
            // then still fold what it journaled, and purge when it cannot).
            let foldBytes = min(configuration.foldBytes, configuration.mapSizeBytesMax / 16)
            if tailBytes >= foldBytes || journalUsedBytes >= configuration.journalBytes / 2 { return 0 }
            let waited = Int(nowMs - tailSinceMs)
            return max(0, configuration.foldDelayMs - waited)
        }
    }

    /// Records waiting to be folded, and folds done since open (for statistics and tests).
    public var journalStatistics: (unfoldedRecords: Int, unfoldedBytes: Int, folds: Int) {
        stateLock.withLock { (tail.count, tailBytes, foldsCompleted) }
    }

    // MARK: - The checkpointer thread

    func startCheckpointer() {
        let control = checkpointControl
        let body = CheckpointerBody(log: self, control: control)
        let retained = Unmanaged.passRetained(body).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            let body = Unmanaged<CheckpointerBody>.fromOpaque(raw!).takeRetainedValue()
            body.run()
            return nil
        }, retained)
        precondition(created == 0, "cannot start the log's checkpointer thread (pthread_create \(created))")
        control.lock.withLock { control.thread = thread }
    }

    /// Stops the checkpointer, then folds what is left, forces LMDB durable and starts a new lap
    /// (so the journal holds nothing LMDB lacks). Errors are left to the next open's recovery.
    func stopCheckpointer() {
        if let thread = checkpointControl.stop(), pthread_equal(thread, pthread_self()) == 0 { pthread_join(thread, nil) }
        guard journal != nil, !environment.configuration.readOnly else { return }
        do {
            // Fold, and start a new lap so the next open has nothing to read in the journal.
            try maintenanceTransaction(restartsLap: true, growingUpTo: environment.configuration.mapSizeBytesMax) { _ throws(LogError) in }
        } catch {
            stateLock.withLock { if foldFailure == nil { foldFailure = error } }
        }
    }

    func recordFoldFailure(_ error: LogError) {
        stateLock.withLock { if foldFailure == nil { foldFailure = error } }
    }
}

/// Shared by a journaled log and its checkpointer thread, which holds the log only weakly (a
/// log dropped without `close` stops its thread; the journal still holds what was not folded).
final class CheckpointControl: @unchecked Sendable {
    let lock = NSLockLike()
    /// Guarded by `lock`.
    var stopped = false
    var wakeups = 0
    var thread: pthread_t?

    /// Tells the checkpointer to exit; returns its thread (once) for joining.
    func stop() -> pthread_t? {
        lock.withLock {
            stopped = true
            lock.broadcast()
            defer { thread = nil }
            return thread
        }
    }

    /// An append happened: wake the checkpointer to look again.
    func wake() {
        lock.withLock {
            wakeups += 1
            lock.broadcast()
        }
    }
}

private final class CheckpointerBody: @unchecked Sendable {
    weak var log: LMDBTransactionLog?
    let control: CheckpointControl

    init(log: LMDBTransactionLog, control: CheckpointControl) {
        self.log = log
        self.control = control
    }

    func run() {
        var seenWakeups = 0
        var retryAfterFailure = false
        while true {
            var due: Int?
            do {
                guard let log, !control.lock.withLock({ control.stopped }) else { return }
                due = log.foldDue(nowMs: Recovery.monotonicMs())
                if due == 0 {
                    do {
                        try log.fold()
                        continue
                    } catch {
                        // Appends report it; a purge that makes room lets a later fold succeed.
                        log.recordFoldFailure(error)
                    }
                    retryAfterFailure = true
                }
            }
            if retryAfterFailure {
                due = 100
                retryAfterFailure = false
            }
            control.lock.withLock {
                if !control.stopped && control.wakeups == seenWakeups { control.lock.wait(milliseconds: due) }
                seenWakeups = control.wakeups
            }
        }
    }
}
