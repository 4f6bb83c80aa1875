import NIOCore
import Testing
import ZKBase
import ZKWire

@Suite struct ClientRequestCodecTests {
    @Test(arguments: Samples.requests)
    func roundTrip(_ original: ClientRequest) throws {
        let (decoded, leftover) = try decodeRequest(encoded(original))
        #expect(decoded == original)
        #expect(leftover == 0, "decoder must consume the whole frame")
        #expect(encoded(decoded) == encoded(original))
    }

    @Test func everyBodyKindIsSampled() {
        // A new RequestBody case without a sample fails here, not silently.
        var kinds = Set<String>()
        for sample in Samples.requests {
            kinds.insert(String(describing: sample.body).prefix { $0 != "(" }.description)
        }
        for kind in [
            "create", "delete", "exists", "getData", "setData", "getACL", "setACL", "getChildren", "sync", "check",
            "multi", "multiRead", "reconfig", "checkWatches", "removeWatches", "auth", "setWatches", "getEphemerals",
            "getAllChildrenNumber", "addWatch", "whoAmI", "ping", "closeSession", "unknown",
        ] {
            #expect(kinds.contains(kind), "no sample for \(kind)")
        }
    }

    /// Expected bytes come from ZooKeeper 3.8.0's jute classes (BinaryOutputArchive), run on the JVM.
    @Test(arguments: [
        (request(1, .create(opCode: .create, Samples.create("/a", Array("hi".utf8), flags: 3))),
         "0000000100000001" + "000000022f61000000026869000000010000001f00000005776f726c6400000006616e796f6e6500000003"),
        (request(1, .create(opCode: .createTTL, CreateRequest(path: "/t", data: [], acl: ACL.openUnsafe, flags: 5, ttl: 1000))),
         "0000000100000015" + "000000022f7400000000000000010000001f00000005776f726c6400000006616e796f6e650000000500000000000003e8"),
        (request(2, .setACL(path: "/s", acl: Samples.mixedACL, version: -1)),
         "0000000200000007" + "000000022f73000000020000001f0000000664696765737400000020626f623a4734685944734f675148506979327a652b6e4342343571534a6e673d000000010000000269700000000a31302e302e302e302f38ffffffff"),
        (request(3, .getChildren(opCode: .getChildren, path: "/g", watch: true)), "0000000300000008" + "000000022f6701"),
        (request(4, .reconfig(joiningServers: nil, leavingServers: "2", newMembers: "server.1=a:1:2", currentConfigId: -1)),
         "0000000400000010" + "ffffffff00000001320000000e7365727665722e313d613a313a32ffffffffffffffff"),
        (request(5, .addWatch(path: "/aw", mode: 1)), "000000050000006a" + "000000032f617700000001"),
        (request(6, .getEphemerals(prefixPath: "/e")), "0000000600000067" + "000000022f65"),
        (request(7, .removeWatches(path: "/rw", type: 3)), "0000000700000012" + "000000032f727700000003"),
        (request(-8, .setWatches(opCode: .setWatches, SetWatchesRequest(relativeZxid: 9, dataWatches: ["/d"], childWatches: ["/c"]))),
         "fffffff800000065" + "000000000000000900000001000000022f640000000000000001000000022f63"),
        (request(-8, .setWatches(opCode: .setWatches2, SetWatchesRequest(
            relativeZxid: 7, dataWatches: ["/d"], existWatches: ["/e"], childWatches: ["/c"], persistentWatches: ["/p"],
            persistentRecursiveWatches: ["/r"]))),
         "fffffff800000069" + "000000000000000700000001000000022f6400000001000000022f6500000001000000022f6300000001000000022f7000000001000000022f72"),
        (request(-4, .auth(type: 0, scheme: "digest", auth: Array("bob:a".utf8))),
         "fffffffc00000064" + "000000000000000664696765737400000005626f623a61"),
        (request(8, .multi([
            .create(opCode: .create, Samples.create("/m", Array("d".utf8))), .delete(path: "/m", version: -1),
            .setData(path: "/m", data: Array("e".utf8), version: 2), .check(path: "/m", version: 3),
        ])),
         "000000080000000e" + "0000000100ffffffff000000022f6d0000000164000000010000001f00000005776f726c6400000006616e796f6e65000000000000000200ffffffff000000022f6dffffffff0000000500ffffffff000000022f6d0000000165000000020000000d00ffffffff000000022f6d00000003ffffffff01ffffffff"),
        (request(9, .multiRead([.getChildren(path: "/"), .getData(path: "/m")])),
         "0000000900000016" + "0000000800ffffffff000000012f000000000400ffffffff000000022f6d00ffffffff01ffffffff"),
    ])
    func encodingMatchesZooKeeper(_ request: ClientRequest, _ expectedHex: String) throws {
        #expect(hex(encoded(request)) == expectedHex)
        let (decoded, leftover) = try decodeRequest(bytes(hex: expectedHex))
        #expect(decoded == request)
        #expect(leftover == 0)
    }

