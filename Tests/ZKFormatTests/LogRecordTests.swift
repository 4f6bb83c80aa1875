import Testing
import ZKBase
import ZKFormat
import ZKWire

enum LogSamples {
    static let createTxn = CreateTxn(path: "/app/n", data: Array("value".utf8), acl: SampleTrees.mixedACL, ephemeral: true, parentCVersion: 3)

    /// One of every txn type, and a multi holding one of every kind a multi may hold.
    static let bodies: [TxnBody] = [
        .create(createTxn),
        .create(CreateTxn(path: "/n", data: nil, acl: ACL.openUnsafe, ephemeral: false, parentCVersion: -1)),
        .create2(createTxn),
        .createContainer(CreateTxn(path: "/c", data: [1, 2], acl: ACL.openUnsafe, ephemeral: false, parentCVersion: 4)),
        .createTTL(CreateTxn(path: "/t", data: [], acl: SampleTrees.digestACL, ephemeral: false, parentCVersion: 2, ttl: 60_000)),
        .delete(path: "/a"),
        .deleteContainer(path: "/c"),
        .setData(path: "/s", data: Array("v".utf8), version: 3),
        .setData(path: "/s", data: nil, version: 4),
        .setACL(path: "/s", acl: SampleTrees.mixedACL, version: 2),
        .check(path: "/s", version: 4),
        .createSession(timeoutMs: 30_000),
        .closeSession(pathsToDelete: ["/e1", "/e2"]),
        .closeSession(pathsToDelete: []),
        .error(.nodeExists),
        .multi([
            .create(createTxn), .create2(createTxn),
            .createContainer(CreateTxn(path: "/c", data: [], acl: ACL.openUnsafe, ephemeral: false, parentCVersion: 1)),
            .createTTL(CreateTxn(path: "/t", data: [], acl: ACL.openUnsafe, ephemeral: false, parentCVersion: 2, ttl: 5)),
            .delete(path: "/x"), .deleteContainer(path: "/c"), .setData(path: "/s", data: [9], version: 1),
            .setACL(path: "/s", acl: ACL.readUnsafe, version: 1), .check(path: "/s", version: 1),
            .error(.ok), .error(.noNode),
        ]),
        .multi([]),
    ]

    static func txn(_ body: TxnBody, zxid: Int64 = 0x1_0000_0009) -> Txn {
        Txn(header: TxnHeader(clientId: 0x1234, cxid: 7, zxid: zxid, time: 1_700_000_000_000, type: body.opCode.rawValue), body: body)
    }

    /// The golden record: setData of "/a" at zxid 0x100000002, chained onto 0xDEADBEEF.
    static let goldenTxn = Txn(
        header: TxnHeader(clientId: 0x0102_0304_0506_0708, cxid: 0x11, zxid: 0x1_0000_0002, time: 1_700_000_000_000, type: OpCode.setData.rawValue),
        body: .setData(path: "/a", data: [0x76], version: 3))
    static let goldenDigest: UInt64 = 0x1122_3344_5566_7788
    static let goldenPreviousCRC: UInt32 = 0xDEAD_BEEF
    /// Computed independently of ZKBase (a bitwise CRC32C in Python) from FORMAT.md section 2.
    static let goldenHex =
        "50444b4c" + "01" + "000000" + "8a4a0a6c" + "1122334455667788" + "0000002f"
        + "0102030405060708" + "00000011" + "0000000100000002" + "0000018bcfe56800" + "00000005"
        + "00000002" + "2f61" + "00000001" + "76" + "00000003"
}

/// Bitwise CRC32C, written from FORMAT.md's definition, to check the record's CRC field.
func referenceCRC32C(_ bytes: some Sequence<UInt8>, seed: UInt32) -> UInt32 {
    var crc = ~seed
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return ~crc
}

func bigEndian<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int, as: T.Type) -> T {
    bytes[offset..<(offset + MemoryLayout<T>.size)].reduce(T(0)) { $0 << 8 | T($1) }
}

