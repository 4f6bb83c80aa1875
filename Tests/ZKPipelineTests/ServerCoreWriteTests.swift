import Testing
import ZKBase
import ZKPipeline
import ZKTree
import NIOCore
import ZKWire

@Suite struct ServerCoreWriteTests {
    @Test func createIsPersistedThenAppliedThenAnswered() throws {
        var harness = CoreHarness()
        let session = harness.session(1)
        let sent = harness.send(1, 7, create("/a", "hello"))
        let txn = try #require(sent.persisted.first)
        #expect(sent.persisted.count == 1)
        #expect(txn.header == TxnHeader(clientId: session.sessionId, cxid: 7, zxid: 2, time: harness.nowMs, type: OpCode.create.rawValue))
        #expect(txn.body == .create(CreateTxn(path: "/a", data: Array("hello".utf8), acl: ACL.openUnsafe, ephemeral: false, parentCVersion: 1, ttl: 0)))
        #expect(sent.replies(1).isEmpty)
        #expect(harness.core.tree.node("/a") == nil)

        let committed = harness.commit()
        let reply = try #require(committed.reply(1, xid: 7))
        #expect(reply.header == ReplyHeader(xid: 7, zxid: 2, err: 0))
        #expect(reply.body == .create(path: "/a"))
        #expect(harness.core.tree.node("/a")?.data == Array("hello".utf8))
        #expect(harness.core.lastProcessedZxid == 2)
    }

    @Test func create2AndFriendsReplyWithTheStat() throws {
        var harness = CoreHarness()
        _ = harness.session(1)
        let outputs = harness.call(1, 1, create("/b", opCode: .create2))
        let stat = try #require(harness.core.tree.node("/b")?.fullStat)
        #expect(outputs.reply(1, xid: 1)?.body == .create2(path: "/b", stat: stat))
        let container = harness.call(1, 2, create("/c", mode: .container, opCode: .createContainer))
        guard case .create2(let path, let containerStat)? = container.reply(1, xid: 2)?.body else {
            Issue.record("createContainer must answer Create2Response")
            return
        }
        #expect(path == "/c")
        #expect(containerStat.ephemeralOwner == 0)
        #expect(harness.core.tree.containers.contains("/c"))
    }

    @Test func setDataAndSetACLReplyWithTheNewStat() throws {
        var harness = CoreHarness()
        _ = harness.session(1)
        _ = harness.call(1, 1, create("/a"))
        let set = harness.call(1, 2, .setData(path: "/a", data: Array("v2".utf8), version: 0))
        guard case .stat(let stat)? = set.reply(1, xid: 2)?.body else {
            Issue.record("setData must answer a Stat")
            return
        }
        #expect(stat.version == 1)
        #expect(stat.mzxid == 3)
        #expect(stat.dataLength == 2)
        let acl = harness.call(1, 3, .setACL(path: "/a", acl: ACL.readUnsafe, version: 0))
        guard case .stat(let aclStat)? = acl.reply(1, xid: 3)?.body else {
            Issue.record("setACL must answer a Stat")
            return
        }
        #expect(aclStat.aversion == 1)
        let read = harness.send(1, 4, .getACL(path: "/a"))
        #expect(read.reply(1, xid: 4)?.body == .getACL(acl: ACL.readUnsafe, stat: aclStat))
    }

    @Test func readBehindAnUncommittedWriteWaitsForIt() throws {
        var harness = CoreHarness()
        _ = harness.session(1)
        _ = harness.session(2)
        let write = harness.send(1, 1, create("/a", "x"))
        let queuedRead = harness.send(1, 2, .getData(path: "/a", watch: false))
        #expect(write.replies(1).isEmpty)
        #expect(queuedRead.replies(1).isEmpty, "FIFO: the read waits for the write before it")
        #expect(harness.core.queuedRequestCount(of: 1) == 2)
        // Another connection's read is not held up, and sees only the applied tree.
        let otherRead = harness.send(2, 1, .getData(path: "/a", watch: false))
        #expect(otherRead.error(2, xid: 1) == .noNode)

        let committed = harness.commit()
        let replies = committed.replies(1)
        #expect(replies.map(\.header.xid) == [1, 2])
        #expect(replies.last?.header.err == 0)
        guard case .getData(let data, _)? = replies.last?.body else {
            Issue.record("expected GetDataResponse")
            return
        }
        #expect(data == Array("x".utf8))
        #expect(harness.core.queuedRequestCount(of: 1) == 0)
    }

