import NIOCore
import ZKBase
import ZKWire

func bytes(hex: String) -> [UInt8] {
    let digits = Array(hex.utf8.filter { $0 != UInt8(ascii: " ") })
    precondition(digits.count % 2 == 0, "odd hex length")
    var result: [UInt8] = []
    result.reserveCapacity(digits.count / 2)
    for index in stride(from: 0, to: digits.count, by: 2) {
        result.append(UInt8(String(decoding: digits[index...index + 1], as: UTF8.self), radix: 16)!)
    }
    return result
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBufferAllocator().buffer(bytes: bytes) }

func drain(_ buffer: inout ByteBuffer) -> [UInt8] { buffer.readBytes(length: buffer.readableBytes) ?? [] }

/// The wire opcode a request body is sent with (the default one when a body serves several).
func opCodeRaw(for body: RequestBody) -> Int32 {
    switch body {
    case .create(let opCode, _), .getChildren(let opCode, _, _), .setWatches(let opCode, _): return opCode.rawValue
    case .delete: return OpCode.delete.rawValue
    case .exists: return OpCode.exists.rawValue
    case .getData: return OpCode.getData.rawValue
    case .setData: return OpCode.setData.rawValue
    case .getACL: return OpCode.getACL.rawValue
    case .setACL: return OpCode.setACL.rawValue
    case .sync: return OpCode.sync.rawValue
    case .check: return OpCode.check.rawValue
    case .multi, .malformedMulti: return OpCode.multi.rawValue
    case .wrongKindMulti(let opCode): return opCode.rawValue
    case .multiRead: return OpCode.multiRead.rawValue
    case .reconfig: return OpCode.reconfig.rawValue
    case .checkWatches: return OpCode.checkWatches.rawValue
    case .removeWatches: return OpCode.removeWatches.rawValue
    case .auth: return OpCode.auth.rawValue
    case .getEphemerals: return OpCode.getEphemerals.rawValue
    case .getAllChildrenNumber: return OpCode.getAllChildrenNumber.rawValue
    case .addWatch: return OpCode.addWatch.rawValue
    case .whoAmI: return OpCode.whoAmI.rawValue
    case .ping: return OpCode.ping.rawValue
    case .closeSession: return OpCode.closeSession.rawValue
    case .sasl: return OpCode.sasl.rawValue
    case .unknown(let type): return type
    }
}

func request(_ xid: Int32, _ body: RequestBody) -> ClientRequest {
    ClientRequest(xid: xid, opCodeRaw: opCodeRaw(for: body), body: body)
}

func encoded(_ request: ClientRequest) -> [UInt8] {
    var out = ByteBufferAllocator().buffer(capacity: 128)
    request.encode(into: &out)
    return drain(&out)
}

func encoded(_ body: ResponseBody) -> [UInt8] {
    var out = ByteBufferAllocator().buffer(capacity: 128)
    body.encode(into: &out)
    return drain(&out)
}

func encoded(_ body: TxnBody) -> [UInt8] {
    var out = ByteBufferAllocator().buffer(capacity: 128)
    body.encode(into: &out)
    return drain(&out)
}

/// Decodes and reports how many bytes were left over (a full decode leaves none).
func decodeRequest(_ bytes: [UInt8]) throws -> (ClientRequest, leftover: Int) {
    var input = buffer(bytes)
    let request = try ClientRequest.decode(from: &input)
    return (request, input.readableBytes)
}

func decodeResponse(_ opCode: OpCode, _ bytes: [UInt8]) throws -> (ResponseBody, leftover: Int) {
    var input = buffer(bytes)
    let body = try ResponseBody.decode(opCode: opCode, from: &input)
    return (body, input.readableBytes)
}

func decodeTxnBody(_ type: Int32, _ bytes: [UInt8]) throws -> (TxnBody, leftover: Int) {
    var input = buffer(bytes)
    let body = try TxnBody.decode(type: type, from: &input)
    return (body, input.readableBytes)
}

