import Testing
import ZKBase
import ZKTree
import ZKWire

/// Expected stats were printed by ZooKeeper 3.8.0's DataTree.processTxn + DataNode.copyStat fed the same txns.
@Suite struct DataTreeTests {
    @Test func freshTreeMatchesZooKeeper() throws {
        let tree = DataTree()
        #expect(tree.nodeCount == 4)
        #expect(tree.node("/")?.childCount == 1)
        #expect(tree.stat("/")?.cversion == -1, "stat / on a fresh ZooKeeper shows cversion = -1")
        #expect(tree.stat("/zookeeper")?.cversion == -2)
        #expect(tree.stat("/zookeeper/config")?.aversion == -1)
        #expect(tree.node("/zookeeper/config")?.acl == ACL.readUnsafe)
        #expect(tree.node("/zookeeper/quota")?.acl == ACL.openUnsafe)
        #expect(tree.lastProcessedZxid == 0)
    }

    @Test func statFieldsThroughCreateSetDataSetACLDelete() throws {
        var tree = DataTree()
        _ = tree.apply(txn(10, .create(createTxn("/a", "x", parentCVersion: 1)), time: 1000))
        #expect(tree.stat("/a") == Stat(czxid: 10, mzxid: 10, ctime: 1000, mtime: 1000, version: 0, cversion: 0, aversion: 0, ephemeralOwner: 0, dataLength: 1, numChildren: 0, pzxid: 10))
        let root = try #require(tree.stat("/"))
        #expect((root.pzxid, root.cversion, root.numChildren) == (10, 0, 2))

        let created = tree.apply(txn(11, .create(createTxn("/a/b", "yy", parentCVersion: 1, ephemeral: true)), session: 1, time: 1100))
        #expect(created.error == .ok)
        #expect(created.path == "/a/b")
        #expect(tree.stat("/a") == Stat(czxid: 10, mzxid: 10, ctime: 1000, mtime: 1000, version: 0, cversion: 1, aversion: 0, ephemeralOwner: 0, dataLength: 1, numChildren: 1, pzxid: 11))
        #expect(tree.stat("/a/b") == Stat(czxid: 11, mzxid: 11, ctime: 1100, mtime: 1100, version: 0, cversion: 0, aversion: 0, ephemeralOwner: 1, dataLength: 2, numChildren: 0, pzxid: 11))
        #expect(tree.ephemerals[1]?.contains("/a/b") == true)

        let set = tree.apply(txn(12, .setData(path: "/a/b", data: Array("zzz".utf8), version: 1), time: 1200))
        let afterSet = Stat(czxid: 11, mzxid: 12, ctime: 1100, mtime: 1200, version: 1, cversion: 0, aversion: 0, ephemeralOwner: 1, dataLength: 3, numChildren: 0, pzxid: 11)
        #expect(tree.stat("/a/b") == afterSet)
        #expect(set.stat == afterSet)
        #expect(tree.node("/a/b")?.data == Array("zzz".utf8))
        #expect(tree.stat("/a")?.mzxid == 10, "setData of a child leaves the parent alone")

        let aclSet = tree.apply(txn(13, .setACL(path: "/a/b", acl: ACL.readUnsafe, version: 1), time: 1300))
        var afterACL = afterSet
        afterACL.aversion = 1
        #expect(tree.stat("/a/b") == afterACL, "setACL moves only aversion (not mzxid or mtime)")
        #expect(aclSet.stat == afterACL)
        #expect(tree.node("/a/b")?.acl == ACL.readUnsafe)

        let deleted = tree.apply(txn(14, .delete(path: "/a/b"), time: 1400))
        #expect(deleted.error == .ok)
        #expect(tree.node("/a/b") == nil)
        #expect(tree.stat("/a") == Stat(czxid: 10, mzxid: 10, ctime: 1000, mtime: 1000, version: 0, cversion: 2, aversion: 0, ephemeralOwner: 0, dataLength: 1, numChildren: 0, pzxid: 14))
        #expect(tree.ephemerals[1] == nil)
        #expect(tree.lastProcessedZxid == 14)
    }

