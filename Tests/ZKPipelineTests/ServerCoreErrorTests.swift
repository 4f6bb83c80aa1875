import Testing
import ZKBase
import ZKPipeline
import ZKTree
import ZKWire

/// Error codes as PrepRequestProcessor / FinalRequestProcessor of ZooKeeper 3.8 give them.
@Suite struct ServerCoreErrorTests {
    /// A session on connection 1 with /a (persistent, version 0) holding /a/child, and /eph (ephemeral).
    static func prepared() -> CoreHarness {
        var harness = CoreHarness()
        _ = harness.session(1)
        _ = harness.call(1, 1, create("/a"))
        _ = harness.call(1, 2, create("/a/child"))
        _ = harness.call(1, 3, create("/eph", mode: .ephemeral))
        return harness
    }

    static let cases: [(String, RequestBody, ErrorCode)] = [
        ("create under a missing parent", create("/missing/x"), .noNode),
        ("setData of a missing node", .setData(path: "/missing", data: [], version: -1), .noNode),
        ("delete of a missing node", .delete(path: "/missing", version: -1), .noNode),
        ("setACL of a missing node", .setACL(path: "/missing", acl: ACL.openUnsafe, version: -1), .noNode),
        ("check of a missing node", .check(path: "/missing", version: -1), .noNode),
        ("create of an existing node", create("/a"), .nodeExists),
        ("create of the root", create("/"), .nodeExists),
        ("setData with a stale version", .setData(path: "/a", data: [], version: 5), .badVersion),
        ("delete with a stale version", .delete(path: "/a/child", version: 3), .badVersion),
        ("setACL with a stale aversion", .setACL(path: "/a", acl: ACL.openUnsafe, version: 2), .badVersion),
        ("check with a stale version", .check(path: "/a", version: 9), .badVersion),
        ("delete of a node with children", .delete(path: "/a", version: -1), .notEmpty),
        ("child of an ephemeral", create("/eph/kid"), .noChildrenForEphemerals),
        ("create with an unknown ACL scheme", create("/x", acl: [ACL(perms: .all, id: Id(scheme: "foo", id: "bar"))]), .invalidACL),
        ("create with an empty ACL", create("/x", acl: []), .invalidACL),
        ("create with a malformed digest id", create("/x", acl: [ACL(perms: .all, id: Id(scheme: "digest", id: "nocolon"))]), .invalidACL),
        ("create with a malformed ip id", create("/x", acl: [ACL(perms: .all, id: Id(scheme: "ip", id: "1.2.3"))]), .invalidACL),
        ("auth ACL without digest authentication", create("/x", acl: ACL.creatorAll), .invalidACL),
        ("setACL with an unknown scheme", .setACL(path: "/a", acl: [ACL(perms: .all, id: Id(scheme: "foo", id: "x"))], version: -1), .invalidACL),
        ("create of a relative path", create("a"), .badArguments),
        ("create with a trailing slash", create("/a/"), .badArguments),
        // The parent ("/a/") is looked up before the path is validated, as in PrepRequestProcessor.
        ("create with an empty component", create("/a//b"), .noNode),
        ("create with NUL", create("/a\u{0}b"), .badArguments),
        ("create with unknown flags", .create(opCode: .create, CreateRequest(path: "/x", data: [], acl: ACL.openUnsafe, flags: 99, ttl: 0)), .badArguments),
        ("delete of the root", .delete(path: "/", version: -1), .badArguments),
        ("delete of /zookeeper", .delete(path: "/zookeeper", version: -1), .badArguments),
        ("delete of /zookeeper/quota", .delete(path: "/zookeeper/quota", version: -1), .badArguments),
        ("delete of a relative path", .delete(path: "a", version: -1), .badArguments),
        ("setData of an invalid path", .setData(path: "/a/", data: [], version: -1), .badArguments),
        ("create with a TTL mode but no extended types", create("/t", mode: .persistentWithTTL, opCode: .createTTL, ttl: 1000), .unimplemented),
        ("reconfig on a standalone server", .reconfig(joiningServers: nil, leavingServers: nil, newMembers: nil, currentConfigId: -1), .reconfigDisabled),
    ]