    @Test func unknownOpCodeKeepsTheHeader() throws {
        let (decoded, _) = try decodeRequest(bytes(hex: "0000000100000037"))
        #expect(decoded.xid == 1)
        #expect(decoded.opCodeRaw == 55)
        #expect(decoded.opCode == nil)
        #expect(decoded.body == .unknown(type: 55))
    }

    @Test(arguments: [OpCode.notification, .createSession, .error])
    func serverOnlyOpCodesAreUnknownRequests(_ opCode: OpCode) throws {
        var frame = ByteBufferAllocator().buffer(capacity: 8)
        RequestHeader(xid: 3, type: opCode.rawValue).encode(into: &frame)
        let (decoded, _) = try decodeRequest(drain(&frame))
        #expect(decoded.body == .unknown(type: opCode.rawValue))
    }

    @Test func multiCreateTypeComesFromTheFlags() throws {
        // MultiOperationRecord rebuilds each create from its flags, whatever the op header said;
        // the decoded op keeps the header's type (it re-encodes byte for byte).
        let sent = request(1, .multi([.create(opCode: .create2, Samples.create("/x", [], flags: 4))]))
        let (decoded, _) = try decodeRequest(encoded(sent))
        #expect(decoded.body == .multi([.create(opCode: .create2, Samples.create("/x", [], flags: 4))]))
        guard case .multi(let operations) = decoded.body else { return }
        #expect(operations.map(\.asZooKeeperRebuildsIt) == [.create(opCode: .createContainer, Samples.create("/x", [], flags: 4))])
        #expect(encoded(decoded) == encoded(sent))
    }

    private func multiFrame(_ opCode: OpCode, _ ops: [(OpCode, (inout ByteBuffer) -> Void)]) -> [UInt8] {
        var out = ByteBufferAllocator().buffer(capacity: 64)
        RequestHeader(xid: 1, type: opCode.rawValue).encode(into: &out)
        for (type, body) in ops {
            MultiHeader(type: type.rawValue, done: false, err: -1).encode(into: &out)
            body(&out)
        }
        MultiHeader.end.encode(into: &out)
        return drain(&out)
    }

    private static func getData(_ out: inout ByteBuffer) {
        out.writeJuteString("/a")
        out.writeJuteBool(false)
    }

    private static func check(_ out: inout ByteBuffer) {
        out.writeJuteString("/a")
        out.writeJuteInt(-1)
    }

    @Test func multiOfReadOpsIsTheWrongKind() throws {
        // ZooKeeper decodes it, then fails it with MarshallingError while processing.
        let (decoded, _) = try decodeRequest(multiFrame(.multi, [(.getData, Self.getData)]))
        #expect(decoded.body == .wrongKindMulti(opCode: .multi))
        let (decodedRead, _) = try decodeRequest(multiFrame(.multiRead, [(.check, Self.check)]))
        #expect(decodedRead.body == .wrongKindMulti(opCode: .multiRead))
    }

    @Test func multiMixingReadAndWriteOpsIsMalformed() throws {
        let (decoded, _) = try decodeRequest(multiFrame(.multi, [(.check, Self.check), (.getData, Self.getData)]))
        #expect(decoded.body == .malformedMulti)
    }

    @Test func multiWithANonOpTypeIsMalformed() throws {
        let (decoded, _) = try decodeRequest(multiFrame(.multi, [(.exists, Self.getData)]))
        #expect(decoded.body == .malformedMulti)
    }

    @Test func nestedMultiIsMalformed() throws {
        var out = ByteBufferAllocator().buffer(capacity: 64)
        RequestHeader(xid: 1, type: OpCode.multi.rawValue).encode(into: &out)
        MultiHeader(type: OpCode.multi.rawValue, done: false, err: -1).encode(into: &out)
        MultiHeader.end.encode(into: &out)
        MultiHeader.end.encode(into: &out)
        let (decoded, _) = try decodeRequest(drain(&out))
        #expect(decoded.body == .malformedMulti)
    }

    @Test func nullStringsAndBuffers() throws {
        // A null path reads as "" (Java's readString tolerates it); a null data buffer stays nil.
        let (decoded, _) = try decodeRequest(bytes(hex: "0000000100000005" + "ffffffff" + "ffffffff" + "00000001"))
        #expect(decoded.body == .setData(path: "", data: nil, version: 1))
    }

    @Test func defaultTTLSurvivesARoundTrip() throws {
        // CreateRequest documents ttl as "0 otherwise" and defaults it to 0, but decoding a plain create yields -1.
        let sent = request(1, .create(opCode: .create, CreateRequest(path: "/a", data: [], acl: ACL.openUnsafe, flags: 0)))
        let (decoded, _) = try decodeRequest(encoded(sent))
        #expect(decoded == sent)
    }
}
