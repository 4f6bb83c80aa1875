import CLMDB
import Glibc
import ZKBase
import ZKFormat

/// Where a chain continues: a record's zxid and the CRC it stores (or the purge anchor's).
public struct LogChainLink: Sendable, Equatable {
    public var zxid: Int64
    public var crc: UInt32

    public init(zxid: Int64, crc: UInt32) {
        self.zxid = zxid
        self.crc = crc
    }
}

/// Raw access for the offline tools (ZKTools): reading records without validating them, so a
/// dump or a repair can see (and back up) damaged ones, and a compacting copy of the
/// environment. Reads are short read transactions; nothing here writes to the log.
extension LMDBTransactionLog {
    /// `meta/anchor`: the newest purged record's zxid and stored CRC (0/0 while nothing was purged).
    public var purgeAnchor: LogChainLink {
        get throws(LogError) {
            let path = environment.path
            let anchor = try environment.withReadTransaction { transaction throws(LogError) in
                try Self.readAnchor(transaction, metaDatabase, path: path)
            }
            return LogChainLink(zxid: anchor.zxid, crc: anchor.crc)
        }
    }

    /// Up to `limit` stored records with zxid > `zxid`, as raw bytes, not validated; plus the
    /// chain position before the first of them (the stored zxid and CRC of the record at or
    /// before `zxid`, or the anchor), and how many keys that are not 8-byte zxids were skipped.
    /// Records the journal holds that are not yet folded into LMDB are included.
    public func rawRecords(
        after zxid: Int64, limit: Int
    ) throws(LogError) -> (previous: LogChainLink, records: [RawLogRecord], foreignKeys: Int) {
        let merged = try mergedRecords(after: zxid, limit: limit)
        return (merged.previous, merged.records, merged.foreignKeys)
    }

    /// `rawRecords`, and whether `zxid` lies before the purge anchor (records missing).
    func mergedRecords(
        after zxid: Int64, limit: Int
    ) throws(LogError) -> (previous: LogChainLink, records: [RawLogRecord], foreignKeys: Int, purged: Bool) {
        precondition(limit > 0, "rawRecords(after:limit:) needs a positive limit")
        // The tail first: a record leaves it only once LMDB holds it.
        let fromTail = tailRecords(after: zxid, limit: limit)
        var result = try lmdbRecords(after: zxid, limit: limit)
        if let previous = fromTail.previous, previous.zxid > result.previous.zxid {
            result.previous = LogChainLink(zxid: previous.zxid, crc: storedCRC(previous.bytes))
            result.purged = false
        }
        let lastZxid = result.records.last?.zxid ?? zxid
        for record in fromTail.records where record.zxid > lastZxid {
            guard result.records.count < limit else { break }
            result.records.append(record)
        }
        return result
    }
}

extension LMDBEnvironment {
    /// Writes a compacted copy of the environment (`mdb_env_copy2` with `MDB_CP_COMPACT`: free
    /// pages left out, pages renumbered) as `data.mdb` in the existing, empty directory
    /// `directory`, then fsyncs that file and the directory. The copy is a consistent read
    /// snapshot of the environment; writers may go on meanwhile (they are not in the copy).
    public func copyCompacted(to directory: String) throws(LogError) {
        let code = mdb_env_copy2(environment, directory, UInt32(MDB_CP_COMPACT))
        try Self.check(code, "mdb_env_copy2(MDB_CP_COMPACT)", directory)
        for target in [directory + "/data.mdb", directory] {
            let descriptor = Glibc.open(target, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                throw LogError(kind: .io("open \(target) for fsync: \(String(cString: strerror(errno)))"), detail: directory)
            }
            defer { Glibc.close(descriptor) }
            guard fsync(descriptor) == 0 else {
                throw LogError(kind: .io("fsync \(target): \(String(cString: strerror(errno)))"), detail: directory)
            }
        }
    }
}
