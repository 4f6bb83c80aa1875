import ZKBase

/// Walks the live tree in pre-order a slice at a time, so a snapshot never stops the world:
/// between slices txns keep being applied, and the walk looks nodes up by path each time (a node
/// deleted meanwhile is skipped, one created under an already visited parent is missed — its
/// create is in the log after the snapshot's start zxid and replay brings it back).
public struct FuzzySnapshotWalk: Sendable {
    private var pending: [String] = ["/"]
    public private(set) var visitedCount = 0

    public init() {}

    public var isFinished: Bool { pending.isEmpty }

    /// Up to `nodesMax` (path, node) pairs in pre-order, parents before children.
    public mutating func nextSlice(of tree: DataTree, nodesMax: Int) -> [(path: String, node: DataNode)] {
        var slice: [(path: String, node: DataNode)] = []
        slice.reserveCapacity(min(nodesMax, 4096))
        while slice.count < nodesMax, let path = pending.popLast() {
            guard var node = tree.node(path) else { continue }
            visitedCount += 1
            // Reverse-sorted onto the stack, so children come off in sorted order.
            for child in node.children.sorted(by: >) { pending.append(PathValidation.join(path, child)) }
            // The copy leaves without its children set: holding it would make the next create
            // under this parent copy the whole set.
            node.children = []
            slice.append((path, node))
        }
        return slice
    }
}
