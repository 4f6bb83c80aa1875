import CLMDB
import Foundation
import Testing
@_exported import ZKTestSupport
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

