import NIOCore
import Testing
import ZKBase
import ZKWire

@Suite struct ResponseCodecTests {
    @Test(arguments: Samples.responses)
    func roundTrip(_ opCode: OpCode, _ body: ResponseBody) throws {
        let (decoded, leftover) = try decodeResponse(opCode, encoded(body))
        #expect(decoded == body)
        #expect(leftover == 0)
    }

    /// addWatch answers with ErrorResponse{0} (4 bytes; see Fixtures/addWatch.hex) and reconfig with
    /// GetDataResponse-shaped {data, stat}: decoding must give back what was encoded.
    @Test func addWatchAndReconfigRepliesRoundTrip() throws {
        let addWatch = try decodeResponse(.addWatch, encoded(.errorResponse(0)))
        let reconfig = try decodeResponse(.reconfig, encoded(.reconfig(data: Array("server.1=a:1:2".utf8), stat: Samples.stat)))
        #expect(addWatch.0 == .errorResponse(0))
        #expect(addWatch.leftover == 0)
        #expect(reconfig.0 == .reconfig(data: Array("server.1=a:1:2".utf8), stat: Samples.stat))
        #expect(reconfig.leftover == 0)
    }

    /// A getData frame encoded from bytes in place is the frame of the same reply held as a
    /// value, byte for byte, for null, empty and non-empty data, and decodes back to it.
    @Test(arguments: [nil, [], Array("hello".utf8)] as [[UInt8]?])
    func getDataFrameFromBytesInPlaceMatchesTheValueEncoding(_ data: [UInt8]?) throws {
        let header = ReplyHeader(xid: 7, zxid: 0x1_0000_0002, err: 0)
        let frame: ReplyFrame
        if let data {
            frame = data.withUnsafeBytes { ReplyFrame.getData(header: header, data: $0, stat: Samples.stat) }
        } else {
            frame = ReplyFrame.getData(header: header, data: nil, stat: Samples.stat)
        }
        let body = ResponseBody.getData(data: data, stat: Samples.stat)
        #expect(frame.bytes == ReplyFrame.encode(header, body, allocator: ByteBufferAllocator()))
        #expect(frame.bytes.getInteger(at: frame.bytes.readerIndex, as: Int32.self) == Int32(frame.bytes.readableBytes - 4))
        #expect(frame.dataCount == data?.count ?? 0)
        let decoded = try frame.decoded(as: .getData)
        #expect(decoded.header == header && decoded.body == body)
    }

    /// Expected bytes from ZooKeeper 3.8.0's jute classes.
    @Test(arguments: [
        (ResponseBody.stat(Samples.stat),
         "00000000000000010000000000000002000000000000000300000000000000040000000500000006000000070000000000000008000000090000000a000000000000000b"),
        (.getData(data: Array("hello".utf8), stat: Samples.stat),
         "0000000568656c6c6f00000000000000010000000000000002000000000000000300000000000000040000000500000006000000070000000000000008000000090000000a000000000000000b"),
        (.children2(["a", "b"], stat: Samples.stat),
         "000000020000000161000000016200000000000000010000000000000002000000000000000300000000000000040000000500000006000000070000000000000008000000090000000a000000000000000b"),
        (.getACL(acl: Samples.mixedACL, stat: Samples.stat),
         "000000020000001f0000000664696765737400000020626f623a4734685944734f675148506979327a652b6e4342343571534a6e673d000000010000000269700000000a31302e302e302e302f3800000000000000010000000000000002000000000000000300000000000000040000000500000006000000070000000000000008000000090000000a000000000000000b"),
        (.whoAmI([ClientInfo(authScheme: "ip", user: "127.0.0.1")]), "00000001000000026970000000093132372e302e302e31"),
        (.multi([.create(path: "/m"), .error(.noNode), .delete, .setData(stat: Samples.stat), .check]),
         "000000010000000000000000022f6dffffffff00ffffff9bffffff9b00000002000000000000000005000000000000000000000000010000000000000002000000000000000300000000000000040000000500000006000000070000000000000008000000090000000a000000000000000b0000000d0000000000ffffffff01ffffffff"),
        (.errorResponse(0), "00000000"),
    ])
    func encodingMatchesZooKeeper(_ body: ResponseBody, _ expectedHex: String) {
        #expect(hex(encoded(body)) == expectedHex)
    }

    @Test func multiErrorWithUnknownCodeDecodesAsSystemError() throws {
        var out = ByteBufferAllocator().buffer(capacity: 32)
        MultiHeader(type: -1, done: false, err: -9999).encode(into: &out)
        out.writeJuteInt(-9999)
        MultiHeader.end.encode(into: &out)
        let (decoded, _) = try decodeResponse(.multi, drain(&out))
        #expect(decoded == .multi([.error(.systemError)]))
    }
}

@Suite struct RecordCodecTests {
    private func roundTrip<R: JuteRecord & Equatable>(_ record: R, hex expected: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(hex(record.encodedBytes()) == expected, sourceLocation: sourceLocation)
        #expect(try R.decode(bytes: bytes(hex: expected)) == record, sourceLocation: sourceLocation)
    }

