import ZKBase
import ZKWire

/// The replicated state: every znode, the ephemerals of each session, containers and TTL nodes,
/// and the watches set on them. It changes only by `apply(_:)` of a txn, on every server and in
/// replay alike; applying is idempotent so a fuzzy snapshot plus the log gives the same tree.
public struct DataTree: Sendable {
    public static let zookeeperPath = "/zookeeper"
    public static let quotaPath = "/zookeeper/quota"
    public static let configPath = "/zookeeper/config"

    /// Every znode (see NodeTable: fixed records, names and data in an arena, an index by
    /// (parent, name); no full paths).
    private(set) var table = NodeTable()
    public private(set) var ephemerals: [Int64: JavaHashOrderedSet] = [:]
    public private(set) var containers: Set<String> = []
    public private(set) var ttlNodes: Set<String> = []
    public private(set) var lastProcessedZxid: Int64 = 0
    /// Live sessions and their negotiated timeouts (what ZooKeeper's snapshot keeps as sessionsWithTimeouts).
    public private(set) var sessions: [Int64: Int32] = [:]
    /// ZooKeeper's tree digest (FORMAT.md section 4), kept up to date on every change.
    public private(set) var digest: UInt64 = 0
    public var dataWatches = WatchManager()
    /// The paths with a quota (a `zookeeper_limits` node under /zookeeper/quota): ZooKeeper's pTrie.
    public private(set) var quotaPrefixes: Set<String> = []
    private var aclTable = ACLInternTable()
    public var childWatches = WatchManager()
    /// The parent of the node loaded last (a snapshot comes in pre-order, so siblings follow each
    /// other): saves walking the parent's path per node. Dropped whenever a node is removed.
    private var loadParent: (path: String, id: UInt32)?
    /// The node loaded last: in pre-order, the parent of the next node when that is its first child.
    private var loadLast: (path: String, id: UInt32)?

    public init() {
        let root = insert(parent: NodeTable.none, name: "", path: "/", data: [], acl: ACL.openUnsafe, stat: StatPersisted())!
        let zookeeper = insert(parent: root, name: "zookeeper", path: Self.zookeeperPath, data: [], acl: ACL.openUnsafe, stat: StatPersisted())!
        // ZooKeeper sets the config node's ACL with version -1, which stores aversion -1.
        var configStat = StatPersisted()
        configStat.aversion = -1
        insert(parent: zookeeper, name: "config", path: Self.configPath, data: [], acl: ACL.readUnsafe, stat: configStat)
        insert(parent: zookeeper, name: "quota", path: Self.quotaPath, data: [], acl: ACL.openUnsafe, stat: StatPersisted())
    }

    // MARK: - Digest

    /// One node's digest: CRC32 of path, data and 60 bytes of stat; 0 for the /zookeeper/ subtree.
    public static func nodeDigest(path: String, node: DataNode) -> UInt64 {
        nodeDigest(path: path, data: node.data, stat: node.stat)
    }

    public static func nodeDigest(path: String, data: [UInt8]?, stat s: StatPersisted) -> UInt64 {
        guard let data else { return nodeDigest(path: path, dataBytes: nil, stat: s) }
        return data.withUnsafeBytes { nodeDigest(path: path, dataBytes: $0, stat: s) }
    }

    static func nodeDigest(path: String, dataBytes: UnsafeRawBufferPointer?, stat s: StatPersisted) -> UInt64 {
        if path.hasPrefix("/zookeeper/") || path.isEmpty { return 0 }
        // No heap allocation: the path's own UTF-8 storage, the stat in a stack buffer.
        let crc = path.utf8.withContiguousStorageIfAvailable { CRC32.checksum(UnsafeRawBufferPointer($0)) }
            ?? Array(path.utf8).withUnsafeBytes { CRC32.checksum($0) }
        return digest(seed: crc, dataBytes: dataBytes, stat: s)
    }

    /// ZooKeeper's tree digest (`DigestCalculator`, version 2) for a tree whose Paddock digest is
    /// `paddockDigest` and whose root has `rootData` and `rootStat`. The sums differ in the
    /// root's term only: ZooKeeper keys the root as "", so its CRC32 covers no path bytes, where
    /// Paddock's covers "/". Replicated txns carry ZooKeeper's value (what 3.8 peers compare).
    public static func zooKeeperDigest(paddockDigest: UInt64, rootData: [UInt8]?, rootStat: StatPersisted) -> UInt64 {
        paddockDigest &- nodeDigest(path: "/", data: rootData, stat: rootStat) &+ digest(seed: 0, data: rootData, stat: rootStat)
    }

