import Testing
import ZKBase
import ZKTree
import ZKWire

@Suite struct DataTreeMultiTests {
    @Test func successfulMultiAppliesEveryOp() throws {
        var tree = DataTree()
        tree.applyAll([txn(1, .create(createTxn("/old", "o", parentCVersion: 1)))])
        tree.dataWatches.add(path: "/old", watcher: 9)
        var notifications: [WatchNotification] = []
        let result = tree.apply(txn(2, .multi([
            .create(createTxn("/m", "d", parentCVersion: 2)),
            .create2(createTxn("/m/c", parentCVersion: 1)),
            .setData(path: "/m", data: Array("e".utf8), version: 1),
            .check(path: "/m", version: 2),
            .delete(path: "/old"),
        ]), time: 500), notifications: &notifications)
        #expect(result.type == .multi)
        #expect(result.error == .ok)
        #expect(result.multiResults.map(\.type) == [.create, .create2, .setData, .check, .delete])
        #expect(result.multiResults.allSatisfy { $0.error == .ok })
        #expect(result.multiResults[1].stat == tree.stat("/m/c"))
        #expect(tree.node("/m")?.data == Array("e".utf8))
        #expect(tree.stat("/m")?.mzxid == 2)
        #expect(tree.stat("/m")?.czxid == 2, "every op of a multi shares its zxid")
        #expect(tree.node("/old") == nil)
        #expect(events(notifications) == ["9 NodeDeleted /old"])
        #expect(tree.lastProcessedZxid == 2)
    }

    @Test func failedMultiChangesNothing() throws {
        var tree = DataTree()
        tree.applyAll([txn(1, .create(createTxn("/g", parentCVersion: 1)))])
        tree.dataWatches.add(path: "/g/f1", watcher: 5)
        tree.childWatches.add(path: "/g", watcher: 6)
        let before = tree.nodes
        var notifications: [WatchNotification] = []
        // As PrepRequestProcessor logs it: ops before the failure keep their txn, the failure and
        // everything after it are ErrorTxns.
        let result = tree.apply(txn(29, .multi([
            .create(createTxn("/g/f1", parentCVersion: 1)),
            .error(.badVersion),
            .error(.runtimeInconsistency),
            .error(.runtimeInconsistency),
        ])), notifications: &notifications)
        #expect(tree.nodes == before)
        #expect(notifications.isEmpty)
        #expect(result.error == .badVersion)
        #expect(result.multiResults.map(\.type) == [.error, .error, .error, .error])
        #expect(result.multiResults.map(\.error) == [.ok, .badVersion, .runtimeInconsistency, .runtimeInconsistency])
        #expect(tree.lastProcessedZxid == 29, "a failed multi still consumes its zxid")
        #expect(tree.dataWatches.contains(path: "/g/f1", watcher: 5), "no watch fired")
    }

    @Test func failedMultiWithOpsAfterTheFailureStillTxns() throws {
        // A log written by another implementation may keep real txns after the failing op:
        // those still report RuntimeInconsistency and change nothing.
        var tree = DataTree()
        let before = tree.nodes
        let result = tree.apply(txn(3, .multi([
            .error(.noNode),
            .create(createTxn("/x", parentCVersion: 1)),
        ])))
        #expect(tree.nodes == before)
        #expect(result.multiResults.map(\.error) == [.noNode, .runtimeInconsistency])
    }

    @Test func emptyMulti() {
        var tree = DataTree()
        let result = tree.apply(txn(4, .multi([])))
        #expect(result.error == .ok)
        #expect(result.multiResults.isEmpty)
        #expect(tree.lastProcessedZxid == 4)
    }
}

