import Foundation
import Testing
import ZKBase
import ZKTree
import ZKWire
@testable import ZKTools

@Suite struct ZooKeeperTxnLogTests {
    func sampleTxns(_ count: Int) -> [Txn] {
        (1...count).map { index in
            let zxid = Int64(index)
            let body: TxnBody = index == 1 ? .createSession(timeoutMs: 10000)
                : .create(CreateTxn(path: "/n\(index)", data: Array("d\(index)".utf8), acl: ACL.openUnsafe, ephemeral: false, parentCVersion: -1))
            return Txn(header: TxnHeader(clientId: 0x55, cxid: Int32(index), zxid: zxid, time: 1_700_000_000_000 + zxid, type: body.opCode.rawValue), body: body)
        }
    }

    @Test(arguments: ZooKeeperFixture.allCases)
    func apacheLogsReadWithChecksumsAndDigests(_ fixture: ZooKeeperFixture) throws {
        var last: Int64 = 0
        for log in ZooKeeperFiles.logs(in: fixture.versionDirectory) {
            let reader = try ZooKeeperTxnLogReader(path: log.path)
            #expect(reader.version == 2 && reader.dbid == 0)
            var first = true
            while let entry = try reader.next() {
                if first { #expect(entry.txn.zxid == log.zxid) }
                first = false
                #expect(entry.txn.zxid > last)
                last = entry.txn.zxid
                #expect(entry.digest?.version == 2)
            }
            // The fixtures keep 16 bytes of the zero preallocation: a zero length ends the file.
            guard case .clean = reader.end else {
                Issue.record("\(log.path) ended \(reader.end)")
                continue
            }
        }
        #expect(last == (try fixture.expected().lastZxid))
    }

    @Test func writtenLogReadsBack() throws {
        try zooKeeperTemporaryDirectory { directory in
            let writer = ZooKeeperTxnLogWriter(path: directory + "/log.1")
            let txns = sampleTxns(5)
            for (index, txn) in txns.enumerated() {
                writer.append(txn, digest: index % 2 == 0 ? ZooKeeperTxnDigest(version: 2, value: UInt64(index)) : nil)
            }
            writer.appendBytes([UInt8](repeating: 0, count: 100))
            try writer.finish()
            let entries = try zooKeeperLogEntries(directory + "/log.1")
            #expect(entries.map(\.txn) == txns)
            #expect(entries.map(\.digest) == txns.indices.map { $0 % 2 == 0 ? ZooKeeperTxnDigest(version: 2, value: UInt64($0)) : nil })
            #expect(entries[0].offset == 16)
        }
    }

    /// Every way ZooKeeper's reader takes as "the file ends here".
    @Test func tornTailsEndTheFileQuietly() throws {
        let txns = sampleTxns(4)
        try zooKeeperTemporaryDirectory { directory in
            let path = directory + "/log.1"
            func build(_ tail: (ZooKeeperTxnLogWriter) -> Void, truncatedBy: Int = 0) throws -> (entries: [ZooKeeperLogEntry], end: ZooKeeperTxnLogReader.End) {
                let writer = ZooKeeperTxnLogWriter(path: path)
                for txn in txns.prefix(3) { writer.append(txn) }
                tail(writer)
                try writer.finish(truncatedBy: truncatedBy)
                let reader = try ZooKeeperTxnLogReader(path: path)
                var entries: [ZooKeeperLogEntry] = []
                while let entry = try reader.next() { entries.append(entry) }
                return (entries, reader.end)
            }
            // The end of the file right after an entry, or a zero length (preallocation).
            var result = try build { _ in }
            #expect(result.entries.count == 3)
            if case .clean = result.end {} else { Issue.record("\(result.end)") }
            result = try build { $0.appendBytes([UInt8](repeating: 0, count: 4096)) }
            #expect(result.entries.count == 3)
            if case .clean = result.end {} else { Issue.record("\(result.end)") }
            // The last txn cut anywhere inside (checksum, length, bytes, marker).
            let entryBytes = ZooKeeperTxnDecoding.encode(txns[3], digest: nil).count + 13
            for cut in 1..<entryBytes {
                result = try build({ $0.append(txns[3]) }, truncatedBy: cut)
                #expect(result.entries.count == 3, "cut \(cut)")
                guard case .partial = result.end else {
                    Issue.record("cut \(cut): \(result.end)")
                    continue
                }
            }
            // Complete but without the 0x42 marker ("Last transaction was partial").
            result = try build { $0.appendRaw(ZooKeeperTxnDecoding.encode(txns[3], digest: nil), marker: 0) }
            #expect(result.entries.count == 3)
            if case .partial(_, let reason) = result.end { #expect(reason.contains("0x42")) } else { Issue.record("\(result.end)") }
        }
    }

    @Test func badChecksumInTheMiddleIsAnErrorNamingFileAndOffset() throws {
        let txns = sampleTxns(4)
        try zooKeeperTemporaryDirectory { directory in
            let path = directory + "/log.1"
            let writer = ZooKeeperTxnLogWriter(path: path)
            writer.append(txns[0])
            let offset = writer.offset
            writer.appendRaw(ZooKeeperTxnDecoding.encode(txns[1], digest: nil), checksum: 12345)
            writer.append(txns[2])
            try writer.finish()
            let error = #expect(throws: ZooKeeperMigrationError.self) { try zooKeeperLogEntries(path) }
            #expect(error?.kind == .corrupt && error?.exitCode == 1)
            #expect(error?.message.contains(path) == true)
            #expect(error?.message.contains("offset \(offset)") == true)
            #expect(error?.message.contains("Adler32") == true)
        }
    }

    @Test func otherDamageIsAnError() throws {
        try zooKeeperTemporaryDirectory { directory in
            let path = directory + "/log.1"
            // A negative length.
            var writer = ZooKeeperTxnLogWriter(path: path)
            writer.appendBytes([0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xF0])
            try writer.finish()
            #expect(throws: ZooKeeperMigrationError.self) { try zooKeeperLogEntries(path) }
            // A correct checksum around bytes that are no txn (an unknown type).
            writer = ZooKeeperTxnLogWriter(path: path)
            var header = TxnHeader(clientId: 1, cxid: 1, zxid: 1, time: 1, type: 99).encodedBytes()
            header += [0, 0, 0, 0]
            writer.appendRaw(header)
            try writer.finish()
            let error = #expect(throws: ZooKeeperMigrationError.self) { try zooKeeperLogEntries(path) }
            #expect(error?.message.contains("does not decode") == true)
            // Wrong magic.
            try zooKeeperEditFile(path) { $0[0] = 0x41 }
            #expect(throws: ZooKeeperMigrationError.self) { try ZooKeeperTxnLogReader(path: path) }
            // Shorter than a header (a crash right after creating the file): empty.
            try zooKeeperEditFile(path) { $0 = Array($0.prefix(9)) }
            let reader = try ZooKeeperTxnLogReader(path: path)
            #expect(try reader.next() == nil)
            #expect(reader.end == .noHeader(bytes: 9))
        }
    }

    @Test func zooKeeperTxnVariantsDecode() throws {
        // reconfig carries a SetDataTxn.
        let setData = TxnBody.setData(path: "/zookeeper/config", data: Array("server.1=x".utf8), version: 3)
        var bytes = ZooKeeperTxnDecoding.encode(
            Txn(header: TxnHeader(clientId: 1, cxid: 1, zxid: 7, time: 1, type: OpCode.reconfig.rawValue), body: setData), digest: nil)
        var decoded = try ZooKeeperTxnDecoding.decode(bytes)
        #expect(decoded.txn.body == setData && decoded.txn.header.type == OpCode.setData.rawValue)
        // CreateTxnV0 (a create without parentCVersion) becomes a create with parentCVersion -1.
        let create = CreateTxn(path: "/old", data: [1], acl: ACL.openUnsafe, ephemeral: false, parentCVersion: 5)
        bytes = ZooKeeperTxnDecoding.encode(
            Txn(header: TxnHeader(clientId: 1, cxid: 1, zxid: 8, time: 1, type: OpCode.create.rawValue), body: .create(create)), digest: nil)
        decoded = try ZooKeeperTxnDecoding.decode(Array(bytes.dropLast(4)))
        var expected = create
        expected.parentCVersion = -1
        #expect(decoded.txn.body == .create(expected))
        // closeSession with only a digest after the header (closeSessionTxn.enabled=false).
        bytes = TxnHeader(clientId: 1, cxid: 1, zxid: 9, time: 1, type: OpCode.closeSession.rawValue).encodedBytes() + [0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 42]
        decoded = try ZooKeeperTxnDecoding.decode(bytes)
        #expect(decoded.txn.body == .closeSession(pathsToDelete: []))
        #expect(decoded.digest == ZooKeeperTxnDigest(version: 2, value: 42))
        // With its CloseSessionTxn and a digest.
        bytes = ZooKeeperTxnDecoding.encode(
            Txn(header: TxnHeader(clientId: 1, cxid: 1, zxid: 9, time: 1, type: OpCode.closeSession.rawValue), body: .closeSession(pathsToDelete: ["/e"])),
            digest: ZooKeeperTxnDigest(version: 2, value: 7))
        decoded = try ZooKeeperTxnDecoding.decode(bytes)
        #expect(decoded.txn.body == .closeSession(pathsToDelete: ["/e"]) && decoded.digest?.value == 7)
    }
}
