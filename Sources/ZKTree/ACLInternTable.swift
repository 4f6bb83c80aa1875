import ZKBase

/// One shared array per distinct ACL list, like ZooKeeper's ReferenceCountedACLCache: a tree of
/// a million znodes usually carries a handful of ACL lists, and a node holding its own one-entry
/// `[ACL]` costs 80 bytes of heap. Equal lists share storage (arrays are copy-on-write, so a
/// shared list can never change under another node).
///
/// Lists no node uses any more are dropped by `sweep`, which the tree runs when the table has
/// grown to twice what was in use at the last sweep (and past a floor), so the table stays
/// bounded by the live distinct lists while the O(nodes) sweep stays rare.
struct ACLInternTable: Sendable {
    private(set) var lists: Set<[ACL]> = []
    private var sweepAbove = ACLInternTable.sweepFloor
    private static let sweepFloor = 1024

    /// The list interned last: most trees use one or two ACLs, and comparing with it is much
    /// cheaper than hashing the list for the set.
    private var last: [ACL] = []

    /// The shared instance equal to `acl`, registering `acl` when it is new.
    mutating func intern(_ acl: [ACL]) -> [ACL] {
        if acl == last && !last.isEmpty { return last }
        last = lists.insert(acl).memberAfterInsert
        return last
    }

    var needsSweep: Bool { lists.count > sweepAbove }

    var count: Int { lists.count }

    /// Keeps only the lists in `inUse` (the shared instances the nodes hold).
    mutating func sweep(keeping inUse: Set<[ACL]>) {
        lists = inUse
        last = []
        sweepAbove = max(Self.sweepFloor, 2 * inUse.count)
    }
}
