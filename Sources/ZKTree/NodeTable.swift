import ZKBase

/// A 64-bit stat field as two 32-bit halves, so a record needs only 4-byte alignment (no padding).
struct Split64: Sendable, Equatable {
    var low: UInt32
    var high: UInt32

    @inline(__always) init(_ value: Int64) {
        low = UInt32(truncatingIfNeeded: value)
        high = UInt32(truncatingIfNeeded: value >> 32)
    }

    @inline(__always) var value: Int64 { Int64(bitPattern: UInt64(high) << 32 | UInt64(low)) }
}

/// One znode's fixed part in the node table: 44 bytes, 4-byte aligned. What every node needs: its
/// create (czxid, ctime), digest, links, ACL index and arena offset. The stat fields that a create
/// sets from czxid and ctime (mzxid, mtime, pzxid) or to 0 (the versions), and the child list,
/// live in a `NodeChanges` entry that the node gets with its first change or child (`changes`),
/// so the nodes that are never touched after their create, nearly all of a big tree, pay 44 bytes
/// instead of 84. ephemeralOwner never changes after the create, so it sits in the node's arena
/// entry (no bytes for the persistent nodes); the name and data are in the arena too.
struct NodeRecord: Sendable, Equatable {
    var czxid: Split64
    var ctime: Split64
    /// The node's digest (see DataTree.nodeDigest), kept current by the tree.
    var digest: UInt32
    /// `NodeTable.none` for the root. For a free record: unused.
    var parent: UInt32
    /// For a free record: the next free record.
    var nextSibling: UInt32
    var prevSibling: UInt32
    /// Index into the tree's ACLInternTable.
    var acl: UInt32
    /// Offset of the node's entry in the arena in 4-byte units (entries are 4-byte aligned, so a
    /// UInt32 reaches 16 GiB of names and data); `NodeTable.freeEntry` for a free record.
    var entry: UInt32
    /// Index of the node's entry in `NodeTable.changes`; `NodeTable.none` while the node has no
    /// child and its stat is as its create made it (`NodeChanges.isUnchanged`).
    var changes: UInt32
}

/// The part of a node's stat that changes after its create, and its child list: held only by the
/// nodes that have changed or have children (see NodeRecord). 44 bytes.
struct NodeChanges: Sendable, Equatable {
    var mzxid: Split64
    var mtime: Split64
    var pzxid: Split64
    var version: Int32
    var cversion: Int32
    var aversion: Int32
    /// Newest child first; `NodeTable.none` for none. For a free entry: the next free entry.
    var firstChild: UInt32
    var childCount: UInt32

    init(_ stat: StatPersisted) {
        mzxid = Split64(stat.mzxid)
        mtime = Split64(stat.mtime)
        pzxid = Split64(stat.pzxid)
        version = stat.version
        cversion = stat.cversion
        aversion = stat.aversion
        firstChild = NodeTable.none
        childCount = 0
    }

    /// Whether a stat is what a create leaves: no entry is needed to hold it.
    static func isUnchanged(_ stat: StatPersisted) -> Bool {
        stat.mzxid == stat.czxid && stat.mtime == stat.ctime && stat.pzxid == stat.czxid && stat.version == 0
            && stat.cversion == 0 && stat.aversion == 0
    }

    mutating func setStat(_ stat: StatPersisted) {
        mzxid = Split64(stat.mzxid)
        mtime = Split64(stat.mtime)
        pzxid = Split64(stat.pzxid)
        version = stat.version
        cversion = stat.cversion
        aversion = stat.aversion
    }
}

