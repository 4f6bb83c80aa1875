import ZKBase

/// One shared array per distinct ACL list, like ZooKeeper's ReferenceCountedACLCache: a tree of
/// a million znodes usually carries a handful of ACL lists, and a node holds a 4-byte index into
/// this table instead of its own list. Equal lists share storage (arrays are copy-on-write, so a
/// shared list can never change under another node).
///
/// Each list counts the nodes holding it; a list no node holds any more is dropped at once and
/// its index reused, so the table is bounded by the live distinct lists.
struct ACLInternTable: Sendable {
    private var lists: [[ACL]] = []
    private var references: [Int] = []
    private var indexOf: [[ACL]: UInt32] = [:]
    private var freeIndices: [UInt32] = []

    /// The list retained last: most trees use one or two ACLs, and comparing with it is much
    /// cheaper than hashing the list for the dictionary.
    private var last: (list: [ACL], index: UInt32)?

    /// The index of the shared instance equal to `acl` (registering `acl` when it is new), counted
    /// as held once more.
    mutating func retain(_ acl: [ACL]) -> UInt32 {
        let index: UInt32
        if let last, last.list == acl {
            index = last.index
        } else if let known = indexOf[acl] {
            index = known
        } else if let reused = freeIndices.popLast() {
            index = reused
            lists[Int(index)] = acl
            indexOf[acl] = index
        } else {
            index = UInt32(lists.count)
            lists.append(acl)
            references.append(0)
            indexOf[acl] = index
        }
        references[Int(index)] += 1
        last = (lists[Int(index)], index)
        return index
    }

    /// One holder of `index` fewer; the list goes when none is left.
    mutating func release(_ index: UInt32) {
        precondition(references[Int(index)] > 0, "ACL list \(index) released more often than retained")
        references[Int(index)] -= 1
        guard references[Int(index)] == 0 else { return }
        indexOf[lists[Int(index)]] = nil
        lists[Int(index)] = []
        freeIndices.append(index)
        if last?.index == index { last = nil }
    }

    subscript(index: UInt32) -> [ACL] { lists[Int(index)] }

    /// Distinct lists held by at least one node.
    var count: Int { indexOf.count }

    var liveLists: [[ACL]] { Array(indexOf.keys) }

    /// Holders of each index, for the tree's invariant check.
    var referenceCounts: [Int] { references }

    func checkInvariants() {
        precondition(lists.count == references.count, "\(lists.count) lists, \(references.count) counts")
        for (list, index) in indexOf {
            precondition(lists[Int(index)] == list && references[Int(index)] > 0, "ACL list \(index) is indexed but unheld")
        }
        precondition(indexOf.count + freeIndices.count == lists.count, "ACL slots leak")
        for index in freeIndices { precondition(references[Int(index)] == 0, "free ACL slot \(index) is held") }
    }
}
