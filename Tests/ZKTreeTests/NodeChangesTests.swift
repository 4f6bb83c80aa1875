import Testing
import ZKBase
import ZKTree
import ZKWire

/// Nodes never changed after their create keep no changes entry (NodeTable's NodeChanges); the
/// first change or child gives them one, removal frees it for reuse, and nothing a client, a
/// snapshot or the digest sees depends on which nodes hold one.
@Suite struct NodeChangesTests {
    /// The initial tree: "/" and /zookeeper have children, /zookeeper/config has aversion -1.
    private static let initialHolders = 3

    /// Leaves that are only created hold no entry; their parent holds one for its child list.
    @Test func unchangedNodesHoldNoEntry() {
        var tree = DataTree()
        #expect(tree.changedNodeStatistics.inUse == Self.initialHolders)
        _ = tree.apply(txn(1, .create(createTxn("/p", parentCVersion: -1))))
        for index in 0..<100 {
            _ = tree.apply(txn(Int64(2 + index), .create(createTxn("/p/c\(index)", "v\(index)", parentCVersion: -1))))
        }
        #expect(tree.changedNodeStatistics.inUse == Self.initialHolders + 1, "/p only")
        let leaf = tree.node("/p/c7")?.stat
        #expect(leaf?.czxid == 9 && leaf?.mzxid == 9 && leaf?.pzxid == 9 && leaf?.ctime == 1000 && leaf?.mtime == 1000)
        #expect(leaf?.version == 0 && leaf?.cversion == 0 && leaf?.aversion == 0)
        #expect(tree.node("/p")?.stat.cversion == 100 && tree.node("/p")?.stat.pzxid == 101)
        tree.checkInvariants()
    }

    /// setData, setACL and a child each give a node its entry, holding the changed fields; a
    /// delete frees the node's entry, and the next change anywhere reuses it.
    @Test func changesTakeAnEntryAndDeletesFreeItForReuse() {
        var tree = DataTree()
        for (zxid, path) in [(1, "/a"), (2, "/b"), (3, "/c")] {
            _ = tree.apply(txn(Int64(zxid), .create(createTxn(path, "x", parentCVersion: -1))))
        }
        let holders = tree.changedNodeStatistics.inUse
        _ = tree.apply(txn(4, .setData(path: "/a", data: Array("yy".utf8), version: 1), time: 2000))
        _ = tree.apply(txn(5, .setACL(path: "/b", acl: ACL.readUnsafe, version: 1)))
        _ = tree.apply(txn(6, .create(createTxn("/c/d", parentCVersion: -1))))
        #expect(tree.changedNodeStatistics.inUse == holders + 3)
        let a = tree.node("/a")?.stat
        #expect(a?.mzxid == 4 && a?.mtime == 2000 && a?.version == 1 && a?.czxid == 1 && a?.ctime == 1000 && a?.pzxid == 1)
        #expect(tree.node("/b")?.stat.aversion == 1 && tree.node("/b")?.stat.mzxid == 2)
        #expect(tree.node("/c")?.childCount == 1 && tree.node("/c")?.stat.cversion == 1 && tree.node("/c")?.stat.pzxid == 6)
        tree.checkInvariants()

        let allocated = tree.changedNodeStatistics.allocated
        _ = tree.apply(txn(7, .delete(path: "/a")))
        _ = tree.apply(txn(8, .delete(path: "/c/d")))
        // "/" already held one; /c keeps its entry (cversion and pzxid moved).
        #expect(tree.changedNodeStatistics.inUse == holders + 2)
        tree.checkInvariants()
        _ = tree.apply(txn(9, .create(createTxn("/e", parentCVersion: -1))))
        _ = tree.apply(txn(10, .setData(path: "/e", data: [], version: 1)))
        #expect(tree.changedNodeStatistics.inUse == holders + 3)
        #expect(tree.changedNodeStatistics.allocated == allocated, "the freed entry is reused")
        #expect(tree.node("/e")?.stat.version == 1 && tree.node("/e")?.stat.czxid == 9 && tree.node("/e")?.stat.mzxid == 10)
        tree.checkInvariants()
    }

