import ZKBase

/// One znode as read from the tree: data, ACL, persisted stat and how many children it has (their
/// names: `DataTree.childNames(of:)`). The tree stores nodes compactly (see NodeTable) and builds
/// this value on each read.
public struct DataNode: Sendable, Hashable {
    /// nil when the node was created or set with a null buffer (ZooKeeper keeps the distinction).
    public var data: [UInt8]?
    public var acl: [ACL]
    public var stat: StatPersisted
    /// ZooKeeper's digest of this node (CRC32 of path, data and stat), as the tree keeps it.
    public internal(set) var cachedDigest: UInt32 = 0
    public var childCount: Int

    public init(data: [UInt8]? = [], acl: [ACL] = ACL.openUnsafe, stat: StatPersisted = StatPersisted(), childCount: Int = 0) {
        self.data = data
        self.acl = acl
        self.stat = stat
        self.childCount = childCount
    }

    /// The wire Stat, as ZooKeeper's DataNode.copyStat makes it: the stored cversion counts only
    /// creates, so clients see `2 * creates - children` (every create has a delete except for the
    /// children still present); container and TTL markers in ephemeralOwner are shown as 0.
    public var fullStat: Stat {
        Self.fullStat(stat, dataLength: data?.count ?? 0, childCount: childCount)
    }

    static func fullStat(_ stat: StatPersisted, dataLength: Int, childCount: Int) -> Stat {
        let numChildren = Int32(childCount)
        var result = stat.stat(dataLength: Int32(dataLength), numChildren: numChildren)
        result.cversion = stat.cversion &* 2 &- numChildren
        if !EphemeralOwner.isSession(stat.ephemeralOwner) { result.ephemeralOwner = 0 }
        return result
    }
}

/// One znode's ACL and stat without its data: what the tree answers for reads that return no
/// data, so they neither read nor copy the value.
public struct NodeStatus: Sendable, Hashable {
    public var acl: [ACL]
    public var stat: StatPersisted
    /// The data's length in bytes (0 for null data).
    public var dataCount: Int
    public var childCount: Int

    public init(acl: [ACL], stat: StatPersisted, dataCount: Int, childCount: Int) {
        self.acl = acl
        self.stat = stat
        self.dataCount = dataCount
        self.childCount = childCount
    }

    /// The wire Stat (see DataNode.fullStat).
    public var fullStat: Stat { DataNode.fullStat(stat, dataLength: dataCount, childCount: childCount) }
}