    /// A getData's value is copied into its reply frame as the read is answered: writes applied
    /// after it in the same step (one overwriting the value in place, one of another length)
    /// leave the earlier replies as they were.
    @Test func aReadAnsweredBetweenWritesOfOneStepKeepsItsValue() throws {
        var harness = CoreHarness()
        _ = harness.session(1)
        _ = harness.call(1, 1, create("/a", "zero"))
        _ = harness.send(1, 2, .setData(path: "/a", data: Array("one!".utf8), version: -1))
        _ = harness.send(1, 3, .getData(path: "/a", watch: false))
        _ = harness.send(1, 4, .setData(path: "/a", data: Array("two?".utf8), version: -1))
        _ = harness.send(1, 5, .getData(path: "/a", watch: false))
        _ = harness.send(1, 6, .setData(path: "/a", data: Array("three, longer".utf8), version: -1))
        _ = harness.send(1, 7, .getData(path: "/a", watch: false))
        let committed = harness.commit()
        #expect(committed.contains { if case .replyFrame = $0 { true } else { false } }, "getData answers with a frame")
        var values: [String] = []
        for xid: Int32 in [3, 5, 7] {
            guard case .getData(let data, let stat)? = committed.reply(1, xid: xid)?.body else {
                Issue.record("no getData reply to \(xid)")
                continue
            }
            values.append("\(String(decoding: data ?? [], as: UTF8.self)) v\(stat.version) \(stat.dataLength)")
        }
        #expect(values == ["one! v1 4", "two? v2 4", "three, longer v3 13"])
    }

    /// ZooKeeper's pending setACL record keeps the old ACL: a request pipelined behind a setACL
    /// that took ADMIN away is still checked against the open ACL (differential test, seed 7).
    @Test func aPipelinedSetACLIsCheckedAgainstTheACLBeforeThePendingOne() throws {
        var harness = CoreHarness()
        _ = harness.session(1)
        _ = harness.call(1, 1, create("/n"))
        let noPerms = [ACL(perms: Perms(rawValue: 0), id: Id(scheme: "world", id: "anyone"))]
        let first = harness.send(1, 2, .setACL(path: "/n", acl: noPerms, version: -1))
        let second = harness.send(1, 3, .setACL(path: "/n", acl: ACL.openUnsafe, version: 0))
        let third = harness.send(1, 4, .setACL(path: "/n", acl: ACL.openUnsafe, version: 1))
        let outputs = first + second + third + harness.commit()
        #expect(outputs.error(1, xid: 2) == .ok)
        #expect(outputs.error(1, xid: 3) == .badVersion, "checked against the open ACL, with the pending aversion 1")
        #expect(outputs.error(1, xid: 4) == .ok, "still the open ACL: allowed")
        #expect(harness.core.tree.node("/n")?.acl == ACL.openUnsafe)
        #expect(harness.core.tree.node("/n")?.stat.aversion == 2)
        // Once applied, the tree's ACL is what counts.
        _ = harness.call(1, 5, .setACL(path: "/n", acl: noPerms, version: -1))
        #expect(harness.call(1, 6, .setACL(path: "/n", acl: ACL.openUnsafe, version: -1)).error(1, xid: 6) == .noAuth)
    }

    @Test func repliesFollowRequestOrderAcrossSeveralWrites() {
        var harness = CoreHarness()
        _ = harness.session(1)
        var outputs: [CoreOutput] = []
        outputs += harness.send(1, 1, create("/a"))
        outputs += harness.send(1, 2, .exists(path: "/a", watch: false))
        outputs += harness.send(1, 3, create("/a"))
        outputs += harness.send(1, 4, .sync(path: "/a"))
        outputs += harness.send(1, 5, .getChildren(opCode: .getChildren, path: "/", watch: false))
        outputs += harness.commit()
        #expect(outputs.replies(1).map(\.header.xid) == [1, 2, 3, 4, 5])
        #expect(outputs.error(1, xid: 3) == .nodeExists)
        #expect(outputs.reply(1, xid: 4)?.body == .sync(path: "/a"))
        guard case .children(let children)? = outputs.reply(1, xid: 5)?.body else {
            Issue.record("expected GetChildrenResponse")
            return
        }
        #expect(Set(children) == ["a", "zookeeper"])
    }

