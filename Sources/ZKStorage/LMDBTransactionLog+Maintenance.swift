import CLMDB
import ZKBase
import ZKFormat

/// A stored record as raw bytes, not validated (what `removeRecords` hands a repair tool).
public struct RawLogRecord: Sendable, Equatable {
    public var zxid: Int64
    public var bytes: [UInt8]

    public init(zxid: Int64, bytes: [UInt8]) {
        self.zxid = zxid
        self.bytes = bytes
    }
}

/// Truncate and purge: writer-thread calls, each one write transaction. They may grow the map
/// up to `mapSizeBytesMax + maintenanceHeadroomBytes`, so a log that appends refused as full can
/// still purge; afterwards the map is set back to the quota (LMDB keeps at least the pages in use).
extension LMDBTransactionLog {
    /// Removes every record with zxid > `zxid` (the offline `truncate` tool, a follower's TRUNC)
    /// and returns them, decoded and chain-checked. When a removed record is invalid, throws
    /// `.corrupt` and removes nothing (use `removeRecords(after:)` to cut a damaged tail).
    /// `.missingRange` when `zxid` is before the purge anchor.
    public func truncate(after zxid: Int64) throws(LogError) -> [DecodedLogRecord] {
        var decoded: [DecodedLogRecord] = []
        _ = try removeTail(after: zxid) { removed, previousZxid, seed throws(LogError) in
            decoded = try decodeChain(removed.map { (zxid: $0.zxid, bytes: $0.bytes) }, previousZxid: previousZxid, seed: seed)
        }
        return decoded
    }

    /// Removes every record with zxid > `zxid` and returns their bytes without validating them
    /// (for a repair tool, which keeps them as its backup).
    public func removeRecords(after zxid: Int64) throws(LogError) -> [RawLogRecord] {
        try removeTail(after: zxid) { _, _, _ throws(LogError) in }
    }

    /// Deletes every record with zxid ≤ `zxid` and, in the same transaction, sets `meta/anchor`
    /// to the newest deleted record's zxid and stored CRC: the chain of what remains is then
    /// seeded with it. Purging through a zxid past the last record leaves an empty log whose
    /// appends continue the chain from the anchor.
    ///
    /// Unlike the other maintenance calls, purge may run on any thread, next to appends on the
    /// writer thread (the server runs it off the acknowledgement path): it only removes records
    /// from the front, which appends never touch, and it serializes with folds and truncates.
    public func purge(through zxid: Int64) throws(LogError) {
        let path = environment.path
        let newState = try maintenanceTransaction(restartsLap: false, growingUpTo: maintenanceLimit) {
            transaction throws(LogError) -> State in
            let cursor = try LMDBCursor(transaction, txnsDatabase, path: path)
            defer { cursor.close() }
            var lastRemoved: Anchor?
            var entry = try cursor.get(MDB_FIRST, { key, value in Self.chainLink(key, value) })
            while let found = entry {
                guard let link = found else { throw LogError(kind: .io("txns holds a key that is not a zxid"), detail: path) }
                guard link.zxid <= zxid else { break }
                lastRemoved = Anchor(zxid: link.zxid, crc: link.crc)
                try cursor.delete()
                entry = try cursor.get(MDB_NEXT, { key, value in Self.chainLink(key, value) })
            }
            if let lastRemoved {
                try Self.writeMeta(transaction, metaDatabase, Self.anchorKey, Self.anchorBytes(lastRemoved), path: path)
            }
            return try Self.readState(transaction, txnsDatabase, metaDatabase, path: path)
        }
        _ = newState
        try refreshStateMergingTail()
        try releaseFreedPages()
        shrinkMapToQuota()
    }

    /// Empties the log and anchors it at `zxid` (CRC seed 0) in one write transaction: what a
    /// member does when it installs a snapshot its leader sent (SNAP), so its next append
    /// continues after the snapshot whatever the log held before. A writer-thread call.
    public func reset(anchoredAt zxid: Int64) throws(LogError) {
        assertWriterThread()
        precondition(zxid >= 0, "a log anchor is a non-negative zxid")
        let path = environment.path
        let newState = try maintenanceTransaction(restartsLap: true, growingUpTo: maintenanceLimit) {
            transaction throws(LogError) -> State in
            let cursor = try LMDBCursor(transaction, txnsDatabase, path: path)
            defer { cursor.close() }
            var entry = try cursor.get(MDB_FIRST)
            while entry != nil {
                try cursor.delete()
                entry = try cursor.get(MDB_NEXT)
            }
            try Self.writeMeta(transaction, metaDatabase, Self.anchorKey, Self.anchorBytes(Anchor(zxid: zxid, crc: 0)), path: path)
            return try Self.readState(transaction, txnsDatabase, metaDatabase, path: path)
        }
        stateLock.withLock { state = newState }
        try releaseFreedPages()
        shrinkMapToQuota()
    }

