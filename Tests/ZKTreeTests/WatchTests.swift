import Testing
import ZKBase
import ZKTree
import ZKWire

/// Watch semantics of ZooKeeper 3.8's WatchManager, through DataTree.apply.
@Suite struct DataTreeWatchTests {
    static func treeWithA() -> DataTree {
        var tree = DataTree()
        tree.applyAll([txn(1, .create(createTxn("/a", parentCVersion: 1)))])
        return tree
    }

    @Test func dataWatchFiresOnce() {
        var tree = Self.treeWithA()
        tree.dataWatches.add(path: "/a", watcher: 1)
        let first = tree.applyAll([txn(2, .setData(path: "/a", data: [1], version: 1))])
        #expect(events(first) == ["1 NodeDataChanged /a"])
        #expect(first.first?.event.state == KeeperState.syncConnected.rawValue)
        let second = tree.applyAll([txn(3, .setData(path: "/a", data: [2], version: 2))])
        #expect(second.isEmpty, "standard watches are one-shot")
        #expect(!tree.dataWatches.contains(path: "/a", watcher: 1))
        #expect(tree.dataWatches.watchCount == 0)
    }

    @Test func existWatchFiresNodeCreated() {
        var tree = Self.treeWithA()
        tree.dataWatches.add(path: "/a/n", watcher: 2)
        tree.childWatches.add(path: "/a", watcher: 3)
        let fired = tree.applyAll([txn(2, .create(createTxn("/a/n", parentCVersion: 1)))])
        #expect(events(fired) == ["2 NodeCreated /a/n", "3 NodeChildrenChanged /a"])
    }

    @Test func childWatchFiresOnChildCreateAndDelete() {
        var tree = Self.treeWithA()
        tree.childWatches.add(path: "/a", watcher: 3)
        #expect(events(tree.applyAll([txn(2, .create(createTxn("/a/x", parentCVersion: 1)))])) == ["3 NodeChildrenChanged /a"])
        #expect(tree.applyAll([txn(3, .create(createTxn("/a/y", parentCVersion: 2)))]).isEmpty, "one-shot")
        tree.childWatches.add(path: "/a", watcher: 3)
        #expect(events(tree.applyAll([txn(4, .delete(path: "/a/x"))])) == ["3 NodeChildrenChanged /a"])
        #expect(tree.applyAll([txn(5, .setData(path: "/a", data: [1], version: 1))]).isEmpty, "data changes do not fire child watches")
    }

    @Test func nodeDeletedReachesDataAndChildWatchersOnce() {
        var tree = Self.treeWithA()
        tree.applyAll([txn(2, .create(createTxn("/a/d", parentCVersion: 1)))])
        tree.dataWatches.add(path: "/a/d", watcher: 4)
        tree.childWatches.add(path: "/a/d", watcher: 4)
        tree.childWatches.add(path: "/a/d", watcher: 5)
        tree.dataWatches.add(path: "/a/d", watcher: 6)
        tree.childWatches.add(path: "/a", watcher: 7)
        let fired = tree.applyAll([txn(3, .delete(path: "/a/d"))])
        #expect(events(fired).sorted() == ["4 NodeDeleted /a/d", "5 NodeDeleted /a/d", "6 NodeDeleted /a/d", "7 NodeChildrenChanged /a"])
        #expect(tree.dataWatches.watchCount == 0)
        #expect(tree.childWatches.watchCount == 0)
    }