    @Test func cachedNodeDigestsFollowEveryKindOfChange() throws {
        var tree = DataTree()
        #expect(tree.staleCachedDigests().isEmpty, "the initial nodes carry their digests")
        _ = tree.apply(txn(1, .create(createTxn("/a", "x", parentCVersion: 1))))
        _ = tree.apply(txn(2, .create(createTxn("/a/e", "y", parentCVersion: 1, ephemeral: true)), session: 9))
        _ = tree.apply(txn(3, .setData(path: "/a", data: Array(repeating: 7, count: 300), version: 1)))
        _ = tree.apply(txn(4, .setACL(path: "/a", acl: ACL.readUnsafe, version: 1)))
        _ = tree.apply(txn(5, .multi([
            .create(createTxn("/m", parentCVersion: 2)), .setData(path: "/m", data: nil, version: 1), .delete(path: "/a/e"),
        ])))
        _ = tree.apply(txn(6, .create(createTxn("/a/e2", parentCVersion: 3, ephemeral: true)), session: 9))
        _ = tree.apply(txn(7, .closeSession(pathsToDelete: ["/a/e2"]), session: 9))
        _ = tree.apply(txn(8, .setData(path: "/zookeeper/config", data: [1], version: 1)))
        #expect(tree.staleCachedDigests().isEmpty)
        #expect(tree.digest == tree.computeDigest())
        #expect(tree.cachedDigest(of: "/a") == DataTree.nodeDigest(path: "/a", node: try #require(tree.node("/a"))))
        #expect(tree.cachedDigest(of: "/zookeeper/config") == 0, "the /zookeeper/ subtree counts 0, as in ZooKeeper")
    }

    @Test func create2AndContainerAndTTLReturnTheStat() throws {
        var tree = DataTree()
        let plain = tree.apply(txn(5, .create(createTxn("/p", parentCVersion: 1))))
        #expect(plain.stat == nil, "a plain create's reply has no Stat")
        let create2 = tree.apply(txn(6, .create2(createTxn("/q", parentCVersion: 2))))
        #expect(create2.stat == tree.stat("/q"))
        #expect(create2.type == .create2)
    }

    @Test func parentCVersionMinusOneMeansIncrement() throws {
        var tree = DataTree()
        tree.applyAll([
            txn(1, .create(createTxn("/a", parentCVersion: 1))),
            txn(2, .create(createTxn("/a/b", parentCVersion: 1))),
            txn(3, .create(createTxn("/a/c", parentCVersion: -1))),
        ])
        #expect(tree.node("/a")?.stat.cversion == 2)
        #expect(tree.stat("/a")?.cversion == 2)
        #expect(tree.stat("/a")?.pzxid == 3)
    }

    @Test func olderParentCVersionDoesNotMoveCVersionBack() throws {
        // Replaying a create the fuzzy snapshot already saw deleted.
        var tree = DataTree()
        tree.applyAll([
            txn(1, .create(createTxn("/a", parentCVersion: 1))),
            txn(2, .create(createTxn("/a/x", parentCVersion: 5))),
            txn(3, .create(createTxn("/a/y", parentCVersion: 3))),
        ])
        #expect(tree.node("/a")?.stat.cversion == 5)
        #expect(tree.stat("/a")?.pzxid == 2, "pzxid moves only with cversion")
        #expect(tree.node("/a")?.childCount == 2)
    }

