import CLMDB
import ZKBase

/// Starting a log somewhere other than zxid 0: what an import needs when a snapshot already
/// holds everything through some zxid (`paddock data import-zk`).
extension LMDBTransactionLog {
    /// Makes an empty log continue after `zxid`, as if every record through `zxid` had been
    /// purged (FORMAT.md section 6): `meta/anchor` becomes (`zxid`, `crc`) in one write
    /// transaction. Afterwards `lastZxid` is `zxid`, `firstZxid` stays nil, recovery accepts a
    /// snapshot at `zxid` with nothing to replay, and the first append must follow `zxid`
    /// (ZxidContinuity), its CRC seeded with `crc`. Refused (`.io`) when the log holds any
    /// record or was already anchored elsewhere. A writer-thread call.
    public func anchorEmptyLog(after zxid: Int64, crc: UInt32 = 0) throws(LogError) {
        assertWriterThread()
        precondition(zxid >= 0, "a log anchor is a non-negative zxid")
        let path = environment.path
        let newState = try maintenanceTransaction(restartsLap: true, growingUpTo: environment.configuration.mapSizeBytesMax) {
            transaction throws(LogError) -> State in
            var statistics = MDB_stat()
            try LMDBEnvironment.check(mdb_stat(transaction, txnsDatabase, &statistics), "mdb_stat(txns)", path)
            guard statistics.ms_entries == 0 else {
                throw LogError(kind: .io("cannot anchor a log that holds \(statistics.ms_entries) records"), detail: path)
            }
            let current = try Self.readAnchor(transaction, metaDatabase, path: path)
            let wanted = Anchor(zxid: zxid, crc: crc)
            guard current == .none || current == wanted else {
                throw LogError(kind: .io("the log is already anchored at \(ZxidMath.hex(current.zxid))"), detail: path)
            }
            try Self.writeMeta(transaction, metaDatabase, Self.anchorKey, Self.anchorBytes(wanted), path: path)
            return try Self.readState(transaction, txnsDatabase, metaDatabase, path: path)
        }
        stateLock.withLock { state = newState }
    }
}