    /// ZooKeeper's form of `digest` (see `zooKeeperDigest(paddockDigest:rootData:rootStat:)`).
    public var zooKeeperDigest: UInt64 {
        guard let root = node("/") else { return digest }
        return Self.zooKeeperDigest(paddockDigest: digest, rootData: root.data, rootStat: root.stat)
    }

    static func digest(seed: UInt32, data: [UInt8]?, stat s: StatPersisted) -> UInt64 {
        guard let data else { return digest(seed: seed, dataBytes: nil, stat: s) }
        return data.withUnsafeBytes { digest(seed: seed, dataBytes: $0, stat: s) }
    }

    static func digest(seed: UInt32, dataBytes: UnsafeRawBufferPointer?, stat s: StatPersisted) -> UInt64 {
        var crc = seed
        if let dataBytes { crc = CRC32.checksum(dataBytes, seed: crc) }
        // czxid, mzxid, pzxid, ctime, mtime (8 each), version, cversion, aversion (4 each), ephemeralOwner (8).
        return withUnsafeTemporaryAllocation(byteCount: 60, alignment: 8) { stat in
            stat.storeBytes(of: UInt64(bitPattern: s.czxid).bigEndian, toByteOffset: 0, as: UInt64.self)
            stat.storeBytes(of: UInt64(bitPattern: s.mzxid).bigEndian, toByteOffset: 8, as: UInt64.self)
            stat.storeBytes(of: UInt64(bitPattern: s.pzxid).bigEndian, toByteOffset: 16, as: UInt64.self)
            stat.storeBytes(of: UInt64(bitPattern: s.ctime).bigEndian, toByteOffset: 24, as: UInt64.self)
            stat.storeBytes(of: UInt64(bitPattern: s.mtime).bigEndian, toByteOffset: 32, as: UInt64.self)
            stat.storeBytes(of: UInt32(bitPattern: s.version).bigEndian, toByteOffset: 40, as: UInt32.self)
            stat.storeBytes(of: UInt32(bitPattern: s.cversion).bigEndian, toByteOffset: 44, as: UInt32.self)
            stat.storeBytes(of: UInt32(bitPattern: s.aversion).bigEndian, toByteOffset: 48, as: UInt32.self)
            stat.storeBytes(of: UInt64(bitPattern: s.ephemeralOwner).bigEndian, toByteOffset: 52, as: UInt64.self)
            return UInt64(CRC32.checksum(UnsafeRawBufferPointer(stat), seed: crc))
        }
    }

    /// The digest of node `id` at `path`, recomputed from its data and stat.
    private func recomputedDigest(_ id: UInt32, path: String) -> UInt64 {
        let stat = table.stat(of: id)
        return table.withData(of: id) { Self.nodeDigest(path: path, dataBytes: $0, stat: stat) }
    }

    /// Every node's path and id in pre-order (children newest first); O(nodes), paths built on the way.
    private func forEachNode(_ body: (String, UInt32) throws -> Void) rethrows {
        guard table.root != NodeTable.none else { return }
        var stack: [(String, UInt32)] = [("/", table.root)]
        while let (path, id) = stack.popLast() {
            try body(path, id)
            for child in table.children(of: id).reversed() {
                stack.append((PathValidation.join(path, table.name(of: child)), child))
            }
        }
    }

    /// The digest recomputed from every node (for verification; `digest` is the running value).
    public func computeDigest() -> UInt64 {
        var sum: UInt64 = 0
        forEachNode { path, id in sum &+= recomputedDigest(id, path: path) }
        return sum
    }

    /// Paths whose cached digest disagrees with a recomputation (for tests; always empty).
    public func staleCachedDigests() -> [String] {
        var stale: [String] = []
        forEachNode { path, id in
            if UInt64(table.records[Int(id)].digest) != recomputedDigest(id, path: path) { stale.append(path) }
        }
        return stale
    }

    /// Changes the stat of node `id` (at `path`) in place, keeping the running digest in step:
    /// the old digest from the node's cache, one CRC for the new one.
    @discardableResult
    private mutating func modifyStat<T>(_ id: UInt32, path: String, _ body: (inout StatPersisted) -> T) -> T {
        digest &-= UInt64(table.records[Int(id)].digest)
        let result = table.modifyStat(id, body)
        refreshDigest(id, path: path)
        return result
    }

    private mutating func refreshDigest(_ id: UInt32, path: String) {
        let after = recomputedDigest(id, path: path)
        table.records[Int(id)].digest = UInt32(truncatingIfNeeded: after)
        digest &+= after
    }

    /// Replaces the data of node `id` (at `path`) through the digest, as `modifyStat`.
    private mutating func setData(_ id: UInt32, path: String, _ data: [UInt8]?) {
        digest &-= UInt64(table.records[Int(id)].digest)
        table.setData(id, data)
        refreshDigest(id, path: path)
    }

