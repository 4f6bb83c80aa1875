import ZKBase
import ZKTree

/// What prep sees of a node: the applied tree overlaid with the effects of txns that are
/// proposed but not yet applied (ZooKeeper's outstandingChanges, owned here by one value).
struct ChangeRecord: Sendable {
    var zxid: Int64
    var stat: StatPersisted
    var childCount: Int
    var acl: [ACL]
    var data: [UInt8]?
    /// False for a record that says "deleted by a pending txn".
    var exists: Bool
    /// The node digest when known: the tree's cached value, or the one computed when the record
    /// was stored. `PendingChanges.set` always recomputes it, so a record read, changed and
    /// stored again never carries a stale value.
    var knownDigest: UInt64?

    init(zxid: Int64, stat: StatPersisted, childCount: Int, acl: [ACL], data: [UInt8]?, exists: Bool = true, knownDigest: UInt64? = nil) {
        self.zxid = zxid
        self.stat = stat
        self.childCount = childCount
        self.acl = acl
        self.data = data
        self.exists = exists
        self.knownDigest = knownDigest
    }

    func digest(path: String) -> UInt64 { knownDigest ?? DataTree.nodeDigest(path: path, data: data, stat: stat) }
}

struct PendingChanges: Sendable {
    private(set) var records: [String: ChangeRecord] = [:]
    /// (zxid, path) of every record stored, oldest first: `applied(through:)` walks this instead
    /// of filtering the whole table into a new one after every commit.
    private var stored: [(zxid: Int64, path: String)] = []
    private var storedHead = 0
    /// Digest of the tree with every pending txn applied: what each new txn records in the log.
    private(set) var digest: UInt64

    /// Records stored and records forgotten once applied, over the core's life (ZooKeeper's
    /// outstanding_changes_queued / outstanding_changes_removed): `reset` keeps them.
    private(set) var queuedCount = 0
    private(set) var removedCount = 0

    init(digest: UInt64) { self.digest = digest }

    /// Starts over from the tree (digest `digest`), keeping the counts.
    mutating func reset(digest: UInt64) {
        var fresh = PendingChanges(digest: digest)
        fresh.queuedCount = queuedCount
        fresh.removedCount = removedCount
        self = fresh
    }

    var isEmpty: Bool { records.isEmpty }

    func record(for path: String, in tree: DataTree) -> ChangeRecord? {
        if let record = records[path] { return record.exists ? record : nil }
        guard let node = tree.node(path) else { return nil }
        return ChangeRecord(
            zxid: node.stat.mzxid, stat: node.stat, childCount: node.childCount, acl: node.acl, data: node.data,
            knownDigest: UInt64(node.cachedDigest))
    }

    mutating func set(_ path: String, _ record: ChangeRecord, in tree: DataTree) {
        if let old = self.record(for: path, in: tree) { digest &-= old.digest(path: path) }
        var record = record
        // Computed from the record's own fields (never taken over from the record it replaces).
        let recordDigest = DataTree.nodeDigest(path: path, data: record.data, stat: record.stat)
        record.knownDigest = recordDigest
        records[path] = record
        stored.append((record.zxid, path))
        queuedCount += 1
        digest &+= recordDigest
    }

    mutating func markDeleted(_ path: String, zxid: Int64, in tree: DataTree) {
        if let old = record(for: path, in: tree) { digest &-= old.digest(path: path) }
        records[path] = ChangeRecord(zxid: zxid, stat: StatPersisted(), childCount: 0, acl: [], data: nil, exists: false)
        stored.append((zxid, path))
        queuedCount += 1
    }

    /// Forgets records the tree has caught up with (a path changed again by a later pending txn
    /// keeps its newer record).
    mutating func applied(through zxid: Int64) {
        while storedHead < stored.count, stored[storedHead].zxid <= zxid {
            let path = stored[storedHead].path
            storedHead += 1
            removedCount += 1
            if let record = records[path], record.zxid <= zxid { records.removeValue(forKey: path) }
        }
        if storedHead == stored.count {
            stored.removeAll(keepingCapacity: true)
            storedHead = 0
        } else if storedHead > 1024 && storedHead * 2 > stored.count {
            stored.removeFirst(storedHead)
            storedHead = 0
        }
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