    @Test(arguments: cases)
    func writeFailsWithZooKeepersCode(_ label: String, _ body: RequestBody, _ expected: ErrorCode) throws {
        var harness = Self.prepared()
        let zxid = harness.core.lastProposedZxid + 1
        let sent = harness.send(1, 10, body)
        #expect(sent.persisted.map(\.body) == [.error(expected)], "\(label): an ErrorTxn is logged")
        #expect(sent.persisted.first?.zxid == zxid, "\(label): it takes the next zxid")
        let committed = harness.commit()
        #expect(committed.reply(1, xid: 10)?.header == ReplyHeader(xid: 10, zxid: zxid, err: expected.rawValue), "\(label)")
        #expect(committed.reply(1, xid: 10)?.body == .empty, "\(label): error replies have no body")
    }

    @Test(arguments: [
        ("getData of a missing node", RequestBody.getData(path: "/missing", watch: false), ErrorCode.noNode),
        ("exists of a missing node", .exists(path: "/missing", watch: false), .noNode),
        ("getChildren of a missing node", .getChildren(opCode: .getChildren2, path: "/missing", watch: true), .noNode),
        ("getACL of a missing node", .getACL(path: "/missing"), .noNode),
        ("exists with NUL", .exists(path: "/a\u{0}", watch: false), .badArguments),
        ("removeWatches with nothing set", .removeWatches(path: "/a", type: 3), .noWatcher),
        ("checkWatches with nothing set", .checkWatches(path: "/nothing", type: 2), .noWatcher),
    ])
    func readFailsWithZooKeepersCode(_ label: String, _ body: RequestBody, _ expected: ErrorCode) {
        var harness = Self.prepared()
        let zxid = harness.core.lastProcessedZxid
        let outputs = harness.send(1, 20, body)
        #expect(outputs.persisted.isEmpty, "\(label): reads log nothing")
        #expect(outputs.reply(1, xid: 20)?.header == ReplyHeader(xid: 20, zxid: zxid, err: expected.rawValue), "\(label)")
    }

    @Test func failedReadSetsNoWatch() {
        var harness = Self.prepared()
        _ = harness.send(1, 1, .getData(path: "/missing", watch: true))
        _ = harness.send(1, 2, .getChildren(opCode: .getChildren, path: "/missing", watch: true))
        #expect(harness.core.tree.dataWatches.watchCount == 0)
        #expect(harness.core.tree.childWatches.watchCount == 0)
        // exists sets a watch even on a missing node (it becomes a NodeCreated watch).
        _ = harness.send(1, 3, .exists(path: "/missing", watch: true))
        #expect(harness.core.tree.dataWatches.contains(path: "/missing", watcher: 1))
        #expect(harness.call(1, 4, create("/missing")).events(1) == ["nodeCreated /missing"])
    }

    @Test func unknownOpCodeIsUnimplementedAndCloses() {
        var harness = Self.prepared()
        let outputs = harness.send(1, ClientRequest(xid: 9, opCodeRaw: 55, body: .unknown(type: 55)))
        // Fixtures/unknown_opcode.hex: zxid -1, err Unimplemented, then the server closes.
        #expect(outputs.reply(1, xid: 9)?.header == ReplyHeader(xid: 9, zxid: -1, err: ErrorCode.unimplemented.rawValue))
        #expect(outputs.closed == [1])
        #expect(outputs.persisted.isEmpty)
    }

    @Test func malformedMultiIsAMarshallingError() {
        var harness = Self.prepared()
        let outputs = harness.call(1, 9, .malformedMulti)
        #expect(outputs.error(1, xid: 9) == .marshallingError)
        #expect(outputs.closed.isEmpty, "the connection stays open")
    }

    @Test func ttlAboveZooKeepersMaximumIsRejected() {
        var harness = CoreHarness(CoreConfiguration(tickMs: 2000, extendedTypesEnabled: true))
        _ = harness.session(1)
        let tooLong = harness.call(1, 1, create("/t", mode: .persistentWithTTL, opCode: .createTTL, ttl: 1 << 40))
        #expect(tooLong.error(1, xid: 1) == .badArguments)
        let zero = harness.call(1, 2, create("/t", mode: .persistentWithTTL, opCode: .createTTL, ttl: 0))
        #expect(zero.error(1, xid: 2) == .badArguments)
        let longest = harness.call(1, 3, create("/t", mode: .persistentWithTTL, opCode: .createTTL, ttl: (1 << 40) - 1))
        #expect(longest.error(1, xid: 3) == .ok)
        // A TTL mode through plain create (no TTL field), and a TTL field with a non-TTL mode.
        #expect(harness.call(1, 4, create("/u", mode: .persistentWithTTL)).error(1, xid: 4) == .badArguments)
        #expect(harness.call(1, 5, create("/u", mode: .persistent, opCode: .createTTL, ttl: 10)).error(1, xid: 5) == .badArguments)
    }
}