    /// A node loaded unchanged holds no entry until it gets a child, and gives it back when it
    /// loses its last child without a change of its own (a subtree removed under it).
    @Test func aParentGivesItsEntryBackWithItsLastChild() {
        var tree = DataTree.emptyForLoading()
        var unchanged = StatPersisted()
        unchanged.czxid = 5
        unchanged.mzxid = 5
        unchanged.pzxid = 5
        unchanged.ctime = 77
        unchanged.mtime = 77
        var rootStat = StatPersisted()
        rootStat.cversion = 1
        rootStat.pzxid = 5
        #expect(tree.loadNode(path: "/", data: [], acl: ACL.openUnsafe, stat: rootStat) == nil)
        #expect(tree.loadNode(path: "/a", data: [1], acl: ACL.openUnsafe, stat: unchanged) == nil)
        #expect(tree.changedNodeStatistics.inUse == 1, "the root only")
        #expect(tree.loadNode(path: "/a/b", data: [2], acl: ACL.openUnsafe, stat: unchanged) == nil)
        #expect(tree.changedNodeStatistics.inUse == 2, "/a holds one for its child")
        #expect(tree.node("/a")?.stat == unchanged && tree.node("/a")?.childCount == 1)
        tree.finishLoading(lastProcessedZxid: 5)
        tree.checkInvariants()
        // Replaying a delete of /a (its child with it, as a fuzzy snapshot's replay can).
        _ = tree.apply(txn(6, .delete(path: "/a")))
        #expect(tree.node("/a") == nil && tree.nodeCount == 1)
        #expect(tree.changedNodeStatistics.inUse == 1)
        tree.checkInvariants()
    }

    private static func mixedTree() -> DataTree {
        var tree = DataTree()
        var zxid: Int64 = 0
        func next() -> Int64 { zxid += 1; return zxid }
        _ = tree.apply(txn(next(), .create(createTxn("/app", "config", parentCVersion: -1))))
        for index in 0..<300 {
            _ = tree.apply(txn(next(), .create(createTxn("/app/n\(index)", String(repeating: "v", count: index % 17), parentCVersion: -1)), time: 1000 + zxid))
        }
        for index in stride(from: 0, to: 300, by: 7) {
            _ = tree.apply(txn(next(), .setData(path: "/app/n\(index)", data: Array("changed \(index)".utf8), version: 1), time: 9000 + zxid))
        }
        for index in stride(from: 3, to: 300, by: 11) {
            _ = tree.apply(txn(next(), .setACL(path: "/app/n\(index)", acl: ACL.readUnsafe, version: 1)))
        }
        for index in stride(from: 5, to: 300, by: 13) {
            _ = tree.apply(txn(next(), .delete(path: "/app/n\(index)")))
        }
        _ = tree.apply(txn(next(), .create(createTxn("/app/n1/child", "c", parentCVersion: -1))))
        _ = tree.apply(txn(next(), .create(createTxn("/eph", "e", parentCVersion: -1, ephemeral: true)), session: 0x42))
        return tree
    }

    /// A snapshot's walk and load give back every node as it was, whether it held an entry or not.
    @Test func snapshotWalkAndLoadRoundTrip() {
        let tree = Self.mixedTree()
        tree.checkInvariants()
        var loaded = DataTree.emptyForLoading()
        var walk = FuzzySnapshotWalk()
        while !walk.isFinished {
            for (path, node) in walk.nextSlice(of: tree, nodesMax: 64) {
                #expect(loaded.loadNode(path: path, data: node.data, acl: node.acl, stat: node.stat) == nil, "\(path)")
            }
        }
        loaded.finishLoading(lastProcessedZxid: tree.lastProcessedZxid)
        loaded.checkInvariants()
        #expect(loaded.nodes == tree.nodes)
        #expect(loaded.digest == tree.digest)
        #expect(loaded.changedNodeStatistics.inUse == tree.changedNodeStatistics.inUse)
    }

    /// The digest of a fixed history, as the 84-byte-record layout (every stat field in the
    /// record, commit 07ed3c4) computed it: where a stat field is stored changes no digest.
    @Test func digestMatchesTheLayoutWithoutChangesEntries() {
        let tree = Self.mixedTree()
        #expect(tree.digest == tree.computeDigest())
        #expect(tree.digest == Self.digestOfTheMixedTreeBeforeChangesEntries, "digest \(tree.digest)")
    }

    private static let digestOfTheMixedTreeBeforeChangesEntries: UInt64 = 608_943_467_135
}
