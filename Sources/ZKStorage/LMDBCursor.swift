import CLMDB

/// Keys of the `txns` database: the zxid as 8-byte big-endian unsigned (FORMAT.md section 2),
/// so byte order is numeric order and appends can use MDB_APPEND.
enum LogKey {
    static let byteCount = 8

    static func bytes(_ zxid: Int64) -> [UInt8] {
        precondition(zxid >= 0, "log keys are non-negative zxids")
        return withUnsafeBytes(of: UInt64(zxid).bigEndian) { Array($0) }
    }

    /// nil when the key is not 8 bytes (not written by Paddock).
    static func zxid(_ key: [UInt8]) -> Int64? {
        guard key.count == byteCount else { return nil }
        return Int64(bitPattern: key.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }
}

/// Copies an LMDB value out of the map; the pointer is valid only until its transaction ends.
func copiedBytes(_ value: MDB_val) -> [UInt8] {
    guard value.mv_size > 0, let data = value.mv_data else { return [] }
    return Array(UnsafeRawBufferPointer(start: data, count: value.mv_size))
}

/// Runs `body` with an MDB_val pointing at `bytes` (valid only during the call).
func withValue<T>(_ bytes: [UInt8], _ body: (inout MDB_val) -> T) -> T {
    bytes.withUnsafeBytes { buffer in
        var value = MDB_val(mv_size: buffer.count, mv_data: UnsafeMutableRawPointer(mutating: buffer.baseAddress))
        return body(&value)
    }
}

/// A cursor over one database inside one transaction; `close()` before the transaction ends.
struct LMDBCursor {
    let cursor: OpaquePointer
    let path: String

    init(_ transaction: OpaquePointer, _ database: MDB_dbi, path: String) throws(LogError) {
        var pointer: OpaquePointer?
        try LMDBEnvironment.check(mdb_cursor_open(transaction, database, &pointer), "mdb_cursor_open", path)
        cursor = pointer!
        self.path = path
    }

    func close() { mdb_cursor_close(cursor) }

    /// Positions the cursor; nil at MDB_NOTFOUND. The entry is copied out. `key` is the search
    /// key for MDB_SET_RANGE / MDB_SET.
    func get(_ operation: MDB_cursor_op, key: [UInt8]? = nil) throws(LogError) -> (key: [UInt8], value: [UInt8])? {
        try get(operation, key: key) { key, value in (copiedBytes(key), copiedBytes(value)) }
    }

    /// Positions the cursor and hands the in-map key and value to `body` (copy what you keep).
    /// A search key needs an operation that returns the found key (MDB_SET_RANGE, MDB_SET_KEY).
    func get<T>(
        _ operation: MDB_cursor_op, key: [UInt8]? = nil, _ body: (MDB_val, MDB_val) -> T
    ) throws(LogError) -> T? {
        precondition(key == nil || operation == MDB_SET_RANGE || operation == MDB_SET_KEY, "search op must return the key")
        var value = MDB_val()
        var found = MDB_val()
        let code = withValue(key ?? []) { search in
            if key != nil { found = search }
            return mdb_cursor_get(cursor, &found, &value, operation)
        }
        if code == MDB_NOTFOUND { return nil }
        try LMDBEnvironment.check(code, "mdb_cursor_get", path)
        return body(found, value)
    }

    /// Deletes the entry under the cursor; a following MDB_NEXT returns the entry after it.
    func delete() throws(LogError) {
        try LMDBEnvironment.check(mdb_cursor_del(cursor, 0), "mdb_cursor_del", path)
    }
}