@Suite struct DataTreeReplayTests {
    /// A history touching every txn kind, with deletes, re-creates, sessions, containers and TTLs.
    static let history: [Txn] = [
        txn(1, .createSession(timeoutMs: 30_000), session: 7),
        txn(2, .create(createTxn("/a", "1", parentCVersion: 1)), session: 7),
        txn(3, .create(createTxn("/a/b", "2", parentCVersion: 1)), session: 7),
        txn(4, .setData(path: "/a/b", data: Array("3".utf8), version: 1), session: 7, time: 1004),
        txn(5, .create(createTxn("/a/e", parentCVersion: 2, ephemeral: true)), session: 7),
        txn(6, .delete(path: "/a/b"), session: 7),
        txn(7, .create(createTxn("/a/b", "4", parentCVersion: 3)), session: 7),
        txn(8, .setACL(path: "/a", acl: ACL.readUnsafe, version: 1), session: 7),
        txn(9, .createContainer(createTxn("/c", parentCVersion: 2)), session: 7),
        txn(10, .create(createTxn("/c/k", parentCVersion: 1)), session: 7),
        txn(11, .delete(path: "/c/k"), session: 7),
        txn(12, .createTTL(createTxn("/t", parentCVersion: 3, ttl: 100)), session: 7),
        txn(13, .multi([
            .create(createTxn("/m", parentCVersion: 4)), .setData(path: "/a/b", data: Array("5".utf8), version: 2),
            .check(path: "/a", version: 1),
        ]), session: 7),
        txn(14, .multi([.create(createTxn("/never", parentCVersion: 5)), .error(.nodeExists)]), session: 7),
        txn(15, .error(.badVersion), session: 7),
        txn(16, .createSession(timeoutMs: 10_000), session: 8),
        txn(17, .closeSession(pathsToDelete: ["/a/e"]), session: 7),
        txn(18, .create(createTxn("/a/e", parentCVersion: 4, ephemeral: true)), session: 8),
        txn(19, .deleteContainer(path: "/c"), session: 0),
        txn(20, .setData(path: "/m", data: Array("6".utf8), version: 1), session: 8, time: 1020),
    ]

    static func appliedOnce() -> DataTree {
        var tree = DataTree()
        tree.applyAll(history)
        return tree
    }

    /// A fuzzy snapshot taken after `snapshotAt` txns, then the log replayed from `replayFrom`
    /// (at or before the snapshot point), must give the same tree as applying everything once.
    @Test func replayFromAnyEarlierPointIsIdempotent() throws {
        let expected = Self.appliedOnce()
        for snapshotAt in 0...Self.history.count {
            var snapshot = DataTree()
            snapshot.applyAll(Array(Self.history[0..<snapshotAt]))
            for replayFrom in 0...snapshotAt {
                var replayed = snapshot
                replayed.applyAll(Array(Self.history[replayFrom...]))
                let label = "snapshot after \(snapshotAt), replay from \(replayFrom)"
                #expect(replayed.nodes == expected.nodes, "\(label): nodes differ")
                #expect(replayed.sessions == expected.sessions, "\(label)")
                #expect(replayed.containers == expected.containers, "\(label)")
                #expect(replayed.ttlNodes == expected.ttlNodes, "\(label)")
                #expect(replayed.ephemeralCount == expected.ephemeralCount, "\(label)")
                #expect(replayed.ephemerals[8]?.contains("/a/e") == true, "\(label)")
                #expect(replayed.lastProcessedZxid == 20, "\(label)")
            }
        }
    }

    @Test func historyEndsWhereZooKeeperWould() throws {
        let tree = Self.appliedOnce()
        #expect(tree.node("/c") == nil)
        #expect(tree.node("/never") == nil)
        #expect(tree.node("/a/b")?.data == Array("5".utf8))
        #expect(tree.stat("/a/b")?.czxid == 7)
        #expect(tree.stat("/a/b")?.version == 2)
        #expect(tree.stat("/a/e")?.ephemeralOwner == 8)
        #expect(tree.stat("/a")?.aversion == 1)
        #expect(tree.node("/a")?.stat.cversion == 4)
        #expect(tree.stat("/a")?.cversion == 6, "4 creates, 2 children")
        #expect(tree.ttlNodes == ["/t"])
        #expect(tree.sessions == [8: 10_000])
    }
}
