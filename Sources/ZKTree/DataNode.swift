import ZKBase

/// One znode: data, ACL, persisted stat and the names of its children.
public struct DataNode: Sendable, Hashable {
    public var data: [UInt8]
    public var acl: [ACL]
    public var stat: StatPersisted
    public var children: Set<String>

    public init(data: [UInt8] = [], acl: [ACL] = ACL.openUnsafe, stat: StatPersisted = StatPersisted(), children: Set<String> = []) {
        self.data = data
        self.acl = acl
        self.stat = stat
        self.children = children
    }

    /// The wire Stat: the persisted fields plus the derived dataLength and numChildren.
    public var fullStat: Stat { stat.stat(dataLength: Int32(data.count), numChildren: Int32(children.count)) }
}
