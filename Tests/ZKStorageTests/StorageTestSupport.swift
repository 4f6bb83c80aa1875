import CLMDB
import Foundation
import Testing
import ZKBase
import ZKFormat
import ZKStorage
import ZKWire

/// Runs `body` with a fresh directory under /tmp, removed afterwards whatever happens.
@discardableResult
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    var template = Array("/tmp/paddock-storage-XXXXXX".utf8CString)
    guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
        throw POSIXError(.EIO)
    }
    let path = String(cString: created)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// A small map so tests exercise growth; big enough for the ordinary tests' few records.
let smallMap = LMDBConfiguration(mapSizeBytesInitial: 1 << 20)

func zxid(_ counter: Int64, epoch: Int64 = 1) -> Int64 { ZxidMath.make(epoch: epoch, counter: counter) }

/// A setData txn with `payloadBytes` of data, distinct per zxid.
func makeTxn(_ zxid: Int64, payloadBytes: Int = 64, salt: UInt8 = 0) -> Txn {
    let payload = (0..<payloadBytes).map { UInt8(truncatingIfNeeded: Int(zxid) &* 31 &+ $0) ^ salt }
    return Txn(
        header: TxnHeader(clientId: 0x1234, cxid: Int32(truncatingIfNeeded: zxid), zxid: zxid, time: 1_700_000_000_000 + zxid,
                          type: OpCode.setData.rawValue),
        body: .setData(path: "/node/\(zxid)", data: payload, version: Int32(truncatingIfNeeded: zxid)))
}

func makeRecords(_ counters: ClosedRange<Int64>, epoch: Int64 = 1, payloadBytes: Int = 64, salt: UInt8 = 0) -> [LoggedTxn] {
    counters.map { counter in
        let id = zxid(counter, epoch: epoch)
        return LoggedTxn(txn: makeTxn(id, payloadBytes: payloadBytes, salt: salt), digest: UInt64(bitPattern: id) &* 0x9E37_79B9_7F4A_7C15)
    }
}

func readAll(_ log: any TransactionLog, after: Int64 = 0) throws -> [DecodedLogRecord] {
    try log.records(after: after, limit: 1_000_000)
}

func logged(_ records: [DecodedLogRecord]) -> [LoggedTxn] {
    records.map { LoggedTxn(txn: $0.txn, digest: $0.digest) }
}

/// The CRCs a correct chain must have, recomputed from scratch with the format code.
func expectedCRCs(_ records: [LoggedTxn], seed: UInt32 = 0) -> [UInt32] {
    var crc = seed
    return records.map { record in
        crc = LogRecord.encode(record.txn, digest: record.digest, previousCRC: crc).crc
        return crc
    }
}

/// Edits an environment straight through LMDB, as damage would look to Paddock. The log must
/// be closed first (one environment per process).
enum RawLMDB {
    static func withWriteTransaction(_ path: String, _ body: (OpaquePointer, MDB_dbi, MDB_dbi) -> Void) {
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

    static func key(_ zxid: Int64) -> [UInt8] { withUnsafeBytes(of: UInt64(zxid).bigEndian) { Array($0) } }

    static func get(_ transaction: OpaquePointer, _ database: MDB_dbi, _ key: [UInt8]) -> [UInt8] {
        var keyBytes = key
        return keyBytes.withUnsafeMutableBytes { raw in
            var keyValue = MDB_val(mv_size: raw.count, mv_data: raw.baseAddress)
            var value = MDB_val()
            precondition(mdb_get(transaction, database, &keyValue, &value) == 0)
            return Array(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
        }
    }

    static func put(_ transaction: OpaquePointer, _ database: MDB_dbi, _ key: [UInt8], _ bytes: [UInt8]) {
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

    static func delete(_ transaction: OpaquePointer, _ database: MDB_dbi, _ key: [UInt8]) {
        var keyBytes = key
        keyBytes.withUnsafeMutableBytes { rawKey in
            var keyValue = MDB_val(mv_size: rawKey.count, mv_data: rawKey.baseAddress)
            precondition(mdb_del(transaction, database, &keyValue, nil) == 0)
        }
    }

    /// Replaces the value stored under `zxid` with `transform(old)`.
    static func overwrite(_ path: String, zxid: Int64, _ transform: ([UInt8]) -> [UInt8]) {
        withWriteTransaction(path) { transaction, txns, _ in
            put(transaction, txns, key(zxid), transform(get(transaction, txns, key(zxid))))
        }
    }

    static func delete(_ path: String, zxid: Int64) {
        withWriteTransaction(path) { transaction, txns, _ in delete(transaction, txns, key(zxid)) }
    }
}