/// SplitMix64: a seeded generator so every fuzz run sees the same inputs.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Samples {
    static let digestACL = ACL(perms: .all, id: Id(scheme: "digest", id: "bob:G4hYDsOgQHPiy2ze+nCB45qSJng="))
    static let ipACL = ACL(perms: .read, id: Id(scheme: "ip", id: "10.0.0.0/8"))
    static let mixedACL = [digestACL, ipACL]
    static let stat = Stat(
        czxid: 1, mzxid: 2, ctime: 3, mtime: 4, version: 5, cversion: 6, aversion: 7, ephemeralOwner: 8,
        dataLength: 9, numChildren: 10, pzxid: 11)

    /// Non-TTL creates decode with ttl -1 (ZooKeeper's "no TTL"), so the samples say so.
    static func create(_ path: String, _ data: [UInt8]?, flags: Int32 = 0, acl: [ACL] = ACL.openUnsafe) -> CreateRequest {
        CreateRequest(path: path, data: data, acl: acl, flags: flags, ttl: 0)
    }

    /// One request per body kind, multi and multiRead holding every op type they allow.
    static let requests: [ClientRequest] = [
        request(1, .create(opCode: .create, create("/a", Array("hi".utf8), flags: 3))),
        request(2, .create(opCode: .create2, create("/b", [], acl: mixedACL))),
        request(3, .create(opCode: .createContainer, create("/c", [1, 2, 3], flags: 4))),
        request(4, .create(opCode: .createTTL, CreateRequest(path: "/t", data: nil, acl: ACL.openUnsafe, flags: 5, ttl: 60_000))),
        request(5, .create(opCode: .create, create("/null", nil))),
        request(6, .delete(path: "/a", version: 3)),
        ClientRequest(xid: 7, opCodeRaw: OpCode.deleteContainer.rawValue, body: .delete(path: "/c", version: -1)),
        request(8, .exists(path: "/a", watch: true)),
        request(9, .exists(path: "/a", watch: false)),
        request(10, .getData(path: "/a", watch: true)),
        request(11, .setData(path: "/a", data: Array("value".utf8), version: -1)),
        request(12, .setData(path: "/a", data: nil, version: 4)),
        request(13, .getACL(path: "/a")),
        request(14, .setACL(path: "/a", acl: mixedACL, version: 2)),
        request(15, .getChildren(opCode: .getChildren, path: "/", watch: true)),
        request(16, .getChildren(opCode: .getChildren2, path: "/a", watch: false)),
        request(17, .sync(path: "/a")),
        request(18, .check(path: "/a", version: 7)),
        request(19, .multi([
            .create(opCode: .create, create("/m", Array("d".utf8))),
            .create(opCode: .createContainer, create("/mc", nil, flags: 4)),
            .create(opCode: .createTTL, CreateRequest(path: "/mt", data: [], acl: ACL.openUnsafe, flags: 5, ttl: 1000)),
            .delete(path: "/m", version: -1),
            .setData(path: "/m", data: Array("e".utf8), version: 2),
            .setData(path: "/m", data: nil, version: -1),
            .check(path: "/m", version: 3),
        ])),
        request(20, .multi([])),
        request(21, .multiRead([.getChildren(path: "/"), .getData(path: "/m")])),
        request(22, .reconfig(joiningServers: nil, leavingServers: "2", newMembers: "server.1=a:1:2", currentConfigId: -1)),
        request(23, .checkWatches(path: "/a", type: 3)),
        request(24, .removeWatches(path: "/a", type: 1)),
        request(-4, .auth(type: 0, scheme: "digest", auth: Array("bob:secret".utf8))),
        request(-8, .setWatches(opCode: .setWatches, SetWatchesRequest(
            relativeZxid: 9, dataWatches: ["/d"], existWatches: [], childWatches: ["/c", "/c2"]))),
        request(-8, .setWatches(opCode: .setWatches2, SetWatchesRequest(
            relativeZxid: 7, dataWatches: ["/d"], existWatches: ["/e"], childWatches: ["/c"],
            persistentWatches: ["/p"], persistentRecursiveWatches: ["/r"]))),
        request(25, .getEphemerals(prefixPath: "/e")),
        request(26, .getAllChildrenNumber(path: "/")),
        request(27, .addWatch(path: "/aw", mode: 1)),
        request(28, .whoAmI),
        request(-2, .ping),
        request(29, .closeSession),
        request(30, .unknown(type: 55)),
    ]

    /// One reply per body kind, keyed by the request opcode it answers.
    static let responses: [(OpCode, ResponseBody)] = [
        (.create, .create(path: "/a")),
        (.create2, .create2(path: "/b", stat: stat)),
        (.createContainer, .create2(path: "/c", stat: stat)),
        (.createTTL, .create2(path: "/t", stat: stat)),
        (.exists, .stat(stat)),
        (.setData, .stat(stat)),
        (.setACL, .stat(stat)),
        (.getData, .getData(data: Array("hello".utf8), stat: stat)),
        (.getData, .getData(data: nil, stat: stat)),
        (.getACL, .getACL(acl: mixedACL, stat: stat)),
        (.getChildren, .children(["a", "b", "é"])),
        (.getChildren, .children([])),
        (.getChildren2, .children2(["x"], stat: stat)),
        (.sync, .sync(path: "/a")),
        (.multi, .multi([
            .create(path: "/m"), .create2(path: "/m2", stat: stat), .delete, .setData(stat: stat), .check,
            .error(.noNode),
        ])),
        (.multi, .multi([.error(.ok), .error(.badVersion), .error(.runtimeInconsistency)])),
        (.multiRead, .multi([.getChildren(children: ["a"]), .getData(data: [1], stat: stat), .getData(data: nil, stat: stat), .error(.noNode)])),
        (.getEphemerals, .ephemerals(["/e1", "/e2"])),
        (.getAllChildrenNumber, .allChildrenNumber(42)),
        (.whoAmI, .whoAmI([ClientInfo(authScheme: "ip", user: "127.0.0.1"), ClientInfo(authScheme: "digest", user: "bob")])),
        (.delete, .empty),
        (.ping, .empty),
        (.closeSession, .empty),
        (.setWatches, .empty),
        (.checkWatches, .empty),
        (.removeWatches, .empty),
        (.auth, .empty),
    ]

    static let createTxn = CreateTxn(path: "/a", data: Array("x".utf8), acl: ACL.openUnsafe, ephemeral: true, parentCVersion: 1)

    /// One txn body per kind; multi holds every kind a MultiTxn may.
    static let txnBodies: [TxnBody] = [
        .create(createTxn),
        .create(CreateTxn(path: "/n", data: nil, acl: mixedACL, ephemeral: false, parentCVersion: -1)),
        .create2(createTxn),
        .createContainer(CreateTxn(path: "/c", data: [1, 2], acl: mixedACL, ephemeral: false, parentCVersion: 4)),
        .createTTL(CreateTxn(path: "/t", data: [], acl: mixedACL, ephemeral: false, parentCVersion: 2, ttl: 60_000)),
        .delete(path: "/a"),
        .deleteContainer(path: "/c"),
        .setData(path: "/s", data: Array("v".utf8), version: 3),
        .setData(path: "/s", data: nil, version: 4),
        .setACL(path: "/s", acl: mixedACL, version: 2),
        .check(path: "/s", version: 4),
        .createSession(timeoutMs: 30_000),
        .closeSession(pathsToDelete: ["/e1", "/e2"]),
        .closeSession(pathsToDelete: []),
        .error(.nodeExists),
        .multi([
            .create(createTxn), .createContainer(CreateTxn(path: "/c", data: [], acl: ACL.openUnsafe, ephemeral: false, parentCVersion: 1)),
            .createTTL(CreateTxn(path: "/t", data: [], acl: ACL.openUnsafe, ephemeral: false, parentCVersion: 2, ttl: 5)),
            .delete(path: "/x"), .deleteContainer(path: "/c"), .setData(path: "/s", data: [9], version: 1),
            .setACL(path: "/s", acl: ACL.readUnsafe, version: 1), .check(path: "/s", version: 1), .error(.ok),
            .error(.noNode), .error(.runtimeInconsistency),
        ]),
        .multi([]),
    ]
}