    @Test func sequentialNamesUseTheParentCVersion() throws {
        var harness = CoreHarness()
        _ = harness.session(1)
        _ = harness.call(1, 1, create("/q"))
        var names: [String] = []
        for xid: Int32 in 2...3 {
            let outputs = harness.call(1, xid, create("/q/x-", mode: .persistentSequential))
            guard case .create(let path)? = outputs.reply(1, xid: xid)?.body else {
                Issue.record("no create reply")
                return
            }
            names.append(path)
        }
        #expect(names == ["/q/x-0000000000", "/q/x-0000000001"])
        _ = harness.call(1, 4, .delete(path: "/q/x-0000000001", version: -1))
        // Deletes do not lower the counter: it counts creates.
        let again = harness.call(1, 5, create("/q/", mode: .ephemeralSequential))
        #expect(again.reply(1, xid: 5)?.body == .create(path: "/q/0000000002"))
        // Two sequential creates in flight at once get distinct names (pending parent record).
        let first = harness.send(1, 6, create("/q/y", mode: .persistentSequential))
        let second = harness.send(1, 7, create("/q/y", mode: .persistentSequential))
        let paths = (first + second).persisted.compactMap { txn -> String? in
            if case .create(let body) = txn.body { return body.path } else { return nil }
        }
        #expect(paths == ["/q/y0000000003", "/q/y0000000004"])
        let multi = harness.call(1, 8, .multi([createOp("/q/m", mode: .persistentSequential), createOp("/q/m", mode: .persistentSequential)]))
        #expect(multi.reply(1, xid: 8)?.body == .multi([.create(path: "/q/m0000000005"), .create(path: "/q/m0000000006")]))
    }

    /// ZooKeeper's MultiOperationRecord rebuilds each create op from its flags: a create2 (or a
    /// createContainer whose flags are not a container's) inside a multi is handled and answered
    /// as a plain create, with no stat, whatever its wire type.
    @Test func createOpsInAMultiAreHandledByTheirFlagsNotTheirWireType() {
        var harness = CoreHarness()
        _ = harness.session(1)
        let request = { (path: String) in CreateRequest(path: path, data: [1], acl: ACL.openUnsafe, flags: CreateMode.persistent.rawValue, ttl: 0) }
        let outputs = harness.call(1, 1, .multi([.create(opCode: .create2, request("/m2")), .create(opCode: .createContainer, request("/mc"))]))
        #expect(outputs.reply(1, xid: 1)?.body == .multi([.create(path: "/m2"), .create(path: "/mc")]))
        let txnTypes = outputs.persisted.flatMap { txn -> [String] in
            guard case .multi(let bodies) = txn.body else { return [] }
            return bodies.map { if case .create = $0 { "create" } else { "\($0)" } }
        }
        #expect(txnTypes == ["create", "create"])
    }

    /// ZooKeeper picks the create txn by the opcode: a top-level create with the container flag
    /// makes a plain node, which is never reaped; in a multi the flags decide (differential test,
    /// seeds 303 and 505: Paddock had reaped such a node).
    @Test func theContainerFlagMakesAContainerOnlyThroughCreateContainerOrAMulti() {
        var harness = CoreHarness()
        _ = harness.session(1)
        let plain = harness.call(1, 1, create("/p", mode: .container, opCode: .create))
        #expect(plain.persisted.first.map { if case .create = $0.body { true } else { false } } == true)
        _ = harness.call(1, 2, create("/c", mode: .persistent, opCode: .createContainer))
        _ = harness.call(1, 3, .multi([createOp("/m", mode: .container)]))
        #expect(harness.core.tree.containers == ["/c", "/m"])
        for (xid, parent) in [(Int32(4), "/p"), (6, "/c"), (8, "/m")] {
            _ = harness.call(1, xid, create(parent + "/x"))
            _ = harness.call(1, xid + 1, .delete(path: parent + "/x", version: -1))
        }
        _ = harness.reap() + harness.commit()
        #expect(harness.core.tree.node("/p") != nil, "a plain node is not reaped")
        #expect(harness.core.tree.node("/c") == nil && harness.core.tree.node("/m") == nil)
    }

    @Test func persistedTxnsSurviveTheLogCodec() throws {
        // What the shell writes to the log must read back as the same Txn (replay, followers, checkers).
        var harness = CoreHarness()
        _ = harness.session(1)
        var txns = harness.send(1, 1, create("/a")).persisted
        txns += harness.send(1, 2, .multi([createOp("/b"), .setData(path: "/b", data: [1], version: -1)])).persisted
        txns += harness.send(1, 3, create("/c", mode: .ephemeral, opCode: .create2)).persisted
        for txn in txns {
            var buffer = ByteBufferAllocator().buffer(capacity: 128)
            txn.encode(into: &buffer)
            let decoded = try Txn.decode(from: &buffer)
            #expect(decoded == txn)
        }
    }

