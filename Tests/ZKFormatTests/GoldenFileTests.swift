import Foundation
import Testing
import ZKBase
import ZKFormat
import ZKTree
import ZKWire

/// Format version 1 files checked in under Golden/: every later version of the code must still
/// read them. Regenerate (only for a new format version, never to make a test pass) with
/// `PADDOCK_REGENERATE_GOLDEN=1 swift test --filter GoldenFileTests`, then review the diff.
enum Golden {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden").path
    static let snapshotName = "snapshot.0000000100000007"
    static let logName = "log-records-v1.hex"
    static var regenerate: Bool { ProcessInfo.processInfo.environment["PADDOCK_REGENERATE_GOLDEN"] == "1" }

    static let sessionA: Int64 = 0x0100_0000_0000_0001
    static let sessionB: Int64 = 0x0100_0000_0000_0002

    /// The tree in the golden snapshot.
    static func tree() -> DataTree {
        var nodes = SampleTrees.baseNodes()
        nodes += [
            NodeSpec(path: "/app", data: Array("{\"v\":1}".utf8), acl: SampleTrees.mixedACL, zxid: 0x1_0000_0002),
            NodeSpec(path: "/app/empty", data: [], zxid: 0x1_0000_0003),
            NodeSpec(path: "/app/lock-0000000001", data: nil, owner: sessionA, zxid: 0x1_0000_0004),
            NodeSpec(path: "/container", data: [], owner: EphemeralOwner.container, zxid: 0x1_0000_0005),
            NodeSpec(path: "/ttl", data: [0, 1, 2, 0xff], acl: ACL.readUnsafe, owner: EphemeralOwner.ttl(60_000), zxid: 0x1_0000_0006),
        ]
        return SampleTrees.tree(nodes, sessions: [(sessionA, 30_000), (sessionB, 10_000)], lastZxid: 0x1_0000_0007)
    }

    /// The records in the golden log, in chain order from seed 0.
    static let records: [(txn: Txn, digest: UInt64)] = [
        (Txn(header: TxnHeader(clientId: sessionA, cxid: 0, zxid: 0x1_0000_0001, time: 1_700_000_000_000, type: OpCode.createSession.rawValue),
             body: .createSession(timeoutMs: 30_000)), 0x0000_0001_2345_6789),
        (Txn(header: TxnHeader(clientId: sessionA, cxid: 1, zxid: 0x1_0000_0002, time: 1_700_000_000_001, type: OpCode.create.rawValue),
             body: .create(CreateTxn(path: "/app", data: Array("{\"v\":1}".utf8), acl: SampleTrees.mixedACL, ephemeral: false, parentCVersion: 1))),
         0x0000_0002_3456_789a),
        (Txn(header: TxnHeader(clientId: sessionA, cxid: 2, zxid: 0x1_0000_0003, time: 1_700_000_000_002, type: OpCode.multi.rawValue),
             body: .multi([.check(path: "/app", version: 0), .setData(path: "/app", data: nil, version: 0), .delete(path: "/gone")])),
         0x0000_0003_4567_89ab),
    ]
}

@Suite struct GoldenFileTests {
    @Test func logRecordsStillDecode() throws {
        let path = Golden.directory + "/" + Golden.logName
        if Golden.regenerate { try regenerateLog(path) }
        let lines = try String(contentsOfFile: path, encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        #expect(lines.count == Golden.records.count)
        var crc: UInt32 = 0
        for (line, expected) in zip(lines, Golden.records) {
            let bytes = Hex.decode(line)
            let decoded = try LogRecord.decode(zxid: expected.txn.zxid, bytes: bytes, previousCRC: crc)
            #expect(decoded.txn == expected.txn)
            #expect(decoded.digest == expected.digest)
            // The encoder still writes exactly these bytes.
            #expect(LogRecord.encode(expected.txn, digest: expected.digest, previousCRC: crc).bytes == bytes)
            crc = decoded.crc
        }
    }

    @Test func snapshotStillLoads() throws {
        let path = Golden.directory + "/" + Golden.snapshotName
        if Golden.regenerate { try regenerateSnapshot() }
        let expected = Golden.tree()
        let loaded = try SnapshotFiles.load(path: path)
        expectSameTree(loaded.tree, expected)
        #expect(loaded.header == SnapshotHeader(formatVersion: 1, compression: 1, level: 1, startZxid: 0x1_0000_0007, startTimeMs: 1_700_000_000_000))
        #expect(loaded.trailer.endZxid == 0x1_0000_0007)
        #expect(loaded.trailer.nodeCount == 9)
        #expect(loaded.trailer.sessionCount == 2)
        #expect(loaded.trailer.digest == expected.digest)

        // Today's writer produces the same uncompressed stream (zlib's own bytes may vary by
        // version, so the comparison is of the stream's length and CRC, not the file).
        let scratch = try TemporaryDirectory()
        let rewritten = try SnapshotFiles.write(tree: expected, directory: scratch.path, startZxid: 0x1_0000_0007, level: 0)
        let rewrittenTrailer = try SnapshotFiles.verify(path: rewritten).get()
        #expect(rewrittenTrailer == loaded.trailer)
    }

    private func regenerateSnapshot() throws {
        let scratch = try TemporaryDirectory()
        let written = try SnapshotFiles.write(
            tree: Golden.tree(), directory: scratch.path, startZxid: 0x1_0000_0007, startTimeMs: 1_700_000_000_000, level: 1)
        try writeFile(Golden.directory + "/" + Golden.snapshotName, try readFile(written))
    }

    private func regenerateLog(_ path: String) throws {
        var text = "# Paddock log records, format version 1 (FORMAT.md section 2): one record per line in hex,\n"
        text += "# in chain order from CRC seed 0. Written by GoldenFileTests; must always decode.\n"
        var crc: UInt32 = 0
        for record in Golden.records {
            let encoded = LogRecord.encode(record.txn, digest: record.digest, previousCRC: crc)
            text += "# zxid \(ZxidMath.hex(record.txn.zxid)) \(record.txn.body.opCode) crc \(String(encoded.crc, radix: 16))\n"
            text += Hex.encode(encoded.bytes) + "\n"
            crc = encoded.crc
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