    /// Adds a node under `parent` (`NodeTable.none`: the root); nil when `parent` has a child of
    /// that name already. `knownDigest`: the node's digest when the caller has computed it.
    @discardableResult
    private mutating func insert(
        parent: UInt32, name: some StringProtocol, path: String, data: [UInt8]?, acl: [ACL], stat: StatPersisted,
        knownDigest: UInt64? = nil
    ) -> UInt32? {
        return Self.withUTF8(of: name) { name -> UInt32? in
            let nodeDigest = knownDigest ?? Self.nodeDigest(path: path, data: data, stat: stat)
            let aclIndex = aclTable.retain(acl)
            guard let id = table.insert(
                parent: parent, name: name, data: data, stat: stat, acl: aclIndex,
                digest: UInt32(truncatingIfNeeded: nodeDigest))
            else {
                aclTable.release(aclIndex)
                return nil
            }
            digest &+= nodeDigest
            return id
        }
    }

    /// The UTF-8 of `name` in place when it is contiguous (native strings and their substrings).
    private static func withUTF8<T>(of name: some StringProtocol, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        if let result = name.utf8.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) { return result }
        return Array(name.utf8).withUnsafeBytes(body)
    }

    /// Removes node `id` and, should it have any, its descendants (a consistent history never
    /// deletes a node with children; replaying a fuzzy snapshot could meet one that a later txn
    /// re-creates with its children), keeping the digest, ACL counts and the ephemeral, container
    /// and TTL sets in step. Returns the removed node as it was.
    private mutating func remove(_ id: UInt32, path: String) -> DataNode {
        let node = materialize(id)
        loadParent = nil
        loadLast = nil
        if node.childCount > 0 {
            for child in table.children(of: id) {
                _ = remove(child, path: PathValidation.join(path, table.name(of: child)))
            }
        }
        digest &-= UInt64(table.records[Int(id)].digest)
        aclTable.release(table.records[Int(id)].acl)
        table.remove(id)
        let owner = node.stat.ephemeralOwner
        if owner == EphemeralOwner.container {
            containers.remove(path)
        } else if EphemeralOwner.isTTL(owner) {
            ttlNodes.remove(path)
        } else if owner != 0 {
            ephemerals[owner]?.remove(path)
            if ephemerals[owner]?.isEmpty == true { ephemerals[owner] = nil }
        }
        return node
    }

    func materialize(_ id: UInt32) -> DataNode {
        let record = table.records[Int(id)]
        let entry = table.entry(of: id)
        let data = entry.dataTag == 0 ? nil : table.arena.copy(entry.dataStart..<entry.end)
        var node = DataNode(
            data: data, acl: aclTable[record.acl], stat: table.stat(of: id, ephemeralOwner: entry.ephemeralOwner),
            childCount: table.childCount(of: id))
        node.cachedDigest = record.digest
        return node
    }

    /// The digest the tree keeps for the node at `path` (nil when there is none).
    public func cachedDigest(of path: String) -> UInt64? {
        let id = table.lookup(path)
        return id == NodeTable.none ? nil : UInt64(table.records[Int(id)].digest)
    }

    /// Distinct ACL lists the tree holds (for tests and metrics).
    public var internedACLCount: Int { aclTable.count }

    /// Every ACL list a node of the tree may hold now: those nodes hold and those of the initial tree.
    public var aclLists: [[ACL]] {
        var lists = Set(aclTable.liveLists)
        for fixed in [ACL.openUnsafe, ACL.readUnsafe] where !lists.contains(fixed) { lists.insert(fixed) }
        return Array(lists)
    }

    // MARK: - Invariants

    /// The node table's own invariants (NodeTable.checkInvariants), plus: the running digest is the
    /// sum of the nodes' digests and each cached digest is current; ACL lists are held as often as
    /// nodes refer to them; every ephemeral, container and TTL path names a node with that owner.
    public func checkInvariants() {
        table.checkInvariants()
        aclTable.checkInvariants()
        var sum: UInt64 = 0
        var references = [Int](repeating: 0, count: aclTable.referenceCounts.count)
        forEachNode { path, id in
            let cached = UInt64(table.records[Int(id)].digest)
            precondition(cached == recomputedDigest(id, path: path), "stale cached digest at \(path)")
            sum &+= cached
            references[Int(table.records[Int(id)].acl)] += 1
        }
        precondition(sum == digest, "running digest \(digest), nodes sum to \(sum)")
        precondition(references == aclTable.referenceCounts, "ACL reference counts disagree with the nodes")
        for (owner, paths) in ephemerals {
            for path in paths.elements {
                precondition(node(path)?.stat.ephemeralOwner == owner, "ephemeral \(path) of \(owner) is not in the tree")
            }
        }
        for path in containers { precondition(node(path)?.stat.ephemeralOwner == EphemeralOwner.container, "container \(path) missing") }
        for path in ttlNodes { precondition(node(path).map { EphemeralOwner.isTTL($0.stat.ephemeralOwner) } == true, "TTL node \(path) missing") }
    }

    /// Bytes of one node's fixed record (44: czxid, ctime, digest, links, ACL index, arena offset,
    /// changes index).
    public static var nodeRecordBytes: Int { MemoryLayout<NodeRecord>.stride }

    /// Bytes of the entry a node gets with its first change or child (44: the stat fields a create
    /// leaves derived, the child list).
    public static var nodeChangesBytes: Int { MemoryLayout<NodeChanges>.stride }

    /// Nodes holding a changes entry now, and entries allocated (in use or free), for tests and metrics.
    public var changedNodeStatistics: (inUse: Int, allocated: Int) { (table.changedCount, table.changes.count) }

    /// How the arena stands (for tests): bytes in use, garbage, compactions so far.
    public var arenaStatistics: (liveBytes: Int, garbageBytes: Int, compactions: Int) {
        (table.liveBytes, table.garbageBytes, table.compactions)
    }

    /// Garbage in the arena below this many bytes is never compacted (1 MiB; tests lower it).
    public var arenaCompactionFloor: Int {
        get { table.compactionFloor }
        set { table.compactionFloor = newValue }
    }

    // MARK: - Loading a snapshot

    /// Starts from nothing: a snapshot supplies every node, the root included.
    public static func emptyForLoading() -> DataTree {
        var tree = DataTree()
        tree.table = NodeTable()
        tree.aclTable = ACLInternTable()
        tree.digest = 0
        return tree
    }

    /// Why a node read from a snapshot cannot be added where it comes.
    public enum LoadProblem: Sendable, Equatable {
        /// Its parent has not been loaded (a snapshot is in pre-order).
        case parentMissing(parent: String)
        /// Its path has been loaded already.
        case duplicate
    }

    /// Adds a node read from a snapshot (pre-order: its parent was loaded before it), or returns
    /// why it cannot come here and adds nothing. The check is the insert itself: one probe of the
    /// index for the node, the parent's id remembered from the previous node when they share it.
    /// `digest`: the node's digest when the reader has computed it already.
    @discardableResult
    public mutating func loadNode(path: String, data: [UInt8]?, acl: [ACL], stat: StatPersisted, digest: UInt64? = nil) -> LoadProblem? {
        let id: UInt32
        if path == "/" {
            if table.root != NodeTable.none { return .duplicate }
            id = insert(parent: NodeTable.none, name: "", path: path, data: data, acl: acl, stat: stat, knownDigest: digest)!
        } else {
            let parentId: UInt32
            if let cached = loadParent, Self.isParent(cached.path, of: path) {
                parentId = cached.id
            } else if let last = loadLast, Self.isParent(last.path, of: path) {
                parentId = last.id
                loadParent = last
            } else {
                let parent = PathValidation.parent(of: path)
                parentId = table.lookup(parent)
                guard parentId != NodeTable.none else { return .parentMissing(parent: parent) }
                loadParent = (parent, parentId)
            }
            guard let inserted = insert(
                parent: parentId, name: PathValidation.lastComponent(of: path), path: path, data: data, acl: acl,
                stat: stat, knownDigest: digest)
            else { return .duplicate }
            id = inserted
        }
        loadLast = (path, id)
        let owner = stat.ephemeralOwner
        if owner == EphemeralOwner.container {
            containers.insert(path)
        } else if EphemeralOwner.isTTL(owner) {
            ttlNodes.insert(path)
        } else if owner != 0 {
            ephemerals[owner, default: JavaHashOrderedSet()].insert(path)
        }
        return nil
    }

    /// Whether `candidate` is the parent of `path` (PathValidation.parent), without building it.
    private static func isParent(_ candidate: String, of path: String) -> Bool {
        var candidate = candidate
        var path = path
        return path.withUTF8 { path in
            candidate.withUTF8 { candidate in
                var slash = path.count - 1
                while slash > 0 && path[slash] != UInt8(ascii: "/") { slash -= 1 }
                guard slash >= 0 else { return false }
                let parentCount = slash == 0 ? 1 : slash
                return candidate.count == parentCount
                    && UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: candidate[0..<parentCount]))
                        .elementsEqual(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: path[0..<parentCount])))
            }
        }
    }

    public mutating func loadSession(id: Int64, timeoutMs: Int32) { sessions[id] = timeoutMs }

    /// Makes room for `nodeCount` nodes and `arenaBytes` of names and data at once (a restart
    /// knows roughly how much is coming): growing by doubling copied everything again at each step
    /// (40 % of loading a snapshot went to growing the arena). Room reserved and never used costs
    /// address space only, not memory.
    public mutating func reserveCapacity(nodes nodeCount: Int, arenaBytes: Int = 0) {
        table.reserveCapacity(nodes: nodeCount, arenaBytes: arenaBytes)
    }

    /// After the last node: the quotas are set up from the tree (their stats recomputed, as
    /// ZooKeeper's setupQuota does on loading a snapshot).
    public mutating func finishLoading(lastProcessedZxid zxid: Int64) {
        lastProcessedZxid = zxid
        loadParent = nil
        loadLast = nil
        setUpQuotas()
    }

    // MARK: - Reading

    /// The node at `path`, built from the table (its data copied out). ZooKeeper keeps "" as an
    /// alias of the root, so reads of "" answer for "/".
    public func node(_ path: String) -> DataNode? {
        let id = table.lookup(path.isEmpty ? "/" : path)
        return id == NodeTable.none ? nil : materialize(id)
    }

    /// The ACL and stat of the node at `path`, its data neither read nor copied ("" is the root,
    /// as for `node(_:)`): what exists, getChildren, getACL and a reply's stat need.
    public func status(_ path: String) -> NodeStatus? {
        let id = table.lookup(path.isEmpty ? "/" : path)
        return id == NodeTable.none ? nil : status(of: id, entry: table.entry(of: id))
    }

    /// The status of the node at `path` and its data in place (nil for null data), valid only
    /// inside `body`, which must copy what it keeps: a later change to the tree may overwrite or
    /// move the bytes. Returns nil, without calling `body`, when there is no such node.
    public func withData<T>(_ path: String, _ body: (NodeStatus, UnsafeRawBufferPointer?) throws -> T) rethrows -> T? {
        let id = table.lookup(path.isEmpty ? "/" : path)
        guard id != NodeTable.none else { return nil }
        let entry = table.entry(of: id)
        let status = status(of: id, entry: entry)
        return try table.arena.withUnsafeBytes { arena in
            try body(status, entry.dataTag == 0 ? nil : UnsafeRawBufferPointer(rebasing: arena[entry.dataStart..<entry.end]))
        }
    }

    private func status(of id: UInt32, entry: NodeTable.Entry) -> NodeStatus {
        NodeStatus(
            acl: aclTable[table.records[Int(id)].acl], stat: table.stat(of: id, ephemeralOwner: entry.ephemeralOwner),
            dataCount: entry.dataCount, childCount: table.childCount(of: id))
    }

    /// The names of the children of the node at `path`, in no particular order ("" is the root);
    /// nil when there is no such node.
    public func childNames(of path: String) -> [String]? {
        let id = table.lookup(path.isEmpty ? "/" : path)
        guard id != NodeTable.none else { return nil }
        return table.children(of: id).map { table.name(of: $0) }
    }

    /// Every node by path: O(nodes), and it builds every path, so it is for tests and tools,
    /// never for a server's work.
    public var nodes: [String: DataNode] {
        var result: [String: DataNode] = [:]
        result.reserveCapacity(table.count)
        forEachNode { path, id in result[path] = materialize(id) }
        return result
    }

    public var nodeCount: Int { table.count }

    /// Sum of path and data bytes, as ZooKeeper's approximate_data_size.
    public var approximateDataSize: Int {
        guard table.root != NodeTable.none else { return 0 }
        var total = 0
        // (id, length of its path in bytes)
        var stack: [(UInt32, Int)] = [(table.root, 1)]
        while let (id, pathLength) = stack.popLast() {
            total += pathLength + table.dataCount(of: id)
            for child in table.children(of: id) {
                let nameCount = table.entry(of: child).nameCount
                stack.append((child, id == table.root ? 1 + nameCount : pathLength + 1 + nameCount))
            }
        }
        return total
    }

    public var ephemeralCount: Int { ephemerals.values.reduce(0) { $0 + $1.count } }

    public static func isSpecialPath(_ path: String) -> Bool {
        path == "/" || path == zookeeperPath || path == quotaPath || path == configPath
    }

    /// Number of descendants of `path` (getAllChildrenNumber).
    public func descendantCount(of path: String) -> Int {
        let id = table.lookup(path)
        guard id != NodeTable.none else { return 0 }
        var count = 0
        var stack = [id]
        while let current = stack.popLast() {
            let children = table.children(of: current)
            count += children.count
            stack.append(contentsOf: children)
        }
        return count
    }

    /// The subtree of `path` as ZooKeeper counts it: itself and every descendant, with their data.
    public func subtreeUsage(_ path: String) -> (count: Int64, bytes: Int64) {
        let id = table.lookup(path)
        guard id != NodeTable.none else { return (0, 0) }
        var count: Int64 = 0, bytes: Int64 = 0
        var stack = [id]
        while let current = stack.popLast() {
            count += 1
            bytes += Int64(table.dataCount(of: current))
            stack.append(contentsOf: table.children(of: current))
        }
        return (count, bytes)
    }

    // MARK: - Applying txns

    /// Applies one txn and returns its result; watch notifications are appended to `notifications`.
    public mutating func apply(_ txn: Txn, notifications: inout [WatchNotification]) -> TxnResult {
        let result = apply(header: txn.header, body: txn.body, notifications: &notifications)
        // Only after the whole txn (a multi included) is applied does lastProcessedZxid move.
        if txn.header.zxid > lastProcessedZxid { lastProcessedZxid = txn.header.zxid }
        return result
    }

    public mutating func apply(_ txn: Txn) -> TxnResult {
        var ignored: [WatchNotification] = []
        return apply(txn, notifications: &ignored)
    }

    private mutating func apply(header: TxnHeader, body: TxnBody, notifications: inout [WatchNotification]) -> TxnResult {
        let zxid = header.zxid
        switch body {
        case .create(let txn), .create2(let txn):
            let owner = txn.ephemeral ? header.clientId : 0
            return applyCreate(body.opCode, txn, owner: owner, header: header, notifications: &notifications)
        case .createContainer(let txn):
            return applyCreate(.createContainer, txn, owner: EphemeralOwner.container, header: header, notifications: &notifications)
        case .createTTL(let txn):
            return applyCreate(.createTTL, txn, owner: EphemeralOwner.ttl(txn.ttl), header: header, notifications: &notifications)
        case .delete(let path), .deleteContainer(let path):
            let error = deleteNode(path, zxid: zxid, notifications: &notifications)
            return TxnResult(type: body.opCode, error: error, path: path)
        case .setData(let path, let data, let version):
            let id = table.lookup(path)
            guard id != NodeTable.none else { return TxnResult(type: .setData, error: .noNode, path: path) }
            let previousBytes = table.dataCount(of: id)
            digest &-= UInt64(table.records[Int(id)].digest)
            table.setData(id, data)
            table.modifyStat(id) { stat in
                stat.mtime = header.time
                stat.mzxid = zxid
                stat.version = version
            }
            refreshDigest(id, path: path)
            if let prefix = quotaPrefix(of: path) {
                updateQuotaStat(prefix, bytesDiff: Int64(data?.count ?? 0) - Int64(previousBytes), countDiff: 0)
            }
            let acl = aclTable[table.records[Int(id)].acl]
            _ = dataWatches.trigger(path: path, type: .nodeDataChanged, acl: acl, into: &notifications)
            return TxnResult(type: .setData, path: path, stat: fullStat(id))
        case .setACL(let path, let acl, let version):
            let id = table.lookup(path)
            guard id != NodeTable.none else { return TxnResult(type: .setACL, error: .noNode, path: path) }
            let aclIndex = aclTable.retain(acl)
            aclTable.release(table.records[Int(id)].acl)
            table.records[Int(id)].acl = aclIndex
            modifyStat(id, path: path) { $0.aversion = version }
            return TxnResult(type: .setACL, path: path, stat: fullStat(id))
        case .check(let path, _):
            return TxnResult(type: .check, path: path)
        case .createSession(let timeoutMs):
            sessions[header.clientId] = timeoutMs
            return TxnResult(type: .createSession)
        case .closeSession(let paths):
            sessions[header.clientId] = nil
            killSession(header.clientId, zxid: zxid, pathsInTxn: paths, notifications: &notifications)
            return TxnResult(type: .closeSession)
        case .error(let code):
            return TxnResult(type: .error, error: code)
        case .multi(let txns):
            return applyMulti(header: header, txns: txns, notifications: &notifications)
        }
    }

    private mutating func applyMulti(header: TxnHeader, txns: [TxnBody], notifications: inout [WatchNotification]) -> TxnResult {
        let failed = txns.contains { if case .error = $0 { return true } else { return false } }
        var result = TxnResult(type: .multi)
        var afterFailure = false
        for txn in txns {
            var effective = txn
            if case .error = txn {
                afterFailure = true
            } else if failed {
                // A failed multi changes nothing: ops before the failure report Ok, after it RuntimeInconsistency.
                effective = .error(afterFailure ? .runtimeInconsistency : .ok)
            }
            var subHeader = header
            subHeader.type = effective.opCode.rawValue
            let subResult = apply(header: subHeader, body: effective, notifications: &notifications)
            result.multiResults.append(subResult)
            if subResult.error != .ok && result.error == .ok { result.error = subResult.error }
        }
        return result
    }

    private mutating func applyCreate(
        _ type: OpCode, _ txn: CreateTxn, owner: Int64, header: TxnHeader, notifications: inout [WatchNotification]
    ) -> TxnResult {
        let error = createNode(
            txn.path, data: txn.data, acl: txn.acl, ephemeralOwner: owner, parentCVersion: txn.parentCVersion,
            zxid: header.zxid, time: header.time, notifications: &notifications)
        if error == .nodeExists && type == .create {
            // Replaying a create whose node a fuzzy snapshot already holds (re-created by another
            // session): bring the parent's cversion and pzxid forward as ZooKeeper does.
            setCVersionPzxid(PathValidation.parent(of: txn.path), cversion: txn.parentCVersion, zxid: header.zxid)
        }
        let stat = error == .ok && type != .create ? node(txn.path)?.fullStat : nil
        return TxnResult(type: type, error: error, path: txn.path, stat: stat)
    }

    /// The wire Stat of node `id` (DataNode.fullStat) without copying its data.
    private func fullStat(_ id: UInt32) -> Stat {
        status(of: id, entry: table.entry(of: id)).fullStat
    }

    private mutating func setCVersionPzxid(_ path: String, cversion requested: Int32, zxid: Int64) {
        let id = table.lookup(path)
        guard id != NodeTable.none else { return }
        modifyStat(id, path: path) { parent in
            let cversion = requested == -1 ? parent.cversion &+ 1 : requested
            if cversion > parent.cversion {
                parent.cversion = cversion
                parent.pzxid = zxid
            }
        }
    }

    @discardableResult
    public mutating func createNode(
        _ path: String, data: [UInt8]?, acl: [ACL], ephemeralOwner: Int64, parentCVersion: Int32, zxid: Int64,
        time: Int64, notifications: inout [WatchNotification]
    ) -> ErrorCode {
        if path == "/" { return table.root == NodeTable.none ? .noNode : .nodeExists }
        let parentPath = PathValidation.parent(of: path)
        let childName = PathValidation.lastComponent(of: path)
        let parentId = table.lookup(parentPath)
        guard parentId != NodeTable.none else { return .noNode }
        if table.child(of: parentId, named: childName) != NodeTable.none { return .nodeExists }
        modifyStat(parentId, path: parentPath) { parent in
            var newCVersion = parentCVersion
            if newCVersion == -1 { newCVersion = parent.cversion + 1 }
            // Replay of a create that a fuzzy snapshot already saw deleted must not move cversion back.
            if newCVersion > parent.cversion {
                parent.cversion = newCVersion
                parent.pzxid = zxid
            }
        }
        let parentACL = aclTable[table.records[Int(parentId)].acl]
        var stat = StatPersisted()
        stat.czxid = zxid
        stat.mzxid = zxid
        stat.pzxid = zxid
        stat.ctime = time
        stat.mtime = time
        stat.ephemeralOwner = ephemeralOwner
        let inserted = insert(parent: parentId, name: childName, path: path, data: data, acl: acl, stat: stat)
        precondition(inserted != nil, "\(path) appeared while it was created")
        if ephemeralOwner == EphemeralOwner.container {
            containers.insert(path)
        } else if EphemeralOwner.isTTL(ephemeralOwner) {
            ttlNodes.insert(path)
        } else if ephemeralOwner != 0 {
            ephemerals[ephemeralOwner, default: JavaHashOrderedSet()].insert(path)
        }
        if parentPath.hasPrefix(Self.quotaPath) && (childName == Quotas.limitNode || childName == Quotas.statNode) {
            // A limits node puts its path under quota; a stats node gets the subtree's usage.
            let prefix = Quotas.trimQuotaPath(parentPath)
            if !prefix.isEmpty {
                // The quota is filed under its trie key; the stats node counts the real subtree.
                if childName == Quotas.limitNode {
                    insertQuotaPrefix(prefix)
                } else {
                    updateQuotaForPath(prefix)
                }
            }
        }
        if let prefix = quotaPrefix(of: path) { updateQuotaStat(prefix, bytesDiff: Int64(data?.count ?? 0), countDiff: 1) }
        _ = dataWatches.trigger(path: path, type: .nodeCreated, acl: acl, into: &notifications)
        _ = childWatches.trigger(path: parentPath, type: .nodeChildrenChanged, acl: parentACL, into: &notifications)
        return .ok
    }

    @discardableResult
    public mutating func deleteNode(_ path: String, zxid: Int64, notifications: inout [WatchNotification]) -> ErrorCode {
        let parentPath = PathValidation.parent(of: path)
        let childName = PathValidation.lastComponent(of: path)
        let parentId = path == "/" ? NodeTable.none : table.lookup(parentPath)
        guard parentId != NodeTable.none else { return .noNode }
        // The child may already be gone in a fuzzy snapshot; pzxid still moves forward.
        modifyStat(parentId, path: parentPath) { parent in
            if zxid > parent.pzxid { parent.pzxid = zxid }
        }
        let parentACL = aclTable[table.records[Int(parentId)].acl]
        let id = table.child(of: parentId, named: childName)
        guard id != NodeTable.none else { return .noNode }
        let node = remove(id, path: path)
        if parentPath.hasPrefix(Self.quotaPath) && childName == Quotas.limitNode {
            let prefix = Quotas.trimQuotaPath(parentPath)
            // ZooKeeper 3.8.0's PathTrie.deletePath throws (NullPointerException) for an all-blank
            // prefix, whose key is the root; nothing is filed under "/", so there is nothing to drop.
            if !prefix.isEmpty { quotaPrefixes.remove(Quotas.trieKey(prefix)) }
        }
        if let prefix = quotaPrefix(of: path) { updateQuotaStat(prefix, bytesDiff: -Int64(node.data?.count ?? 0), countDiff: -1) }
        let fired = dataWatches.trigger(path: path, type: .nodeDeleted, acl: node.acl, into: &notifications)
        _ = childWatches.trigger(path: path, type: .nodeDeleted, acl: node.acl, suppressed: fired, into: &notifications)
        _ = childWatches.trigger(path: parentPath, type: .nodeChildrenChanged, acl: parentACL, into: &notifications)
        return .ok
    }

    private mutating func killSession(
        _ session: Int64, zxid: Int64, pathsInTxn: [String], notifications: inout [WatchNotification]
    ) {
        var remaining = ephemerals.removeValue(forKey: session) ?? JavaHashOrderedSet()
        for path in pathsInTxn {
            deleteNode(path, zxid: zxid, notifications: &notifications)
            remaining.remove(path)
        }
        for path in remaining.elements { deleteNode(path, zxid: zxid, notifications: &notifications) }
    }

    // MARK: - Quotas

    /// Adds to the usage a quota's stats node holds (in place: no txn, no version change, as
    /// ZooKeeper's updateQuotaStat; /zookeeper/ nodes are outside the digest).
    private mutating func updateQuotaStat(_ prefix: String, bytesDiff: Int64, countDiff: Int64) {
        let path = Quotas.statPath(prefix)
        let id = table.lookup(path)
        guard id != NodeTable.none else { return }
        var stats = StatsTrack(table.data(of: id))
        stats.count += countDiff
        stats.bytes += bytesDiff
        setData(id, path: path, stats.encoded)
    }

    /// Sets a quota's stats node to its subtree's usage.
    private mutating func updateQuotaForPath(_ prefix: String) {
        let usage = subtreeUsage(prefix)
        var stats = StatsTrack()
        stats.count = usage.count
        stats.bytes = usage.bytes
        let path = Quotas.statPath(prefix)
        let id = table.lookup(path)
        if id != NodeTable.none { setData(id, path: path, stats.encoded) }
    }

    /// ZooKeeper's setupQuota: every leaf `zookeeper_limits` under /zookeeper/quota puts its path
    /// under quota, and that quota's stats are recomputed from the tree.
    mutating func setUpQuotas() {
        quotaPrefixes = []
        var stack = [Self.quotaPath]
        let suffix = "/" + Quotas.limitNode
        while let path = stack.popLast() {
            guard let children = childNames(of: path) else { continue }
            guard children.isEmpty else {
                for child in children { stack.append(PathValidation.join(path, child)) }
                continue
            }
            // As ZooKeeper: the quota'd path ends at the first "/zookeeper_limits".
            guard path.hasSuffix(suffix), let end = path.firstRange(of: suffix) else { continue }
            let prefix = String(path[path.index(path.startIndex, offsetBy: Self.quotaPath.count)..<end.lowerBound])
            guard !prefix.isEmpty else { continue }
            updateQuotaForPath(prefix)
            insertQuotaPrefix(prefix)
        }
    }

    /// Files a quota under its trie key, as PathTrie.addPath; an all-blank path's key is the root,
    /// which ZooKeeper marks but never matches, so it is not filed at all.
    private mutating func insertQuotaPrefix(_ prefix: String) {
        let key = Quotas.trieKey(prefix)
        if key != "/" { quotaPrefixes.insert(key) }
    }
}