    @Test func failedWriteStillConsumesAZxid() throws {
        var harness = CoreHarness()
        _ = harness.session(1)
        _ = harness.call(1, 1, create("/a"))
        let sent = harness.send(1, 2, create("/a"))
        let txn = try #require(sent.persisted.first)
        #expect(txn.body == .error(.nodeExists))
        #expect(txn.header.zxid == 3)
        #expect(txn.header.type == OpCode.error.rawValue)
        let committed = harness.commit()
        #expect(committed.reply(1, xid: 2)?.header == ReplyHeader(xid: 2, zxid: 3, err: ErrorCode.nodeExists.rawValue))
        #expect(committed.reply(1, xid: 2)?.body == .empty)
        #expect(harness.core.lastProcessedZxid == 3)
    }

    @Test func successfulMulti() throws {
        var harness = CoreHarness()
        _ = harness.session(1)
        _ = harness.call(1, 1, create("/old"))
        let outputs = harness.call(1, 2, .multi([
            createOp("/m", "d"), .setData(path: "/m", data: Array("e".utf8), version: 0), .check(path: "/m", version: 1),
            .delete(path: "/old", version: 0),
        ]))
        let stat = try #require(harness.core.tree.node("/m")?.fullStat)
        let reply = try #require(outputs.reply(1, xid: 2))
        #expect(reply.header.err == 0)
        #expect(reply.body == .multi([.create(path: "/m"), .setData(stat: stat), .check, .delete]))
        #expect(harness.core.tree.node("/old") == nil)
        #expect(outputs.persisted.count == 1, "one txn for the whole multi")
    }

    @Test func failingMultiReportsPerOpResultsAndChangesNothing() throws {
        var harness = CoreHarness()
        _ = harness.session(1)
        _ = harness.call(1, 1, create("/g"))
        let before = harness.core.tree.nodes
        let sent = harness.send(1, 2, .multi([
            createOp("/g/f1"), .check(path: "/g", version: 99), .setData(path: "/g", data: [], version: -1),
            .delete(path: "/g/nothere", version: -1),
        ]))
        #expect(sent.persisted.first?.body == .multi([
            .create(CreateTxn(path: "/g/f1", data: [], acl: ACL.openUnsafe, ephemeral: false, parentCVersion: 1, ttl: 0)),
            .error(.badVersion), .error(.runtimeInconsistency), .error(.runtimeInconsistency),
        ]))
        let committed = harness.commit()
        let reply = try #require(committed.reply(1, xid: 2))
        // As Fixtures/multi_failing.hex shows ZooKeeper 3.8 answering.
        #expect(reply.header.err == 0)
        #expect(reply.header.zxid == 3)
        #expect(reply.body == .multi([.error(.ok), .error(.badVersion), .error(.runtimeInconsistency), .error(.runtimeInconsistency)]))
        #expect(harness.core.tree.nodes == before)
        // The rolled-back create left no pending trace: the same create now succeeds.
        #expect(harness.call(1, 3, create("/g/f1")).error(1, xid: 3) == .ok)
    }

    @Test func multiReadAnswersPerOp() {
        var harness = CoreHarness()
        _ = harness.session(1)
        _ = harness.call(1, 1, create("/r", "x"))
        let outputs = harness.send(1, 2, .multiRead([.getData(path: "/r"), .getChildren(path: "/r"), .getData(path: "/missing")]))
        let stat = harness.core.tree.node("/r")!.fullStat
        #expect(outputs.reply(1, xid: 2)?.body == .multi([.getData(data: Array("x".utf8), stat: stat), .getChildren(children: []), .error(.noNode)]))
    }

    @Test func emptyMultiConsumesAZxid() {
        var harness = CoreHarness()
        _ = harness.session(1)
        let outputs = harness.call(1, 1, .multi([]))
        #expect(outputs.persisted.map(\.body) == [.multi([])])
        #expect(outputs.reply(1, xid: 1)?.body == .multi([]))
    }

    @Test func notificationsGoToOtherConnectionsAfterCommit() {
        var harness = CoreHarness()
        _ = harness.session(1)
        _ = harness.session(2)
        _ = harness.call(1, 1, create("/w"))
        _ = harness.send(2, 1, .getData(path: "/w", watch: true))
        _ = harness.send(2, 2, .getChildren(opCode: .getChildren, path: "/w", watch: true))
        let sent = harness.send(1, 2, .setData(path: "/w", data: [1], version: -1))
        #expect(sent.events(2).isEmpty)
        let committed = harness.commit()
        #expect(committed.events(2) == ["nodeDataChanged /w"])
        let child = harness.call(1, 3, create("/w/c"))
        #expect(child.events(2) == ["nodeChildrenChanged /w"])
        #expect(harness.call(1, 4, .setData(path: "/w", data: [2], version: -1)).events(2).isEmpty, "one-shot")
    }
}
