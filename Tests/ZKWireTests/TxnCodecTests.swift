import NIOCore
import Testing
import ZKBase
import ZKWire

@Suite struct TxnCodecTests {
    @Test(arguments: Samples.txnBodies)
    func bodyRoundTrip(_ body: TxnBody) throws {
        let (decoded, leftover) = try decodeTxnBody(body.opCode.rawValue, encoded(body))
        #expect(decoded == body)
        #expect(leftover == 0)
    }

    @Test(arguments: Samples.txnBodies)
    func txnRoundTrip(_ body: TxnBody) throws {
        let txn = Txn(header: TxnHeader(clientId: 0x1234, cxid: 7, zxid: 0x1_0000_0009, time: 1_700_000_000_000, type: body.opCode.rawValue), body: body)
        var out = ByteBufferAllocator().buffer(capacity: 128)
        txn.encode(into: &out)
        let decoded = try Txn.decode(from: &out)
        #expect(decoded == txn)
        #expect(out.readableBytes == 0)
    }

    /// Expected bytes from ZooKeeper 3.8.0's org.apache.zookeeper.txn classes.
    @Test(arguments: [
        (TxnBody.create(CreateTxn(path: "/a", data: Array("x".utf8), acl: ACL.openUnsafe, ephemeral: true, parentCVersion: 1)),
         "000000022f610000000178000000010000001f00000005776f726c6400000006616e796f6e650100000001"),
        (.createTTL(CreateTxn(path: "/t", data: [], acl: Samples.mixedACL, ephemeral: false, parentCVersion: 2, ttl: 60_000)),
         "000000022f7400000000000000020000001f0000000664696765737400000020626f623a4734685944734f675148506979327a652b6e4342343571534a6e673d000000010000000269700000000a31302e302e302e302f3800000002000000000000ea60"),
        (.createContainer(CreateTxn(path: "/c", data: [1, 2], acl: Samples.mixedACL, ephemeral: false, parentCVersion: 4)),
         "000000022f63000000020102000000020000001f0000000664696765737400000020626f623a4734685944734f675148506979327a652b6e4342343571534a6e673d000000010000000269700000000a31302e302e302e302f3800000004"),
        (.setData(path: "/s", data: Array("v".utf8), version: 3), "000000022f73000000017600000003"),
        (.setACL(path: "/s", acl: Samples.mixedACL, version: 2),
         "000000022f73000000020000001f0000000664696765737400000020626f623a4734685944734f675148506979327a652b6e4342343571534a6e673d000000010000000269700000000a31302e302e302e302f3800000002"),
        (.check(path: "/s", version: 4), "000000022f7300000004"),
        (.error(.nodeExists), "ffffff92"),
        (.createSession(timeoutMs: 30_000), "00007530"),
        (.closeSession(pathsToDelete: ["/e1", "/e2"]), "00000002000000032f6531000000032f6532"),
        (.multi([.delete(path: "/x"), .error(.noNode)]), "000000020000000200000006000000022f78ffffffff00000004ffffff9b"),
    ])
    func encodingMatchesZooKeeper(_ body: TxnBody, _ expectedHex: String) throws {
        #expect(hex(encoded(body)) == expectedHex)
        #expect(try decodeTxnBody(body.opCode.rawValue, bytes(hex: expectedHex)).0 == body)
    }

    @Test func legacyCloseSessionWithoutBody() throws {
        #expect(try decodeTxnBody(OpCode.closeSession.rawValue, []).0 == .closeSession(pathsToDelete: []))
    }

    @Test func multiInsideMultiIsRejected() throws {
        let inner = encoded(.multi([.delete(path: "/x")]))
        var out = ByteBufferAllocator().buffer(capacity: 64)
        out.writeJuteInt(1)
        out.writeJuteInt(OpCode.multi.rawValue)
        out.writeJuteBuffer(inner)
        #expect(throws: JuteDecodingError.self) { try decodeTxnBody(OpCode.multi.rawValue, drain(&out)) }
    }

    @Test(arguments: [OpCode.getData, .ping, .auth])
    func nonTxnTypesAreRejected(_ opCode: OpCode) {
        #expect(throws: JuteDecodingError.self) { try decodeTxnBody(opCode.rawValue, [0, 0, 0, 0]) }
    }

    @Test func unknownTypeIsRejected() {
        #expect(throws: JuteDecodingError.invalidValue(field: "TxnHeader.type", value: 999)) {
            try decodeTxnBody(999, [])
        }
    }
}
