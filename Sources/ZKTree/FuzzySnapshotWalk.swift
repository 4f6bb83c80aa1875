import ZKBase

/// Walks the live tree in pre-order a slice at a time, so a snapshot never stops the world:
/// between slices txns keep being applied, and the walk looks nodes up again each time (a node
/// deleted meanwhile is skipped, one created under an already visited parent is missed — its
/// create is in the log after the snapshot's start zxid and replay brings it back).
///
/// Children come in name order when their parent has at most `sortedChildrenMax` of them (so
/// snapshots of the same tree are the same bytes: reproducible fixtures, readable dumps), and in
/// the order of the parent's child list above that (FORMAT.md asks only for pre-order): sorting a
/// wide parent's names, or building every child path up front, stalled the event loop for as long
/// as the parent was wide (over a second at a million children). A narrow parent costs one copy
/// of its child names, a wide one a list of its children's node ids (4 bytes each, where a name
/// took 16 or more: 4 MB instead of 16 for a million children, held for the whole snapshot).
/// Ids are reused after deletes, so a wide parent's child is visited only while it is still a
/// child of that parent created no later than the newest child listed (zxids only grow, so a node
/// that took over a listed id since is newer and is skipped: it is one created after the start).
public struct FuzzySnapshotWalk: Sendable {
    /// Children of a visited node still to visit: by name (narrow parents) or by id (wide ones).
    private struct Level: Sendable {
        var parent: String
        var names: [String] = []
        var ids: [UInt32] = []
        var parentId: UInt32 = 0
        var czxidMax: Int64 = 0
        var next = 0
        var count: Int { ids.isEmpty ? names.count : ids.count }
    }

    public static let sortedChildrenMax = 4096

    private var levels: [Level] = []
    private var rootPending = true
    public private(set) var visitedCount = 0

    public init() {}

    public var isFinished: Bool { !rootPending && levels.isEmpty }

    /// Up to `nodesMax` (path, node) pairs in pre-order, parents before children.
    /// A node for which `including` is false is left out with its whole subtree.
    public mutating func nextSlice(
        of tree: DataTree, nodesMax: Int, including: (DataNode) -> Bool = { _ in true }
    ) -> [(path: String, node: DataNode)] {
        var slice: [(path: String, node: DataNode)] = []
        slice.reserveCapacity(min(nodesMax, 4096))
        if rootPending && nodesMax > 0 {
            rootPending = false
            let root = tree.table.lookup("/")
            if root != NodeTable.none { visit(root, path: "/", in: tree, including: including, into: &slice) }
        }
        while slice.count < nodesMax, let top = levels.indices.last {
            guard levels[top].next < levels[top].count else {
                levels.removeLast()
                continue
            }
            let index = levels[top].next
            levels[top].next += 1
            let id: UInt32
            let path: String
            if levels[top].ids.isEmpty {
                path = PathValidation.join(levels[top].parent, levels[top].names[index])
                id = tree.table.lookup(path)
            } else {
                id = levels[top].ids[index]
                guard tree.table.isLive(id), tree.table.records[Int(id)].parent == levels[top].parentId,
                      tree.table.records[Int(id)].czxid.value <= levels[top].czxidMax
                else { continue }
                path = PathValidation.join(levels[top].parent, tree.table.name(of: id))
            }
            if id != NodeTable.none { visit(id, path: path, in: tree, including: including, into: &slice) }
        }
        return slice
    }

    private mutating func visit(
        _ id: UInt32, path: String, in tree: DataTree, including: (DataNode) -> Bool,
        into slice: inout [(path: String, node: DataNode)]
    ) {
        let node = tree.materialize(id)
        guard including(node) else { return }
        visitedCount += 1
        if node.childCount > Self.sortedChildrenMax {
            let ids = tree.table.children(of: id)
            let czxidMax = ids.reduce(Int64.min) { max($0, tree.table.records[Int($1)].czxid.value) }
            levels.append(Level(parent: path, ids: ids, parentId: id, czxidMax: czxidMax))
        } else if node.childCount > 0 {
            let names = tree.table.children(of: id).map { tree.table.name(of: $0) }.sorted()
            levels.append(Level(parent: path, names: names))
        }
        slice.append((path, node))
    }
}
