import CLMDB

/// Edits an LMDB environment straight through LMDB, as damage would look to Paddock (shared by
/// the storage and tools tests). Nothing else may have the environment open in this process.
public enum RawLMDB {
    public static func withWriteTransaction(_ path: String, _ body: (OpaquePointer, MDB_dbi, MDB_dbi) -> Void) {
        var environment: OpaquePointer?
        precondition(mdb_env_create(&environment) == 0)
        defer { mdb_env_close(environment) }
        precondition(mdb_env_set_maxdbs(environment, 4) == 0)
        precondition(mdb_env_set_mapsize(environment, 1 << 30) == 0)
        let opened = mdb_env_open(environment, path, UInt32(MDB_NOTLS), 0o644)
        precondition(opened == 0, String(cString: mdb_strerror(opened)))
        var transaction: OpaquePointer?
        precondition(mdb_txn_begin(environment, nil, 0, &transaction) == 0)
        var txns: MDB_dbi = 0
        var meta: MDB_dbi = 0
        precondition(mdb_dbi_open(transaction, "txns", 0, &txns) == 0)
        precondition(mdb_dbi_open(transaction, "meta", 0, &meta) == 0)
        body(transaction!, txns, meta)
        precondition(mdb_txn_commit(transaction) == 0)
    }

    public static func key(_ zxid: Int64) -> [UInt8] { withUnsafeBytes(of: UInt64(zxid).bigEndian) { Array($0) } }

    public static func get(_ transaction: OpaquePointer, _ database: MDB_dbi, _ key: [UInt8]) -> [UInt8] {
        var keyBytes = key
        return keyBytes.withUnsafeMutableBytes { raw in
            var keyValue = MDB_val(mv_size: raw.count, mv_data: raw.baseAddress)
            var value = MDB_val()
            precondition(mdb_get(transaction, database, &keyValue, &value) == 0)
            return Array(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
        }
    }

    public static func put(_ transaction: OpaquePointer, _ database: MDB_dbi, _ key: [UInt8], _ bytes: [UInt8]) {
        var keyBytes = key
        var valueBytes = bytes
        keyBytes.withUnsafeMutableBytes { rawKey in
            valueBytes.withUnsafeMutableBytes { rawValue in
                var keyValue = MDB_val(mv_size: rawKey.count, mv_data: rawKey.baseAddress)
                var value = MDB_val(mv_size: rawValue.count, mv_data: rawValue.baseAddress)
                precondition(mdb_put(transaction, database, &keyValue, &value, 0) == 0)
            }
        }
    }

    public static func delete(_ transaction: OpaquePointer, _ database: MDB_dbi, _ key: [UInt8]) {
        var keyBytes = key
        keyBytes.withUnsafeMutableBytes { rawKey in
            var keyValue = MDB_val(mv_size: rawKey.count, mv_data: rawKey.baseAddress)
            precondition(mdb_del(transaction, database, &keyValue, nil) == 0)
        }
    }

    /// Replaces the value stored under `zxid` with `transform(old)`.
    public static func overwrite(_ path: String, zxid: Int64, _ transform: ([UInt8]) -> [UInt8]) {
        withWriteTransaction(path) { transaction, txns, _ in
            put(transaction, txns, key(zxid), transform(get(transaction, txns, key(zxid))))
        }
    }

    public static func delete(_ path: String, zxid: Int64) {
        withWriteTransaction(path) { transaction, txns, _ in delete(transaction, txns, key(zxid)) }
    }
}
