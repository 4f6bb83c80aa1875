import ZKBase

/// Walks the live tree in pre-order a slice at a time, so a snapshot never stops the world:
/// between slices txns keep being applied, and the walk looks nodes up by path each time (a node
/// deleted meanwhile is skipped, one created under an already visited parent is missed — its
/// create is in the log after the snapshot's start zxid and replay brings it back).
///
/// Children come in name order when their parent has at most `sortedChildrenMax` of them (so
/// snapshots of the same tree are the same bytes: reproducible fixtures, readable dumps), and in
/// the order of the parent's child list above that (FORMAT.md asks only for pre-order): sorting a wide
/// parent's names, or building every child path up front, stalled the event loop for as long as
/// the parent was wide (over a second at a million children). A visited parent costs one copy
/// of its child names; their paths are built as slices consume them.
public struct FuzzySnapshotWalk: Sendable {
    /// Children of a visited node still to visit.
    private struct Level: Sendable {
        var parent: String
        var names: [String]
        var next = 0
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
            visit("/", in: tree, including: including, into: &slice)
        }
        while slice.count < nodesMax, let top = levels.indices.last {
            guard levels[top].next < levels[top].names.count else {
                levels.removeLast()
                continue
            }
            let path = PathValidation.join(levels[top].parent, levels[top].names[levels[top].next])
            levels[top].next += 1
            visit(path, in: tree, including: including, into: &slice)
        }
        return slice
    }

    private mutating func visit(
        _ path: String, in tree: DataTree, including: (DataNode) -> Bool, into slice: inout [(path: String, node: DataNode)]
    ) {
        guard let node = tree.node(path), including(node) else { return }
        visitedCount += 1
        if node.childCount > 0, let children = tree.childNames(of: path) {
            let names = children.count <= Self.sortedChildrenMax ? children.sorted() : children
            levels.append(Level(parent: path, names: names))
        }
        slice.append((path, node))
    }
}