    @Test func replayedCreateOfExistingNodeAdvancesParent() throws {
        var tree = DataTree()
        tree.applyAll([
            txn(10, .create(createTxn("/a", parentCVersion: 1))),
            txn(15, .create(createTxn("/a/c", parentCVersion: 3))),
        ])
        let replay = tree.apply(txn(16, .create(createTxn("/a/c", parentCVersion: 5))))
        #expect(replay.error == .nodeExists)
        #expect(tree.node("/a")?.stat.cversion == 5)
        #expect(tree.stat("/a")?.cversion == 9)
        #expect(tree.stat("/a")?.pzxid == 16)
        // ZooKeeper does this only for create (opcode 1), not create2.
        let replay2 = tree.apply(txn(17, .create2(createTxn("/a/c", parentCVersion: 9))))
        #expect(replay2.error == .nodeExists)
        #expect(tree.node("/a")?.stat.cversion == 5)
        #expect(tree.stat("/a")?.pzxid == 16)
    }

    @Test func replayedCreateOfExistingNodeWithMinusOneParentCVersion() throws {
        // DataTree.setCversionPzxid: newCversion == -1 means parent cversion + 1 (ZooKeeper 3.8.0 prints
        // stored cversion 2 and pzxid 12 for this sequence).
        var tree = DataTree()
        tree.applyAll([
            txn(10, .create(createTxn("/a", parentCVersion: 1))),
            txn(11, .create(createTxn("/a/c", parentCVersion: 1))),
        ])
        let replay = tree.apply(txn(12, .create(createTxn("/a/c", parentCVersion: -1))))
        #expect(replay.error == .nodeExists)
        #expect(tree.node("/a")?.stat.cversion == 2)
        #expect(tree.stat("/a")?.pzxid == 12)
    }

    @Test func deleteOfMissingChildStillMovesParentPzxid() throws {
        var tree = DataTree()
        tree.applyAll([txn(10, .create(createTxn("/a", parentCVersion: 1)))])
        let result = tree.apply(txn(18, .delete(path: "/a/zz")))
        #expect(result.error == .noNode)
        #expect(tree.stat("/a")?.pzxid == 18)
        #expect(tree.stat("/a")?.cversion == 0)
        #expect(tree.apply(txn(19, .delete(path: "/nothere/x"))).error == .noNode)
        #expect(tree.lastProcessedZxid == 19, "failed txns still advance lastProcessedZxid")
    }

    @Test func deleteDoesNotMovePzxidBackwards() throws {
        var tree = DataTree()
        tree.applyAll([
            txn(10, .create(createTxn("/a", parentCVersion: 1))),
            txn(11, .create(createTxn("/a/b", parentCVersion: 1))),
            txn(20, .create(createTxn("/a/c", parentCVersion: 2))),
        ])
        _ = tree.apply(txn(15, .delete(path: "/a/b")))
        #expect(tree.stat("/a")?.pzxid == 20)
        #expect(tree.node("/a/b") == nil)
    }

    @Test func missingNodesReportNoNode() {
        var tree = DataTree()
        #expect(tree.apply(txn(1, .setData(path: "/q", data: [], version: 1))).error == .noNode)
        #expect(tree.apply(txn(2, .setACL(path: "/q", acl: ACL.openUnsafe, version: 1))).error == .noNode)
        #expect(tree.apply(txn(3, .create(createTxn("/q/r", parentCVersion: 1)))).error == .noNode)
        #expect(tree.apply(txn(4, .create(createTxn("/zookeeper", parentCVersion: 1)))).error == .nodeExists)
        #expect(tree.nodeCount == 4)
    }

    @Test func nullDataIsKept() {
        var tree = DataTree()
        _ = tree.apply(txn(1, .create(CreateTxn(path: "/n", data: nil, acl: ACL.openUnsafe, ephemeral: false, parentCVersion: 1))))
        #expect(tree.node("/n")?.data == nil)
        #expect(tree.stat("/n")?.dataLength == 0)
        _ = tree.apply(txn(2, .setData(path: "/n", data: [7], version: 1)))
        #expect(tree.node("/n")?.data == [7])
    }

