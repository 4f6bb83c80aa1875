import Testing
import ZKBase
import ZKTree
import ZKWire

/// Nodes with equal ACL lists share one array (memory), and the shared table forgets lists that
/// no node uses any more (bounded).
@Suite struct ACLInterningTests {
    private static func storage(_ acl: [ACL]?) -> UnsafeRawPointer? {
        acl?.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
    }

    private static func digestACL(_ user: Int) -> [ACL] {
        [ACL(perms: .all, id: Id(scheme: "digest", id: "user\(user):hash\(user)"))]
    }

    @Test func equalListsFromSeparateTxnsShareOneArray() {
        var tree = DataTree()
        // Each txn carries its own freshly built (equal) array, as decoding does.
        _ = tree.apply(txn(1, .create(createTxn("/a", parentCVersion: 1, acl: Self.digestACL(7)))))
        _ = tree.apply(txn(2, .create(createTxn("/b", parentCVersion: 2, acl: Self.digestACL(7)))))
        _ = tree.apply(txn(3, .create(createTxn("/c", parentCVersion: 3, acl: Self.digestACL(8)))))
        _ = tree.apply(txn(4, .setACL(path: "/c", acl: Self.digestACL(7), version: 1)))
        let a = tree.node("/a")?.acl, b = tree.node("/b")?.acl, c = tree.node("/c")?.acl
        #expect(a == Self.digestACL(7) && b == a && c == a)
        #expect(Self.storage(a) != nil && Self.storage(a) == Self.storage(b), "equal ACL lists must share storage")
        #expect(Self.storage(c) == Self.storage(a), "setACL to an equal list shares it too")
    }

    @Test func snapshotLoadSharesListsToo() {
        var tree = DataTree.emptyForLoading()
        tree.loadNode(path: "/", data: [], acl: ACL.openUnsafe, stat: StatPersisted())
        tree.loadNode(path: "/x", data: [], acl: Self.digestACL(1), stat: StatPersisted())
        tree.loadNode(path: "/y", data: [], acl: Self.digestACL(1), stat: StatPersisted())
        #expect(Self.storage(tree.node("/x")?.acl) == Self.storage(tree.node("/y")?.acl))
    }

    @Test func unusedListsAreForgottenSoTheTableStaysBounded() {
        var tree = DataTree()
        var zxid: Int64 = 0
        var cversion: Int32 = 1
        // Rounds of 1500 nodes, each with an ACL no other node has, deleted again: without a
        // sweep the table would hold every list ever seen (6000).
        for round in 0..<4 {
            for index in 0..<1500 {
                zxid += 1
                cversion += 1
                let user = round * 1500 + index
                _ = tree.apply(txn(zxid, .create(createTxn("/n\(index)", parentCVersion: cversion, acl: Self.digestACL(user)))))
            }
            for index in 0..<1500 {
                zxid += 1
                _ = tree.apply(txn(zxid, .delete(path: "/n\(index)")))
            }
        }
        #expect(tree.nodeCount == 4)
        #expect(tree.internedACLCount <= 3000, "table holds \(tree.internedACLCount) lists for 0 live ones")
        // Whatever was swept, live nodes still read their own ACL.
        zxid += 1
        _ = tree.apply(txn(zxid, .create(createTxn("/live", parentCVersion: cversion + 1, acl: Self.digestACL(99_999)))))
        #expect(tree.node("/live")?.acl == Self.digestACL(99_999))
        #expect(tree.digest == tree.computeDigest())
    }
}
