import ZKBase
import ZKTree

/// What prep sees of a node: the applied tree overlaid with the effects of txns that are
/// proposed but not yet applied (ZooKeeper's outstandingChanges, owned here by one value).
struct ChangeRecord: Sendable {
    var zxid: Int64
    var stat: StatPersisted
    var childCount: Int
    var acl: [ACL]
    var dataLength: Int
    /// False for a record that says "deleted by a pending txn".
    var exists: Bool

    init(zxid: Int64, stat: StatPersisted, childCount: Int, acl: [ACL], dataLength: Int, exists: Bool = true) {
        self.zxid = zxid
        self.stat = stat
        self.childCount = childCount
        self.acl = acl
        self.dataLength = dataLength
        self.exists = exists
    }
}

struct PendingChanges: Sendable {
    private(set) var records: [String: ChangeRecord] = [:]

    var isEmpty: Bool { records.isEmpty }

    func record(for path: String, in tree: DataTree) -> ChangeRecord? {
        if let record = records[path] { return record.exists ? record : nil }
        guard let node = tree.node(path) else { return nil }
        return ChangeRecord(
            zxid: node.stat.mzxid, stat: node.stat, childCount: node.children.count, acl: node.acl,
            dataLength: node.data?.count ?? 0)
    }

    mutating func set(_ path: String, _ record: ChangeRecord) { records[path] = record }

    mutating func markDeleted(_ path: String, zxid: Int64) {
        records[path] = ChangeRecord(zxid: zxid, stat: StatPersisted(), childCount: 0, acl: [], dataLength: 0, exists: false)
    }

    /// Forgets records the tree has caught up with.
    mutating func applied(through zxid: Int64) {
        guard !records.isEmpty else { return }
        records = records.filter { $0.value.zxid > zxid }
    }

    /// The ephemerals a closeSession must delete, in the order ZooKeeper lists them: a clone of
    /// the session's HashSet, adjusted by the pending changes in zxid order.
    func ephemerals(of session: Int64, in tree: DataTree) -> [String] {
        var paths = tree.ephemerals[session]?.cloned() ?? JavaHashOrderedSet()
        for (path, record) in records.sorted(by: { ($0.value.zxid, $0.key) < ($1.value.zxid, $1.key) }) {
            if record.exists && record.stat.ephemeralOwner == session {
                paths.insert(path)
            } else if !record.exists {
                paths.remove(path)
            }
        }
        return paths.elements
    }

    mutating func restore(_ saved: PendingChanges) { self = saved }
}