    @Test func persistentWatchFiresRepeatedly() {
        var tree = Self.treeWithA()
        tree.dataWatches.add(path: "/a", watcher: 8, mode: .persistent)
        tree.childWatches.add(path: "/a", watcher: 8, mode: .persistent)
        let fired = tree.applyAll([
            txn(2, .setData(path: "/a", data: [1], version: 1)),
            txn(3, .setData(path: "/a", data: [2], version: 2)),
            txn(4, .create(createTxn("/a/k", parentCVersion: 1))),
            txn(5, .setData(path: "/a/k", data: [3], version: 1)),
            txn(6, .delete(path: "/a/k")),
        ])
        #expect(events(fired) == [
            "8 NodeDataChanged /a", "8 NodeDataChanged /a", "8 NodeChildrenChanged /a", "8 NodeChildrenChanged /a",
        ], "a persistent (non-recursive) watch ignores descendants' own events")
        #expect(tree.dataWatches.mode(path: "/a", watcher: 8) == .persistent)
        #expect(tree.childWatches.mode(path: "/a", watcher: 8) == .persistent)
    }

    @Test func persistentRecursiveWatchSeesDescendantsButNotChildrenChanged() {
        var tree = Self.treeWithA()
        tree.dataWatches.add(path: "/a", watcher: 9, mode: .persistentRecursive)
        tree.childWatches.add(path: "/a", watcher: 9, mode: .persistentRecursive)
        let fired = tree.applyAll([
            txn(2, .create(createTxn("/a/k", parentCVersion: 1))),
            txn(3, .create(createTxn("/a/k/deep", parentCVersion: 1))),
            txn(4, .setData(path: "/a/k/deep", data: [1], version: 1)),
            txn(5, .delete(path: "/a/k/deep")),
            txn(6, .setData(path: "/a", data: [1], version: 1)),
            txn(7, .create(createTxn("/other", parentCVersion: 2))),
        ])
        #expect(events(fired) == [
            "9 NodeCreated /a/k", "9 NodeCreated /a/k/deep", "9 NodeDataChanged /a/k/deep", "9 NodeDeleted /a/k/deep",
            "9 NodeDataChanged /a",
        ])
        #expect(tree.dataWatches.mode(path: "/a", watcher: 9) == .persistentRecursive)
    }

    @Test func recursiveWatchOnRootSeesEverything() {
        var tree = DataTree()
        tree.dataWatches.add(path: "/", watcher: 10, mode: .persistentRecursive)
        let fired = tree.applyAll([txn(1, .create(createTxn("/x", parentCVersion: 1))), txn(2, .delete(path: "/x"))])
        #expect(events(fired) == ["10 NodeCreated /x", "10 NodeDeleted /x"])
    }

    @Test func notificationsComeInWatcherOrder() {
        var tree = Self.treeWithA()
        for watcher: WatcherID in [30, 10, 20] { tree.dataWatches.add(path: "/a", watcher: watcher) }
        let fired = tree.applyAll([txn(2, .setData(path: "/a", data: [], version: 1))])
        #expect(fired.map(\.watcher) == [10, 20, 30])
    }
}

@Suite struct WatchManagerTests {
    @Test func addRemoveAndCounts() {
        var manager = WatchManager()
        manager.add(path: "/a", watcher: 1)
        manager.add(path: "/b", watcher: 1)
        manager.add(path: "/a", watcher: 2)
        #expect(manager.watchCount == 3)
        #expect(manager.pathCount == 2)
        #expect(manager.watcherCount == 2)
        #expect(manager.paths(of: 1) == ["/a", "/b"])
        #expect(manager.watchers(of: "/a") == [1, 2])
        let removed = manager.remove(path: "/a", watcher: 1)
        let removedAgain = manager.remove(path: "/a", watcher: 1)
        #expect(removed)
        #expect(!removedAgain)
        #expect(manager.watchCount == 2)
        manager.removeWatcher(2)
        #expect(manager.allPaths == ["/b"])
        #expect(manager.allWatchers == [1])
    }

    /// ZooKeeper's watch2Paths keeps a watcher whose watches fired or were removed until its
    /// connection closes (differential test, seed 707: its wchs counted 4 connections, Paddock 3).
    @Test func aWatcherWithNoWatchesLeftIsCountedUntilItsConnectionGoes() {
        var manager = WatchManager()
        manager.add(path: "/a", watcher: 1)
        manager.add(path: "/b", watcher: 2)
        var notifications: [WatchNotification] = []
        _ = manager.trigger(path: "/a", type: .nodeDataChanged, into: &notifications)
        manager.remove(path: "/b", watcher: 2)
        #expect(manager.watchCount == 0 && manager.pathCount == 0)
        #expect(manager.watcherCount == 2)
        #expect(manager.allWatchers == [1, 2] && manager.paths(of: 1).isEmpty)
        manager.removeWatcher(1)
        #expect(manager.allWatchers == [2])
    }

    @Test func lastModeAddedWins() {
        var manager = WatchManager()
        manager.add(path: "/a", watcher: 1, mode: .persistentRecursive)
        manager.add(path: "/a", watcher: 1, mode: .standard)
        #expect(manager.mode(path: "/a", watcher: 1) == .standard)
        var notifications: [WatchNotification] = []
        // With no recursive watch left, an event on a child must not reach /a's standard watch.
        _ = manager.trigger(path: "/a/b", type: .nodeCreated, into: &notifications)
        #expect(notifications.isEmpty)
        #expect(manager.watchCount == 1)
    }

    @Test func suppressedWatchersAreConsumedButNotNotified() {
        var manager = WatchManager()
        manager.add(path: "/a", watcher: 1)
        manager.add(path: "/a", watcher: 2)
        var notifications: [WatchNotification] = []
        let fired = manager.trigger(path: "/a", type: .nodeDeleted, suppressed: [1], into: &notifications)
        #expect(fired == [1, 2])
        #expect(notifications.map(\.watcher) == [2])
        #expect(manager.watchCount == 0)
    }

    @Test func removingAConnectionDropsRecursiveWatches() {
        var manager = WatchManager()
        manager.add(path: "/", watcher: 1, mode: .persistentRecursive)
        manager.removeWatcher(1)
        var notifications: [WatchNotification] = []
        _ = manager.trigger(path: "/x", type: .nodeCreated, into: &notifications)
        #expect(notifications.isEmpty)
        #expect(manager.watchCount == 0)
    }
}