@Suite struct LogRecordTests {
    @Test func goldenBytes() throws {
        let encoded = LogRecord.encode(LogSamples.goldenTxn, digest: LogSamples.goldenDigest, previousCRC: LogSamples.goldenPreviousCRC)
        #expect(Hex.encode(encoded.bytes) == LogSamples.goldenHex)
        let bytes = encoded.bytes
        #expect(LogRecord.headerBytes == 24)
        #expect(Array(bytes[0..<4]) == Array("PDKL".utf8))
        #expect(bytes[4] == 1)
        #expect(Array(bytes[5..<8]) == [0, 0, 0])
        #expect(bigEndian(bytes, at: 8, as: UInt32.self) == encoded.crc)
        #expect(encoded.crc == referenceCRC32C(bytes[12...], seed: LogSamples.goldenPreviousCRC))
        #expect(bigEndian(bytes, at: 12, as: UInt64.self) == LogSamples.goldenDigest)
        #expect(bigEndian(bytes, at: 20, as: UInt32.self) == UInt32(bytes.count - 24))
        // The txn bytes are exactly ZooKeeper's TxnHeader + SetDataTxn.
        #expect(bigEndian(bytes, at: 24, as: Int64.self) == 0x0102_0304_0506_0708)
        #expect(bigEndian(bytes, at: 36, as: Int64.self) == 0x1_0000_0002)
        #expect(bigEndian(bytes, at: 24 + 28, as: Int32.self) == OpCode.setData.rawValue)

        let decoded = try LogRecord.decode(zxid: 0x1_0000_0002, bytes: bytes, previousCRC: LogSamples.goldenPreviousCRC)
        #expect(decoded == DecodedLogRecord(txn: LogSamples.goldenTxn, digest: LogSamples.goldenDigest, crc: encoded.crc))
    }

    @Test(arguments: LogSamples.bodies)
    func roundTrip(_ body: TxnBody) throws {
        let txn = LogSamples.txn(body)
        let encoded = LogRecord.encode(txn, digest: 0xFEED_FACE_CAFE_BEEF, previousCRC: 0x1234_5678)
        let decoded = try LogRecord.decode(zxid: txn.zxid, bytes: encoded.bytes, previousCRC: 0x1234_5678)
        #expect(decoded.txn == txn)
        #expect(decoded.digest == 0xFEED_FACE_CAFE_BEEF)
        #expect(decoded.crc == encoded.crc)
        // Without the chain check (inspection tools) the same record decodes the same.
        #expect(try LogRecord.decode(zxid: txn.zxid, bytes: encoded.bytes, previousCRC: nil) == decoded)
    }