/// The storage behind `DataTree`: every znode in one array of fixed records indexed by a UInt32
/// id (a free list reuses the ids of deleted nodes), names and data in one byte arena, and an
/// open-addressing hash index of ids keyed by (parent id, child name) whose hash and equality read
/// the name from the arena, so a slot is 4 bytes. No full path is stored anywhere: a lookup of
/// "/a/b/c" is one probe sequence per component, and a path is rebuilt from the parent chain.
///
/// Per node: 44 bytes of record, an entry of `varint(name count * 2 + has owner) varint(data
/// count + 1, 0 for null data) [ephemeralOwner, 8 bytes] name data`, padded to 4 bytes (104-108 +
/// name bytes for 100 bytes of data), and 4 / load (<= 0.75) bytes of index: about 160 bytes for
/// a 100-byte value with a short name, where the dictionary keyed by full paths took about 470.
///
/// A node that has changed since its create or has children also has a `NodeChanges` entry (36
/// bytes of stat and 8 of child list) in `changes`, reused through a free list once the node is
/// removed or back to no children and an unchanged stat. Most nodes of a big tree are leaves
/// written once, so this halves the records (84 bytes each when every node held every field: 40 MB
/// less RSS at a million nodes); a tree of nodes that all change costs 88 bytes a node instead.
///
/// Children of a node form a doubly-linked list through `firstChild`/`nextSibling`/`prevSibling`
/// (newest first), so a child is unlinked in O(1) and a parent with a million children costs
/// nothing per child beyond the child's own record.
///
/// A setData that changes the data's length writes a new entry and leaves the old one as garbage;
/// when the garbage exceeds both `compactionFloor` and half of the live bytes, the arena is copied
/// to a fresh buffer holding the live entries only. That is O(live bytes) at once (about 60 ms for
/// 110 MB on this project's 2-core VM) and happens after at least live/2 bytes of garbage have been
/// written since the last one, so it is amortized O(1) per byte written.
struct NodeTable: Sendable {
    static let none = UInt32.max
    static let freeEntry = UInt32.max
    private static let idMask: UInt32 = (1 << 27) - 1

