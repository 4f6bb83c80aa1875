import ZKBase

/// One znode: data, ACL, persisted stat and the names of its children.
public struct DataNode: Sendable, Hashable {
    /// nil when the node was created or set with a null buffer (ZooKeeper keeps the distinction).
    public var data: [UInt8]?
    public var acl: [ACL]
    public var stat: StatPersisted
    /// ZooKeeper's digest of this node (CRC32 of path, data and stat), kept current by the tree
    /// so a change subtracts the old value without recomputing it. It sits in the 4 bytes after
    /// the 60-byte stat, which alignment would leave empty: it costs no memory.
    public internal(set) var cachedDigest: UInt32 = 0
    public var children: Set<String>

    public init(data: [UInt8]? = [], acl: [ACL] = ACL.openUnsafe, stat: StatPersisted = StatPersisted(), children: Set<String> = []) {
        self.data = data
        self.acl = acl
        self.stat = stat
        self.children = children
    }

    /// The wire Stat, as ZooKeeper's DataNode.copyStat makes it: the stored cversion counts only
    /// creates, so clients see `2 * creates - children` (every create has a delete except for the
    /// children still present); container and TTL markers in ephemeralOwner are shown as 0.
    public var fullStat: Stat {
        let numChildren = Int32(children.count)
        var result = stat.stat(dataLength: Int32(data?.count ?? 0), numChildren: numChildren)
        result.cversion = stat.cversion &* 2 &- numChildren
        if !EphemeralOwner.isSession(stat.ephemeralOwner) { result.ephemeralOwner = 0 }
        return result
    }
}