    @Test func emptyPathReadsAsRoot() {
        let tree = DataTree()
        #expect(tree.node("") == tree.node("/"))
    }

    @Test func containersAndTTLNodesAreTracked() throws {
        var tree = DataTree()
        _ = tree.apply(txn(20, .createContainer(createTxn("/cont", parentCVersion: 3)), time: 2000))
        _ = tree.apply(txn(21, .createTTL(createTxn("/ttl", parentCVersion: 4, ttl: 5000)), time: 2100))
        #expect(tree.containers == ["/cont"])
        #expect(tree.ttlNodes == ["/ttl"])
        #expect(tree.node("/cont")?.stat.ephemeralOwner == EphemeralOwner.container)
        #expect(tree.node("/ttl")?.stat.ephemeralOwner == EphemeralOwner.ttl(5000))
        // Clients never see the container/TTL markers (DataNode.copyStat -> getClientEphemeralOwner).
        #expect(tree.stat("/cont")?.ephemeralOwner == 0)
        #expect(tree.stat("/ttl")?.ephemeralOwner == 0)
        #expect(tree.ephemerals.isEmpty)
        #expect(tree.stat("/")?.cversion == 5, "stored 4 after two creates, 3 children: 2*4-3")

        _ = tree.apply(txn(22, .deleteContainer(path: "/cont")))
        _ = tree.apply(txn(23, .deleteContainer(path: "/ttl")))
        #expect(tree.containers.isEmpty)
        #expect(tree.ttlNodes.isEmpty)
    }

    @Test func sessionsAndTheirEphemerals() throws {
        var tree = DataTree()
        var notifications = tree.applyAll([
            txn(1, .createSession(timeoutMs: 30_000), session: 7),
            txn(2, .createSession(timeoutMs: 10_000), session: 8),
            txn(3, .create(createTxn("/p", parentCVersion: 1)), session: 8),
            txn(4, .create(createTxn("/e1", parentCVersion: 2, ephemeral: true)), session: 7),
            txn(5, .create(createTxn("/p/e2", parentCVersion: 1, ephemeral: true)), session: 7),
            txn(6, .create(createTxn("/e3", parentCVersion: 3, ephemeral: true)), session: 7),
            txn(7, .create(createTxn("/mine", parentCVersion: 4, ephemeral: true)), session: 8),
        ])
        #expect(tree.sessions == [7: 30_000, 8: 10_000])
        #expect(tree.ephemerals[7]?.count == 3)
        #expect(tree.ephemeralCount == 4)
        tree.childWatches.add(path: "/p", watcher: 100)
        notifications = []
        // The txn names only /e1; the session's other ephemerals go too.
        _ = tree.apply(txn(8, .closeSession(pathsToDelete: ["/e1"]), session: 7), notifications: &notifications)
        #expect(tree.node("/e1") == nil)
        #expect(tree.node("/p/e2") == nil)
        #expect(tree.node("/e3") == nil)
        #expect(tree.node("/mine") != nil)
        #expect(tree.ephemerals[7] == nil)
        #expect(tree.sessions == [8: 10_000])
        #expect(tree.stat("/p")?.pzxid == 8)
        #expect(events(notifications) == ["100 NodeChildrenChanged /p"])
    }

    @Test func descendantCount() {
        var tree = DataTree()
        tree.applyAll([
            txn(1, .create(createTxn("/a", parentCVersion: 1))),
            txn(2, .create(createTxn("/a/b", parentCVersion: 1))),
            txn(3, .create(createTxn("/a/b/c", parentCVersion: 1))),
            txn(4, .create(createTxn("/a/d", parentCVersion: 2))),
        ])
        #expect(tree.descendantCount(of: "/a") == 3)
        #expect(tree.descendantCount(of: "/a/d") == 0)
        #expect(tree.descendantCount(of: "/") == 7)
        #expect(tree.descendantCount(of: "/missing") == 0)
    }
}