    /// Deletes the tail after `zxid` in one write transaction; `check` sees the removed records
    /// and the chain position before them, and aborts everything by throwing.
    private func removeTail(
        after zxid: Int64,
        check: ([RawLogRecord], Int64, UInt32) throws(LogError) -> Void
    ) throws(LogError) -> [RawLogRecord] {
        assertWriterThread()
        precondition(zxid >= 0, "truncate needs a non-negative zxid")
        let path = environment.path
        let (removed, newState) = try maintenanceTransaction(restartsLap: true, growingUpTo: maintenanceLimit) {
            transaction throws(LogError) -> ([RawLogRecord], State) in
            let anchor = try Self.readAnchor(transaction, metaDatabase, path: path)
            guard zxid >= anchor.zxid else {
                throw LogError(kind: .missingRange(
                    "cannot truncate after \(ZxidMath.hex(zxid)): records through \(ZxidMath.hex(anchor.zxid)) were purged"))
            }
            let cursor = try LMDBCursor(transaction, txnsDatabase, path: path)
            defer { cursor.close() }
            let start = LogKey.bytes(zxid == Int64.max ? zxid : zxid + 1)
            let previous: (zxid: Int64, crc: UInt32)?
            if try cursor.get(MDB_SET_RANGE, key: start, { _, _ in true }) != nil {
                previous = try cursor.get(MDB_PREV, { key, value in Self.chainLink(key, value) }) ?? nil
            } else {
                previous = try cursor.get(MDB_LAST, { key, value in Self.chainLink(key, value) }) ?? nil
            }
            var removed: [RawLogRecord] = []
            var entry = try cursor.get(MDB_SET_RANGE, key: start)
            while let current = entry, let key = LogKey.zxid(current.key), key > zxid {
                removed.append(RawLogRecord(zxid: key, bytes: current.value))
                try cursor.delete()
                entry = try cursor.get(MDB_NEXT)
            }
            try check(removed, previous?.zxid ?? anchor.zxid, previous?.crc ?? anchor.crc)
            return (removed, try Self.readState(transaction, txnsDatabase, metaDatabase, path: path))
        }
        stateLock.withLock { state = newState }
        if !removed.isEmpty { try releaseFreedPages() }
        shrinkMapToQuota()
        return removed
    }

    /// LMDB reuses the pages a transaction freed only from the second transaction after it (the
    /// newest snapshot stays intact). One small commit here (the anchor rewritten unchanged)
    /// lets the very next append reuse what a purge or truncate freed, so a log that was full
    /// can append again at once instead of failing one more time.
    func releaseFreedPages() throws(LogError) {
        let path = environment.path
        try environment.withWriteTransaction(growingUpTo: maintenanceLimit) { transaction throws(LogError) in
            let anchor = try Self.readAnchor(transaction, metaDatabase, path: path)
            try Self.writeMeta(transaction, metaDatabase, Self.anchorKey, Self.anchorBytes(anchor), path: path)
        }
    }

    /// After a purge: the new anchor and first record. A purge removes records only from the
    /// front, so the newest zxid and CRC stay as they are (a purge of everything anchors the log
    /// at its newest record). Appends are held off meanwhile (`appendLock`), so the first record
    /// read here cannot miss one they add.
    func refreshStateMergingTail() throws(LogError) {
        let path = environment.path
        // Lock order: appendLock, then foldLock (an append may start a lap, which folds). The
        // fold lock keeps a truncate or reset from changing LMDB between the read and the update.
        try appendLock.withLock { () throws(LogError) in
            try foldLock.withLock { () throws(LogError) in
                let stored = try environment.withReadTransaction { transaction throws(LogError) in
                    try Self.readState(transaction, txnsDatabase, metaDatabase, path: path)
                }
                stateLock.withLock {
                    state.anchor = stored.anchor
                    state.firstZxid = stored.firstZxid ?? tail.first?.zxid
                }
            }
        }
    }

    var maintenanceLimit: Int {
        environment.configuration.mapSizeBytesMax + environment.configuration.maintenanceHeadroomBytes
    }

    /// After maintenance used the headroom, give appends back only the quota. Failing to remap
    /// marks the environment unusable, and the next call reports it.
    private func shrinkMapToQuota() {
        let quota = environment.configuration.mapSizeBytesMax
        if environment.mapSizeBytes > quota { try? environment.resizeBetweenWrites(to: quota) }
    }
}