    @inline(__always)
    private static func tag(_ hash: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: UInt(bitPattern: hash) >> 59) << 27
    }
    private static let slash = UInt8(ascii: "/")

    /// DataTree changes `digest` and `acl` of live records in place; everything else only
    /// through the table's methods.
    var records: [NodeRecord] = []
    private var freeHead = NodeTable.none
    /// Entries of the nodes that changed after their create or have children (NodeRecord.changes).
    private(set) var changes: [NodeChanges] = []
    private var freeChangesHead = NodeTable.none
    /// Entries of `changes` in use.
    private(set) var changedCount = 0
    private(set) var count = 0
    private(set) var root = NodeTable.none
    private(set) var arena = ArenaBytes()
    /// Bytes of the arena that live nodes' entries take; the rest is garbage.
    private(set) var liveBytes = 0
    /// Per slot 0 (empty) or `tag(hash) | (id + 1)`: the top 5 bits are bits of the entry's hash,
    /// so a probe passing other entries reads their records (random memory) for 1 in 32 of them
    /// only; the low 27 bits hold the id, which bounds a table at 2^27 - 2 nodes (134 million,
    /// some 27 GB of nodes of 100 bytes). A power of two long.
    private var slots: [UInt32] = Array(repeating: 0, count: 16)
    /// Nodes in `slots` (every live node but the root).
    private var indexed = 0
    /// Garbage below this is never compacted (small trees).
    var compactionFloor = 1 << 20
    /// How many times the arena was compacted (for tests).
    private(set) var compactions = 0

    init() {}

    var garbageBytes: Int { arena.count - liveBytes }

    // MARK: - Entries

    struct Entry {
        var start: Int
        var nameStart: Int
        var nameCount: Int
        /// 0 for null data, else the data's count + 1.
        var dataTag: Int
        var ephemeralOwner: Int64
        var dataStart: Int { nameStart + nameCount }
        var dataCount: Int { dataTag == 0 ? 0 : dataTag - 1 }
        var end: Int { dataStart + dataCount }
        /// The entry's bytes in the arena, its padding included.
        var size: Int { (end - start + 3) & ~3 }
    }

    @inline(__always)
    private static func readVarint(_ bytes: UnsafeBufferPointer<UInt8>, _ index: inout Int) -> Int {
        var result = 0
        var shift = 0
        while true {
            let byte = bytes[index]
            index += 1
            result |= Int(byte & 0x7f) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    private static func appendVarint(_ value: Int, to bytes: inout ArenaBytes) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    @inline(__always)
    private static func entry(at unit: UInt32, in arena: UnsafeBufferPointer<UInt8>) -> Entry {
        let start = Int(unit) &* 4
        var index = start
        let header = readVarint(arena, &index)
        let dataTag = readVarint(arena, &index)
        var owner: Int64 = 0
        if header & 1 != 0 {
            owner = UnsafeRawBufferPointer(arena).loadUnaligned(fromByteOffset: index, as: Int64.self)
            index += 8
        }
        return Entry(start: start, nameStart: index, nameCount: header >> 1, dataTag: dataTag, ephemeralOwner: owner)
    }

    /// Whether `id` names a node now (ids of removed nodes are reused by later inserts).
    func isLive(_ id: UInt32) -> Bool { Int(id) < records.count && records[Int(id)].entry != Self.freeEntry }

    func entry(of id: UInt32) -> Entry {
        let unit = records[Int(id)].entry
        precondition(unit != Self.freeEntry, "node \(id) is not in the table")
        return arena.withUnsafeBufferPointer { Self.entry(at: unit, in: $0) }
    }

    private mutating func appendEntry(name: UnsafeRawBufferPointer, data: [UInt8]?, ephemeralOwner: Int64) -> UInt32 {
        let offset = arena.count
        precondition(offset % 4 == 0 && offset / 4 < Int(Self.freeEntry), "node table arena over 16 GiB")
        Self.appendVarint(name.count << 1 | (ephemeralOwner == 0 ? 0 : 1), to: &arena)
        Self.appendVarint(data.map { $0.count + 1 } ?? 0, to: &arena)
        if ephemeralOwner != 0 { withUnsafeBytes(of: ephemeralOwner) { arena.append(contentsOf: $0) } }
        arena.append(contentsOf: name)
        if let data { arena.append(contentsOf: data) }
        while arena.count % 4 != 0 { arena.append(0) }
        liveBytes += arena.count - offset
        return UInt32(offset / 4)
    }

    /// The node's persisted stat.
    func stat(of id: UInt32) -> StatPersisted {
        stat(of: id, ephemeralOwner: entry(of: id).ephemeralOwner)
    }

    /// The node's persisted stat, its ephemeralOwner (from its arena entry) given.
    func stat(of id: UInt32, ephemeralOwner: Int64) -> StatPersisted {
        let record = records[Int(id)]
        var stat = StatPersisted()
        stat.czxid = record.czxid.value
        stat.ctime = record.ctime.value
        stat.ephemeralOwner = ephemeralOwner
        if record.changes == Self.none {
            stat.mzxid = stat.czxid
            stat.mtime = stat.ctime
            stat.pzxid = stat.czxid
        } else {
            let changed = changes[Int(record.changes)]
            stat.mzxid = changed.mzxid.value
            stat.mtime = changed.mtime.value
            stat.pzxid = changed.pzxid.value
            stat.version = changed.version
            stat.cversion = changed.cversion
            stat.aversion = changed.aversion
        }
        return stat
    }

    func childCount(of id: UInt32) -> Int {
        let index = records[Int(id)].changes
        return index == Self.none ? 0 : Int(changes[Int(index)].childCount)
    }

    private func firstChild(of id: UInt32) -> UInt32 {
        let index = records[Int(id)].changes
        return index == Self.none ? Self.none : changes[Int(index)].firstChild
    }

    /// Changes the node's stat in place; its ephemeralOwner must stay as it is.
    mutating func modifyStat<T>(_ id: UInt32, _ body: (inout StatPersisted) -> T) -> T {
        var stat = stat(of: id)
        let owner = stat.ephemeralOwner
        let created = (stat.czxid, stat.ctime)
        let result = body(&stat)
        precondition(stat.ephemeralOwner == owner, "a node's ephemeralOwner never changes")
        precondition(stat.czxid == created.0 && stat.ctime == created.1, "a node's czxid and ctime never change")
        if records[Int(id)].changes != Self.none {
            changes[Int(records[Int(id)].changes)].setStat(stat)
            dropChangesIfUnused(id)
        } else if !NodeChanges.isUnchanged(stat) {
            records[Int(id)].changes = addChanges(NodeChanges(stat))
        }
        return result
    }

    /// The index of a new entry of `changes` holding `entry` (a free one reused first).
    private mutating func addChanges(_ entry: NodeChanges) -> UInt32 {
        changedCount += 1
        if freeChangesHead != Self.none {
            let index = freeChangesHead
            freeChangesHead = changes[Int(index)].firstChild
            changes[Int(index)] = entry
            return index
        }
        precondition(changes.count < Int(Self.none), "node changes table full")
        changes.append(entry)
        return UInt32(changes.count - 1)
    }

    /// Frees node `id`'s entry of `changes` (if it has one) when it no longer holds anything: no
    /// child, and a stat as its create left it.
    private mutating func dropChangesIfUnused(_ id: UInt32) {
        let index = records[Int(id)].changes
        guard index != Self.none else { return }
        let entry = changes[Int(index)]
        guard entry.childCount == 0 else { return }
        var stat = StatPersisted()
        stat.czxid = records[Int(id)].czxid.value
        stat.ctime = records[Int(id)].ctime.value
        stat.mzxid = entry.mzxid.value
        stat.mtime = entry.mtime.value
        stat.pzxid = entry.pzxid.value
        stat.version = entry.version
        stat.cversion = entry.cversion
        stat.aversion = entry.aversion
        guard NodeChanges.isUnchanged(stat) else { return }
        freeChanges(index)
        records[Int(id)].changes = Self.none
    }

    private mutating func freeChanges(_ index: UInt32) {
        changes[Int(index)].firstChild = freeChangesHead
        changes[Int(index)].childCount = 0
        freeChangesHead = index
        changedCount -= 1
    }

    /// The entry of `changes` of node `id`, made (holding its unchanged stat) if it has none yet.
    private mutating func changesIndex(of id: UInt32) -> Int {
        if records[Int(id)].changes == Self.none {
            var stat = StatPersisted()
            stat.czxid = records[Int(id)].czxid.value
            stat.ctime = records[Int(id)].ctime.value
            stat.mzxid = stat.czxid
            stat.mtime = stat.ctime
            stat.pzxid = stat.czxid
            records[Int(id)].changes = addChanges(NodeChanges(stat))
        }
        return Int(records[Int(id)].changes)
    }

    func name(of id: UInt32) -> String {
        let entry = entry(of: id)
        return arena.withUnsafeBufferPointer {
            String(decoding: UnsafeBufferPointer(rebasing: $0[entry.nameStart..<entry.dataStart]), as: UTF8.self)
        }
    }

    func data(of id: UInt32) -> [UInt8]? {
        let entry = entry(of: id)
        guard entry.dataTag != 0 else { return nil }
        return arena.copy(entry.dataStart..<entry.end)
    }

    func dataCount(of id: UInt32) -> Int { entry(of: id).dataCount }

    /// The node's data in place (nil for null data); valid only inside `body`.
    func withData<T>(of id: UInt32, _ body: (UnsafeRawBufferPointer?) throws -> T) rethrows -> T {
        let entry = entry(of: id)
        return try arena.withUnsafeBytes { bytes in
            try body(entry.dataTag == 0 ? nil : UnsafeRawBufferPointer(rebasing: bytes[entry.dataStart..<entry.end]))
        }
    }

    /// The node's full path, rebuilt from its parent chain.
    func path(of id: UInt32) -> String {
        if id == root { return "/" }
        var chain: [UInt32] = []
        var current = id
        while current != root {
            precondition(current != Self.none, "node \(id) is not under the root")
            chain.append(current)
            current = records[Int(current)].parent
        }
        var bytes: [UInt8] = []
        arena.withUnsafeBufferPointer { arena in
            for node in chain.reversed() {
                let entry = Self.entry(at: records[Int(node)].entry, in: arena)
                bytes.append(Self.slash)
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: arena[entry.nameStart..<entry.dataStart]))
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: - Lookup

    /// The index's hash seed: random per process, taken from the standard library's own per-process
    /// Hasher seed (so SWIFT_DETERMINISTIC_HASHING makes it fixed, and the core reads no random
    /// source of its own). Names are chosen by clients, so an unseeded hash could be flooded with
    /// names that collide; with the seed unknown outside the process, colliding names cannot be
    /// computed in advance.
    private static let processHashSeed: UInt64 = {
        var hasher = Hasher()
        hasher.combine(UInt64(0x7061_6464_6f63_6b21))
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }()

    /// Per table, so a probe reads it with the table instead of through a lazy global.
    private let hashSeed = NodeTable.processHashSeed

    /// 64 x 64 -> 128-bit multiply folded to 64 bits: wyhash's mixing step.
    @inline(__always)
    private static func fold(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        return product.high ^ product.low
    }

    /// Hash of (parent, name) for the index: seeded, one 64-bit multiply per 8 name bytes, after
    /// wyhash. Not SipHash (the index probed with Swift's Hasher spent 2.5 % of a getData in it,
    /// for names of a few bytes); not keyed with cryptographic strength either, which the seed
    /// above and linear probing's bounded damage (one slow parent, no crash) make acceptable.
    @inline(__always)
    private static func hash(parent: UInt32, name: UnsafeRawBufferPointer, seed: UInt64) -> Int {
        let count = name.count
        var state = fold(seed ^ (UInt64(parent) << 32 | UInt64(UInt32(truncatingIfNeeded: count))), 0xA076_1D64_78BD_642F)
        var offset = 0
        while offset + 8 <= count {
            state = fold(state ^ name.loadUnaligned(fromByteOffset: offset, as: UInt64.self), 0xE703_7ED1_A0B4_28DB)
            offset += 8
        }
        if offset < count {
            var tail: UInt64 = 0
            for index in offset..<count { tail |= UInt64(name[index]) << UInt64((index - offset) * 8) }
            state = fold(state ^ tail, 0x8EBC_6AF0_9C88_C6E3)
        }
        return Int(bitPattern: UInt(truncatingIfNeeded: fold(state ^ seed, 0x5899_65CC_7537_4CC3)))
    }

    @inline(__always)
    private func hash(parent: UInt32, name: UnsafeRawBufferPointer) -> Int {
        Self.hash(parent: parent, name: name, seed: hashSeed)
    }

    /// The slot holding `parent`'s child `name` and its id, or the empty slot where it would go and `none`.
    private func find(parent: UInt32, name: UnsafeRawBufferPointer, hash: Int) -> (slot: Int, id: UInt32) {
        slots.withUnsafeBufferPointer { slots in
            records.withUnsafeBufferPointer { records in
                arena.withUnsafeBufferPointer { arena in
                    let mask = slots.count - 1
                    var slot = hash & mask
                    let tag = Self.tag(hash)
                    while true {
                        let value = slots[slot]
                        if value == 0 { return (slot, Self.none) }
                        let id = Int(value & Self.idMask) - 1
                        if value & ~Self.idMask == tag && records[id].parent == parent {
                            let entry = Self.entry(at: records[id].entry, in: arena)
                            if entry.nameCount == name.count
                                && UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: arena[entry.nameStart..<entry.dataStart])).elementsEqual(name)
                            {
                                return (slot, UInt32(id))
                            }
                        }
                        slot = (slot + 1) & mask
                    }
                }
            }
        }
    }

    /// The child of `parent` named `name`, or `none`.
    func child(of parent: UInt32, named name: UnsafeRawBufferPointer) -> UInt32 {
        guard parent != Self.none else { return Self.none }
        return find(parent: parent, name: name, hash: hash(parent: parent, name: name)).id
    }

    func child(of parent: UInt32, named name: Substring) -> UInt32 {
        var name = name
        return name.withUTF8 { child(of: parent, named: UnsafeRawBufferPointer($0)) }
    }

    /// The node at `path` ("/a/b": one probe per component), or `none`. "" is not the root here
    /// (DataTree.node(_:) makes that alias for reads).
    func lookup(_ path: String) -> UInt32 {
        guard root != Self.none else { return Self.none }
        var path = path
        return path.withUTF8 { bytes in
            guard bytes.first == Self.slash else { return Self.none }
            if bytes.count == 1 { return root }
            var current = root
            var start = 1
            while true {
                var end = start
                while end < bytes.count && bytes[end] != Self.slash { end += 1 }
                current = child(of: current, named: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[start..<end])))
                if current == Self.none || end == bytes.count { return current }
                start = end + 1
            }
        }
    }

    /// The ids of `parent`'s children (newest first).
    func children(of parent: UInt32) -> [UInt32] {
        var result: [UInt32] = []
        result.reserveCapacity(childCount(of: parent))
        var child = firstChild(of: parent)
        while child != Self.none {
            result.append(child)
            child = records[Int(child)].nextSibling
        }
        return result
    }

    // MARK: - Changes

    /// Adds a node named `name` under `parent` (`none`: the root, which must not exist yet).
    /// Returns nil, changing nothing, when `parent` has a child of that name already.
    mutating func insert(
        parent: UInt32, name: UnsafeRawBufferPointer, data: [UInt8]?, stat: StatPersisted, acl: UInt32, digest: UInt32
    ) -> UInt32? {
        var slot = -1
        var slotTag: UInt32 = 0
        if parent == Self.none {
            precondition(root == Self.none, "the table has a root already")
        } else {
            precondition(records[Int(parent)].entry != Self.freeEntry, "parent \(parent) is not in the table")
            if (indexed + 1) * 4 > slots.count * 3 { rehash(capacity: slots.count * 2) }
            let hash = self.hash(parent: parent, name: name)
            let found = find(parent: parent, name: name, hash: hash)
            if found.id != Self.none { return nil }
            slot = found.slot
            slotTag = Self.tag(hash)
        }
        let firstSibling = parent == Self.none ? Self.none : firstChild(of: parent)
        let record = NodeRecord(
            czxid: Split64(stat.czxid), ctime: Split64(stat.ctime), digest: digest, parent: parent,
            nextSibling: firstSibling, prevSibling: Self.none, acl: acl,
            entry: appendEntry(name: name, data: data, ephemeralOwner: stat.ephemeralOwner),
            changes: NodeChanges.isUnchanged(stat) ? Self.none : addChanges(NodeChanges(stat)))
        let id: UInt32
        if freeHead != Self.none {
            id = freeHead
            freeHead = records[Int(id)].nextSibling
            records[Int(id)] = record
        } else {
            precondition(records.count < Int(Self.idMask) - 1, "node table full (\(records.count) nodes)")
            id = UInt32(records.count)
            records.append(record)
        }
        count += 1
        if parent == Self.none {
            root = id
        } else {
            slots[slot] = slotTag | (id + 1)
            indexed += 1
            if firstSibling != Self.none { records[Int(firstSibling)].prevSibling = id }
            let parentChanges = changesIndex(of: parent)
            changes[parentChanges].firstChild = id
            changes[parentChanges].childCount += 1
        }
        return id
    }

    /// Removes a node without children.
    mutating func remove(_ id: UInt32) {
        let record = records[Int(id)]
        precondition(record.entry != Self.freeEntry, "node \(id) is not in the table")
        precondition(childCount(of: id) == 0, "node \(id) still has \(childCount(of: id)) children")
        let entry = entry(of: id)
        if id == root {
            root = Self.none
        } else {
            let found = arena.withUnsafeBytes { arena in
                let name = UnsafeRawBufferPointer(rebasing: arena[entry.nameStart..<entry.dataStart])
                return find(parent: record.parent, name: name, hash: hash(parent: record.parent, name: name))
            }
            precondition(found.id == id, "node \(id) is missing from the index")
            removeSlot(found.slot)
            let parentChanges = Int(records[Int(record.parent)].changes)
            if record.prevSibling != Self.none {
                records[Int(record.prevSibling)].nextSibling = record.nextSibling
            } else {
                changes[parentChanges].firstChild = record.nextSibling
            }
            if record.nextSibling != Self.none { records[Int(record.nextSibling)].prevSibling = record.prevSibling }
            changes[parentChanges].childCount -= 1
            dropChangesIfUnused(record.parent)
        }
        if record.changes != Self.none { freeChanges(record.changes) }
        liveBytes -= entry.size
        records[Int(id)].entry = Self.freeEntry
        records[Int(id)].parent = Self.none
        records[Int(id)].changes = Self.none
        records[Int(id)].prevSibling = Self.none
        records[Int(id)].nextSibling = freeHead
        freeHead = id
        count -= 1
        compactIfDue()
    }

    /// Replaces a node's data: in place when the length (and null-ness) is unchanged, else as a new entry.
    mutating func setData(_ id: UInt32, _ data: [UInt8]?) {
        let entry = entry(of: id)
        let tag = data.map { $0.count + 1 } ?? 0
        if tag == entry.dataTag {
            if let data, !data.isEmpty {
                arena.withUnsafeMutableBufferPointer { arena in
                    _ = UnsafeMutableBufferPointer(rebasing: arena[entry.dataStart..<entry.end]).update(fromContentsOf: data)
                }
            }
            return
        }
        // A copy: the new entry is appended to the arena the name is read from.
        let name = arena.copy(entry.nameStart..<entry.dataStart)
        liveBytes -= entry.size
        records[Int(id)].entry = name.withUnsafeBytes { appendEntry(name: $0, data: data, ephemeralOwner: entry.ephemeralOwner) }
        compactIfDue()
    }

    /// Backward-shift deletion (linear probing keeps no tombstones).
    private mutating func removeSlot(_ removed: Int) {
        let mask = slots.count - 1
        var hole = removed
        var next = removed
        slots[hole] = 0
        indexed -= 1
        while true {
            next = (next + 1) & mask
            let value = slots[next]
            if value == 0 { return }
            let home = homeSlot(of: (value & Self.idMask) - 1, mask: mask)
            // Stays when its home lies cyclically in (hole, next]: the hole does not cut its probe path.
            let stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next)
            if !stays {
                slots[hole] = value
                slots[next] = 0
                hole = next
            }
        }
    }

    private func homeSlot(of id: UInt32, mask: Int) -> Int {
        let record = records[Int(id)]
        return arena.withUnsafeBufferPointer { arena in
            let entry = Self.entry(at: record.entry, in: arena)
            return hash(parent: record.parent, name: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: arena[entry.nameStart..<entry.dataStart]))) & mask
        }
    }

    private mutating func rehash(capacity: Int) {
        var fresh = [UInt32](repeating: 0, count: capacity)
        let mask = capacity - 1
        fresh.withUnsafeMutableBufferPointer { fresh in
            records.withUnsafeBufferPointer { records in
                arena.withUnsafeBufferPointer { arena in
                    for id in records.indices where records[id].entry != Self.freeEntry && UInt32(id) != root {
                        let entry = Self.entry(at: records[id].entry, in: arena)
                        let name = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: arena[entry.nameStart..<entry.dataStart]))
                        let hash = self.hash(parent: records[id].parent, name: name)
                        var slot = hash & mask
                        while fresh[slot] != 0 { slot = (slot + 1) & mask }
                        fresh[slot] = Self.tag(hash) | (UInt32(id) + 1)
                    }
                }
            }
        }
        slots = fresh
    }

    /// Makes room for `nodeCount` nodes without regrowing the records or the index.
    mutating func reserveCapacity(nodes nodeCount: Int, arenaBytes: Int = 0) {
        if nodeCount > records.capacity { records.reserveCapacity(nodeCount) }
        if arenaBytes > arena.capacity { arena.reserveCapacity(arenaBytes) }
        var capacity = slots.count
        while nodeCount * 4 > capacity * 3 { capacity *= 2 }
        if capacity > slots.count { rehash(capacity: capacity) }
    }

    private mutating func compactIfDue() {
        let garbage = garbageBytes
        if garbage > compactionFloor && garbage * 2 > liveBytes { compact() }
    }

    /// Copies the live entries to a fresh arena (in id order) and drops the garbage.
    mutating func compact() {
        var fresh = ArenaBytes()
        fresh.reserveCapacity(liveBytes)
        arena.withUnsafeBufferPointer { arena in
            for id in records.indices where records[id].entry != Self.freeEntry {
                let entry = Self.entry(at: records[id].entry, in: arena)
                records[id].entry = UInt32(fresh.count / 4)
                fresh.append(contentsOf: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: arena[entry.start..<(entry.start + entry.size)])))
            }
        }
        precondition(fresh.count == liveBytes, "live arena bytes \(fresh.count), counted \(liveBytes)")
        arena = fresh
        compactions += 1
    }

    // MARK: - Invariants

    /// Index <-> records <-> sibling lists <-> arena: every live node but the root is in the index
    /// once, where a lookup of (parent, name) finds it; sibling lists are consistent both ways and
    /// as long as the child counts; every node reaches the root; the free list holds exactly the
    /// free records; live entries lie in the arena without overlapping and add up to `liveBytes`;
    /// a node holds an entry of `changes` exactly when it has children or a stat its create did
    /// not leave, no two nodes hold the same entry, and the free entries are the others.
    func checkInvariants() {
        checkChanges()
        let total = records.count
        var isFree = [Bool](repeating: false, count: total)
        var free = freeHead
        var freeCount = 0
        while free != Self.none {
            precondition(Int(free) < total && !isFree[Int(free)], "free list cycles or leaves the table at \(free)")
            precondition(records[Int(free)].entry == Self.freeEntry, "free record \(free) has an entry")
            isFree[Int(free)] = true
            freeCount += 1
            free = records[Int(free)].nextSibling
        }
        precondition(total - freeCount == count, "\(total - freeCount) live records, count \(count)")
        precondition(slots.count.nonzeroBitCount == 1 && indexed * 4 <= slots.count * 3, "index of \(slots.count) slots holds \(indexed)")
        var inSlots = 0
        for (slot, value) in slots.enumerated() where value != 0 {
            let id = (value & Self.idMask) - 1
            precondition(Int(id) < total && !isFree[Int(id)] && id != root, "slot \(slot) holds \(id), not a live non-root node")
            let entry = entry(of: id)
            let found = arena.withUnsafeBytes { arena in
                let name = UnsafeRawBufferPointer(rebasing: arena[entry.nameStart..<entry.dataStart])
                return find(parent: records[Int(id)].parent, name: name, hash: hash(parent: records[Int(id)].parent, name: name))
            }
            precondition(found == (slot, id), "node \(id) in slot \(slot) is found at \(found)")
            inSlots += 1
        }
        precondition(inSlots == indexed && indexed == count - (root == Self.none ? 0 : 1), "\(inSlots) slots used, \(indexed) counted, \(count) nodes")
        var spans: [(Int, Int)] = []
        for id in 0..<total where !isFree[id] {
            let record = records[id]
            let entry = entry(of: UInt32(id))
            precondition(entry.end <= arena.count, "entry of \(id) runs past the arena")
            precondition(entry.start + entry.size <= arena.count, "entry of \(id) runs past the arena")
            spans.append((entry.start, entry.start + entry.size))
            if UInt32(id) == root {
                precondition(record.parent == Self.none && record.prevSibling == Self.none && record.nextSibling == Self.none, "root has siblings")
            } else {
                precondition(record.parent != Self.none && Int(record.parent) < total && !isFree[Int(record.parent)], "node \(id) has no live parent")
                if record.prevSibling == Self.none {
                    precondition(firstChild(of: record.parent) == UInt32(id), "node \(id) is first of no list")
                } else {
                    precondition(records[Int(record.prevSibling)].nextSibling == UInt32(id), "node \(id)'s previous sibling skips it")
                }
                if record.nextSibling != Self.none {
                    precondition(records[Int(record.nextSibling)].prevSibling == UInt32(id), "node \(id)'s next sibling skips it")
                }
                var ancestor = record.parent
                var depth = 0
                while ancestor != root {
                    precondition(ancestor != Self.none && depth < total, "node \(id) does not reach the root")
                    ancestor = records[Int(ancestor)].parent
                    depth += 1
                }
            }
            var listed = 0
            var child = firstChild(of: UInt32(id))
            while child != Self.none {
                precondition(listed < total && records[Int(child)].parent == UInt32(id), "child list of \(id) is broken")
                listed += 1
                child = records[Int(child)].nextSibling
            }
            precondition(listed == childCount(of: UInt32(id)), "node \(id) lists \(listed) children, counts \(childCount(of: UInt32(id)))")
        }
        spans.sort { $0.0 < $1.0 }
        var live = 0
        var previousEnd = 0
        for (start, end) in spans {
            precondition(start >= previousEnd, "arena entries overlap at \(start)")
            live += end - start
            previousEnd = end
        }
        precondition(live == liveBytes, "live entries take \(live) bytes, counted \(liveBytes)")
    }

    /// The `changes` part of `checkInvariants`.
    private func checkChanges() {
        var holder = [UInt32](repeating: Self.none, count: changes.count)
        var free = freeChangesHead
        var freeCount = 0
        while free != Self.none {
            precondition(Int(free) < changes.count && holder[Int(free)] == Self.none, "changes free list cycles or leaves the table at \(free)")
            holder[Int(free)] = Self.freeEntry - 1
            freeCount += 1
            free = changes[Int(free)].firstChild
        }
        precondition(changes.count - freeCount == changedCount, "\(changes.count - freeCount) changes entries in use, counted \(changedCount)")
        var held = 0
        for id in records.indices where records[id].entry != Self.freeEntry {
            let index = records[id].changes
            if index == Self.none {
                let stat = stat(of: UInt32(id))
                precondition(NodeChanges.isUnchanged(stat), "node \(id) has a changed stat and no changes entry")
                continue
            }
            precondition(Int(index) < changes.count && holder[Int(index)] == Self.none, "changes entry \(index) of node \(id) is free or shared")
            holder[Int(index)] = UInt32(id)
            held += 1
            precondition(
                changes[Int(index)].childCount > 0 || !NodeChanges.isUnchanged(stat(of: UInt32(id))),
                "node \(id) holds changes entry \(index) with no child and an unchanged stat")
        }
        precondition(held == changedCount, "\(held) changes entries held by nodes, counted \(changedCount)")
    }
}