    /// Expected bytes from ZooKeeper 3.8.0's jute classes.
    @Test func headersAndEventsMatchZooKeeper() throws {
        try roundTrip(ReplyHeader(xid: 7, zxid: 0x1_0000_0005, err: -101), hex: "000000070000000100000005ffffff9b")
        try roundTrip(RequestHeader(xid: 7, type: 4), hex: "0000000700000004")
        try roundTrip(WatcherEvent(type: .nodeDataChanged, path: "/w"), hex: "0000000300000003000000022f77")
        try roundTrip(TxnHeader(clientId: 1, cxid: 2, zxid: 3, time: 4, type: 5), hex: "0000000000000001000000020000000000000003000000000000000400000005")
        try roundTrip(Samples.stat, hex: "00000000000000010000000000000002000000000000000300000000000000040000000500000006000000070000000000000008000000090000000a000000000000000b")
        try roundTrip(MultiHeader.end, hex: "ffffffff01ffffffff")
    }

    @Test func connectRequestWithoutReadOnlyByteMatchesZooKeeper() throws {
        // org.apache.zookeeper.proto.ConnectRequest has no readOnly field: old clients send 44 bytes.
        let request = ConnectRequest(protocolVersion: 0, lastZxidSeen: 5, timeoutMs: 30_000, sessionId: 0, password: [UInt8](repeating: 0, count: 16), readOnly: nil)
        try roundTrip(request, hex: "0000000000000000000000050000753000000000000000000000001000000000000000000000000000000000")
    }

    @Test func connectRequestWithReadOnlyByte() throws {
        var request = ConnectRequest(lastZxidSeen: 5, timeoutMs: 30_000, readOnly: false)
        try roundTrip(request, hex: "000000000000000000000005000075300000000000000000000000100000000000000000000000000000000000")
        request.readOnly = true
        #expect(request.encodedBytes().count == 45)
        #expect(try ConnectRequest.decode(bytes: request.encodedBytes()).readOnly == true)
    }

    @Test func connectResponseWithAndWithoutReadOnly() throws {
        let password: [UInt8] = Array(1...16)
        try roundTrip(ConnectResponse(timeoutMs: 30_000, sessionId: 0x1234, password: password, readOnly: nil),
                      hex: "00000000000075300000000000001234000000100102030405060708090a0b0c0d0e0f10")
        try roundTrip(ConnectResponse(timeoutMs: 30_000, sessionId: 0x1234, password: password, readOnly: false),
                      hex: "00000000000075300000000000001234000000100102030405060708090a0b0c0d0e0f1000")
    }

    @Test func aclAndIdRoundTrip() throws {
        for acl in Samples.mixedACL + ACL.openUnsafe + ACL.creatorAll {
            #expect(try ACL.decode(bytes: acl.encodedBytes()) == acl)
        }
        var persisted = StatPersisted()
        persisted.czxid = 1; persisted.mzxid = 2; persisted.ctime = 3; persisted.mtime = 4; persisted.version = 5
        persisted.cversion = 6; persisted.aversion = 7; persisted.ephemeralOwner = 8; persisted.pzxid = 9
        #expect(persisted.encodedBytes().count == 60)
        #expect(try StatPersisted.decode(bytes: persisted.encodedBytes()) == persisted)
        #expect(Samples.stat.encodedBytes().count == Stat.encodedSize)
    }

    @Test func juteStringsAreUTF8WithByteLengths() throws {
        var out = ByteBufferAllocator().buffer(capacity: 16)
        out.writeJuteString("é")
        out.writeJuteString(nil)
        out.writeJuteBuffer(nil)
        out.writeJuteBuffer([])
        out.writeJuteStringVector(nil)
        #expect(hex(drain(&out)) == "00000002c3a9" + "ffffffff" + "ffffffff" + "00000000" + "ffffffff")
        var input = buffer(bytes(hex: "00000002c3a9ffffffffffffffff00000000ffffffff"))
        #expect(try input.readJuteString("a") == "é")
        #expect(try input.readJuteString("b") == nil)
        #expect(try input.readJuteBuffer("c") == nil)
        #expect(try input.readJuteBuffer("d") == [])
        #expect(try input.readJuteStringVector("e") == nil)
        #expect(input.readableBytes == 0)
    }

    /// Jute writes a Java string one UTF-16 unit at a time: characters beyond the BMP go out as two
    /// 3-byte surrogate sequences (bytes from ZooKeeper 3.8.0's BinaryOutputArchive.writeString).
    @Test func nonBMPStringsAreWrittenAsJavaDoes() {
        var out = ByteBufferAllocator().buffer(capacity: 16)
        out.writeJuteString("/\u{1F600}é")
        #expect(hex(drain(&out)) == "000000092feda0bdedb880c3a9")
    }

    @Test func surrogateBytesAreReadAsJavaDoes() throws {
        // BinaryInputArchive.readString of those bytes gives "/\uFFFD\uFFFDé" (one U+FFFD per 3-byte sequence).
        var input = buffer(bytes(hex: "000000092feda0bdedb880c3a9"))
        let read = try input.readJuteString("path")
        #expect(read == "/\u{FFFD}\u{FFFD}é")
    }
}