    @Test func everySingleBitFlipIsDetected() {
        for body in [LogSamples.bodies[0], LogSamples.bodies[LogSamples.bodies.count - 2]] {
            let txn = LogSamples.txn(body)
            let bytes = LogRecord.encode(txn, digest: 99, previousCRC: 5).bytes
            for offset in bytes.indices {
                for bit in 0..<8 {
                    var damaged = bytes
                    damaged[offset] ^= 1 << bit
                    #expect(throws: LogRecordError.self, "flip at byte \(offset) bit \(bit)") {
                        try LogRecord.decode(zxid: txn.zxid, bytes: damaged, previousCRC: 5)
                    }
                }
            }
        }
    }

    @Test func everyTruncationAndAnyExtensionIsDetected() {
        let txn = LogSamples.txn(LogSamples.bodies[0])
        let bytes = LogRecord.encode(txn, digest: 1, previousCRC: 0).bytes
        for length in 0..<bytes.count {
            let expected: LogRecordError.Kind = length < 24 ? .tooShort : .lengthMismatch
            #expect(throws: LogRecordError(zxid: txn.zxid, kind: expected)) {
                try LogRecord.decode(zxid: txn.zxid, bytes: Array(bytes.prefix(length)), previousCRC: 0)
            }
            #expect(throws: LogRecordError.self) {
                try LogRecord.decode(zxid: txn.zxid, bytes: Array(bytes.prefix(length)), previousCRC: nil)
            }
        }
        #expect(throws: LogRecordError(zxid: txn.zxid, kind: .lengthMismatch)) {
            try LogRecord.decode(zxid: txn.zxid, bytes: bytes + [0], previousCRC: 0)
        }
    }

    @Test func chainDetectsAWrongPreviousCRC() throws {
        let first = LogSamples.txn(.createSession(timeoutMs: 5000), zxid: 0x1_0000_0001)
        let second = LogSamples.txn(.delete(path: "/x"), zxid: 0x1_0000_0002)
        let one = LogRecord.encode(first, digest: 1, previousCRC: 0)
        let two = LogRecord.encode(second, digest: 2, previousCRC: one.crc)
        #expect(try LogRecord.decode(zxid: first.zxid, bytes: one.bytes, previousCRC: 0).crc == one.crc)
        #expect(try LogRecord.decode(zxid: second.zxid, bytes: two.bytes, previousCRC: one.crc).crc == two.crc)
        // The chain value is the CRC of everything so far: record 2 continues record 1's CRC.
        #expect(two.crc == referenceCRC32C(one.bytes[12...] + two.bytes[12...], seed: 0))

        let wrongSeed = one.crc ^ 1
        let expected = referenceCRC32C(two.bytes[12...], seed: wrongSeed)
        #expect(throws: LogRecordError(zxid: second.zxid, kind: .crcMismatch(expected: expected, actual: two.crc))) {
            try LogRecord.decode(zxid: second.zxid, bytes: two.bytes, previousCRC: wrongSeed)
        }
        // Skipping record 1 (seed 0) fails too: a record cannot be moved in the chain.
        #expect(throws: LogRecordError.self) { try LogRecord.decode(zxid: second.zxid, bytes: two.bytes, previousCRC: 0) }
        // Inspection mode does not check the chain.
        #expect(try LogRecord.decode(zxid: second.zxid, bytes: two.bytes, previousCRC: nil).txn == second)
    }

    @Test func headerFieldErrors() {
        let txn = LogSamples.txn(.delete(path: "/x"))
        let bytes = LogRecord.encode(txn, digest: 0, previousCRC: 0).bytes
        func decode(_ bytes: [UInt8], zxid: Int64? = nil) throws(LogRecordError) {
            _ = try LogRecord.decode(zxid: zxid ?? txn.zxid, bytes: bytes, previousCRC: 0)
        }
        var badMagic = bytes
        badMagic[3] = 0x4D
        #expect(throws: LogRecordError(zxid: txn.zxid, kind: .badMagic)) { try decode(badMagic) }
        var version2 = bytes
        version2[4] = 2
        #expect(throws: LogRecordError(zxid: txn.zxid, kind: .unknownVersion(2))) { try decode(version2) }
        var reserved = bytes
        reserved[6] = 1
        #expect(throws: LogRecordError(zxid: txn.zxid, kind: .reservedNotZero)) { try decode(reserved) }
        #expect(throws: LogRecordError(zxid: 0x1_0000_000a, kind: .zxidMismatch(header: txn.zxid))) {
            try decode(bytes, zxid: 0x1_0000_000a)
        }
    }

    @Test func txnThatDoesNotDecodeIsRejectedEvenWithAGoodCRC() {
        // Built by hand from FORMAT.md: an unknown txn type, and a good txn with a byte left over.
        func record(_ txnBytes: [UInt8]) -> [UInt8] {
            var tail: [UInt8] = [UInt8](repeating: 0, count: 8)
            tail += withUnsafeBytes(of: UInt32(txnBytes.count).bigEndian, Array.init) + txnBytes
            let crc = referenceCRC32C(tail, seed: 0)
            return Array("PDKL".utf8) + [1, 0, 0, 0] + withUnsafeBytes(of: crc.bigEndian, Array.init) + tail
        }
        let header = TxnHeader(clientId: 1, cxid: 1, zxid: 5, time: 0, type: 999).encodedBytes()
        let unknownType = record(header)
        #expect(throws: LogRecordError.self) { try LogRecord.decode(zxid: 5, bytes: unknownType, previousCRC: 0) }
        guard case .undecodableTxn = decodeKind(unknownType, zxid: 5) else {
            Issue.record("an unknown txn type must be undecodableTxn")
            return
        }
        let good = LogRecord.encode(LogSamples.txn(.delete(path: "/x"), zxid: 5), digest: 0, previousCRC: 0).bytes
        let leftover = record(Array(good[24...]) + [0])
        #expect(decodeKind(leftover, zxid: 5) == .undecodableTxn("1 bytes left over after the txn"))
    }

    @Test func descriptionNamesTheZxid() {
        let error = LogRecordError(zxid: 0x1_0000_00ff, kind: .crcMismatch(expected: 1, actual: 2))
        #expect(error.description.contains("0x1000000ff"))
        #expect(!error.description.contains("\n"))
    }
}

private func decodeKind(_ bytes: [UInt8], zxid: Int64) -> LogRecordError.Kind? {
    do {
        _ = try LogRecord.decode(zxid: zxid, bytes: bytes, previousCRC: 0)
        return nil
    } catch {
        return error.kind
    }
}

@Suite struct ZxidContinuityTests {
    @Test(arguments: [
        (Int64(0x1_0000_0001), Int64(0x1_0000_0002), true),   // next in the epoch
        (0x1_0000_0001, 0x1_0000_0003, false),                // gap
        (0x1_0000_0001, 0x1_0000_0001, false),                // repeat
        (0x1_0000_0005, 0x2_0000_0001, true),                 // new epoch starts at 1
        (0x1_0000_0005, 0x3_0000_0001, true),                 // epochs may be skipped
        (0x1_0000_0005, 0x2_0000_0002, false),                // new epoch not at 1
        (0x1_0000_0005, 0x2_0000_0000, false),                // counter 0 is never a txn
        (0x2_0000_0005, 0x1_0000_0006, false),                // lower epoch
        (0, 1, true),                                         // first txn ever, epoch 0
        (0, 0x1_0000_0001, true),                             // first txn ever, epoch 1
        (0x1_FFFF_FFFF, 0x2_0000_0000, false),                // counter wrap is not a new epoch start
    ])
    func follows(_ previous: Int64, _ next: Int64, _ expected: Bool) {
        #expect(ZxidContinuity.follows(next, after: previous) == expected)
    }
}
