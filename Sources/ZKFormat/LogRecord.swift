import NIOCore
import ZKBase
import ZKWire

// Log record, version 1 (FORMAT.md section 2). One record is the LMDB value under key = zxid.
//
// | offset | size | field                                                                      |
// |--------|------|----------------------------------------------------------------------------|
// | 0      | 4    | magic `PDKL` (0x50 0x44 0x4B 0x4C)                                         |
// | 4      | 1    | record version, 1                                                          |
// | 5      | 3    | reserved, 0 (not covered by the CRC, so a reader checks they are 0)        |
// | 8      | 4    | CRC32C of bytes [12, end), seeded with the previous record's CRC           |
// | 12     | 8    | tree digest after this txn is applied                                      |
// | 20     | 4    | N, the length of the txn bytes                                             |
// | 24     | N    | jute TxnHeader + txn record, exactly as ZooKeeper logs it                  |
//
// Valid when: at least 24 bytes, magic, known version, reserved 0, 24 + N = length, CRC (when
// the chain is checked), the txn decodes with nothing left over, and its zxid equals the key.

/// A log record that passed the validity rule.
public struct DecodedLogRecord: Sendable, Equatable {
    public var txn: Txn
    /// Tree digest after `txn` is applied (FORMAT.md section 4).
    public var digest: UInt64
    /// This record's chained CRC: the seed for the next record.
    public var crc: UInt32

    public init(txn: Txn, digest: UInt64, crc: UInt32) {
        self.txn = txn
        self.digest = digest
        self.crc = crc
    }
}

/// Encoding and validation of one log record. Pure: bytes in, bytes out.
public enum LogRecord {
    public static let headerBytes = 24
    public static let magic: [UInt8] = [0x50, 0x44, 0x4B, 0x4C]  // "PDKL"
    public static let version: UInt8 = 1
    /// The digest field of a record that carries none (FORMAT.md section 4): a ZooKeeper 3.8
    /// leader proposes error txns without a digest and its Paddock followers log them with 0.
    public static let digestNotRecorded: UInt64 = 0

    static let versionOffset = 4
    static let reservedRange = 5..<8
    static let crcOffset = 8
    static let digestOffset = 12
    static let lengthOffset = 20

    /// Encodes `txn` and chains its CRC onto `previousCRC` (the record before, the purge anchor's
    /// CRC, or 0 for the first record ever). Returns the value to store and the CRC to chain on.
    public static func encode(_ txn: Txn, digest: UInt64, previousCRC: UInt32) -> (bytes: [UInt8], crc: UInt32) {
        var scratch = ByteBufferAllocator().buffer(capacity: 256)
        return encode(txn, digest: digest, previousCRC: previousCRC, scratch: &scratch)
    }

    /// As `encode(_:digest:previousCRC:)`, encoding the txn into `scratch` (cleared first, so one
    /// buffer serves a whole batch) and copying it once into the record after the header.
    public static func encode(
        _ txn: Txn, digest: UInt64, previousCRC: UInt32, scratch: inout ByteBuffer
    ) -> (bytes: [UInt8], crc: UInt32) {
        scratch.clear()
        txn.encode(into: &scratch)
        let txnBytes = scratch.readableBytes
        precondition(txnBytes <= Int(UInt32.max) - headerBytes, "txn too large for a log record")
        var crc: UInt32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: headerBytes + txnBytes) { storage, initialized in
            let record = UnsafeMutableRawBufferPointer(storage)
            scratch.withUnsafeReadableBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: record[headerBytes...]).copyMemory(from: source)
            }
            for (offset, byte) in magic.enumerated() { record[offset] = byte }
            record[versionOffset] = version
            for offset in reservedRange { record[offset] = 0 }
            BigEndianBytes.write(digest, into: record, at: digestOffset)
            BigEndianBytes.write(UInt32(txnBytes), into: record, at: lengthOffset)
            crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: record[digestOffset...]), seed: previousCRC)
            BigEndianBytes.write(crc, into: record, at: crcOffset)
            initialized = headerBytes + txnBytes
        }
        assert((try? decode(zxid: txn.zxid, bytes: bytes, previousCRC: previousCRC)) != nil, "encoded record does not decode")
        return (bytes, crc)
    }

    /// Checks the validity rule of FORMAT.md section 2 for the value stored under key `zxid`.
    /// `previousCRC: nil` skips the CRC check (inspection tools that read one record alone);
    /// otherwise it is the CRC of the record before (or the anchor's CRC, or 0).
    public static func decode(zxid: Int64, bytes: UnsafeRawBufferPointer, previousCRC: UInt32?) throws(LogRecordError) -> DecodedLogRecord {
        func failure(_ kind: LogRecordError.Kind) -> LogRecordError { LogRecordError(zxid: zxid, kind: kind) }
        guard bytes.count >= headerBytes else { throw failure(.tooShort) }
        guard magic.indices.allSatisfy({ bytes[$0] == magic[$0] }) else { throw failure(.badMagic) }
        guard bytes[versionOffset] == version else { throw failure(.unknownVersion(bytes[versionOffset])) }
        guard reservedRange.allSatisfy({ bytes[$0] == 0 }) else { throw failure(.reservedNotZero) }
        let txnBytes = BigEndianBytes.read(UInt32.self, from: bytes, at: lengthOffset)
        guard headerBytes + Int(txnBytes) == bytes.count else { throw failure(.lengthMismatch) }
        let storedCRC = BigEndianBytes.read(UInt32.self, from: bytes, at: crcOffset)
        if let previousCRC {
            let computedCRC = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[digestOffset...]), seed: previousCRC)
            guard computedCRC == storedCRC else { throw failure(.crcMismatch(expected: computedCRC, actual: storedCRC)) }
        }
        let txn = try decodeTxn(UnsafeRawBufferPointer(rebasing: bytes[headerBytes...]), zxid: zxid)
        guard txn.zxid == zxid else { throw failure(.zxidMismatch(header: txn.zxid)) }
        let digest = BigEndianBytes.read(UInt64.self, from: bytes, at: digestOffset)
        return DecodedLogRecord(txn: txn, digest: digest, crc: storedCRC)
    }

    /// Convenience for callers holding an array.
    public static func decode(zxid: Int64, bytes: [UInt8], previousCRC: UInt32?) throws(LogRecordError) -> DecodedLogRecord {
        try bytes.withRawBytes { (buffer) throws(LogRecordError) -> DecodedLogRecord in
            try decode(zxid: zxid, bytes: buffer, previousCRC: previousCRC)
        }
    }

    private static func decodeTxn(_ bytes: UnsafeRawBufferPointer, zxid: Int64) throws(LogRecordError) -> Txn {
        var buffer = ByteBufferAllocator().buffer(bytes: bytes)
        let txn: Txn
        do {
            txn = try Txn.decode(from: &buffer)
        } catch {
            throw LogRecordError(zxid: zxid, kind: .undecodableTxn(String(describing: error)))
        }
        guard buffer.readableBytes == 0 else {
            throw LogRecordError(zxid: zxid, kind: .undecodableTxn("\(buffer.readableBytes) bytes left over after the txn"))
        }
        return txn
    }
}
