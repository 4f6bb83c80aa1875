import Testing
import ZKBase
import ZKTree
import ZKWire

@Suite struct FuzzySnapshotWalkTests {
    /// A parent wider than `sortedChildrenMax` (its children come unsorted) next to a narrow one
    /// (sorted), some children with children of their own.
    private static func tree() -> (DataTree, Int64) {
        var tree = DataTree()
        var zxid: Int64 = 0
        func create(_ path: String, _ cversion: Int32) {
            zxid += 1
            _ = tree.apply(txn(zxid, .create(createTxn(path, parentCVersion: cversion))))
        }
        create("/wide", 1)
        create("/narrow", 2)
        let wide = FuzzySnapshotWalk.sortedChildrenMax + 500
        for index in 0..<wide { create("/wide/c\(index)", Int32(index + 1)) }
        for index in stride(from: 0, to: wide, by: 97) { create("/wide/c\(index)/g", 1) }
        for name in ["b", "c", "a"] { create("/narrow/\(name)", 1) }
        return (tree, zxid)
    }

    @Test func everyNodeOnceParentsFirstNarrowParentsSorted() {
        let (tree, _) = Self.tree()
        var walk = FuzzySnapshotWalk()
        var order: [String] = []
        while !walk.isFinished { order += walk.nextSlice(of: tree, nodesMax: 7).map(\.path) }
        #expect(order.count == tree.nodeCount)
        #expect(Set(order) == Set(tree.nodes.keys))
        #expect(walk.visitedCount == tree.nodeCount)
        var seen: Set<String> = []
        for path in order {
            #expect(path == "/" || seen.contains(PathValidation.parent(of: path)), "\(path) before its parent")
            seen.insert(path)
        }
        #expect(order.filter { $0.hasPrefix("/narrow/") } == ["/narrow/a", "/narrow/b", "/narrow/c"])
        #expect(order.first == "/")
    }

    @Test func nodesDeletedDuringTheWalkAreSkippedAndSlicesCarryNoChildren() {
        var (tree, zxid) = Self.tree()
        var walk = FuzzySnapshotWalk()
        var emitted: [String] = []
        var deleted: Set<String> = []
        var index = 0
        while !walk.isFinished {
            for entry in walk.nextSlice(of: tree, nodesMax: 50) {
                // A slice's copy holds its data and stat only: no node carries its children's names.
                #expect(entry.node.childCount == tree.node(entry.path)?.childCount)
                emitted.append(entry.path)
            }
            // Between slices a leaf goes away; if the walk had not reached it yet it must not appear.
            let victim = "/wide/c\(index * 13 + 1)"
            if !emitted.contains(victim), tree.node(victim)?.childCount == 0 {
                zxid += 1
                _ = tree.apply(txn(zxid, .delete(path: victim)))
                deleted.insert(victim)
            }
            index += 1
        }
        #expect(deleted.isEmpty == false)
        #expect(Set(emitted).isDisjoint(with: deleted))
        #expect(Set(emitted) == Set(tree.nodes.keys), "every node still present is written exactly when the walk ends")
        #expect(emitted.count == Set(emitted).count)
    }

    /// A wide parent's children are listed by node id, and ids are reused: a child deleted before
    /// the walk reaches it whose id goes to a node created meanwhile (here one re-created under a
    /// name already written) must not be written, so no path comes twice.
    @Test func reusedIdsOfAWideParentAreNotWrittenTwice() {
        var (tree, zxid) = Self.tree()
        var walk = FuzzySnapshotWalk()
        var emitted: [String] = []
        var round = 0
        while !walk.isFinished {
            emitted += walk.nextSlice(of: tree, nodesMax: 300).map(\.path)
            // Free an id (a leaf the walk has not reached, or has), then re-create a written name:
            // the new node takes the freed id.
            let written = emitted.filter { $0.hasPrefix("/wide/c") && !$0.hasSuffix("/g") }
            guard let again = written.last, tree.node(again)?.childCount == 0 else { continue }
            round += 1
            let victim = "/wide/c\(2 * round + 1)"
            guard tree.node(victim)?.childCount == 0 else { continue }
            zxid += 1
            _ = tree.apply(txn(zxid, .delete(path: again)))
            zxid += 1
            _ = tree.apply(txn(zxid, .delete(path: victim)))
            zxid += 1
            _ = tree.apply(txn(zxid, .create(createTxn(again, parentCVersion: -1))))
        }
        #expect(round > 3)
        #expect(emitted.count == Set(emitted).count, "a path was written twice")
        tree.checkInvariants()
    }
}
