import ZKBase
import ZKWire

/// The replicated state: every znode, the ephemerals of each session, containers and TTL nodes,
/// and the watches set on them. It changes only by `apply(_:)` of a txn, on every server and in
/// replay alike; applying is idempotent so a fuzzy snapshot plus the log gives the same tree.
public struct DataTree: Sendable {
    public static let zookeeperPath = "/zookeeper"
    public static let quotaPath = "/zookeeper/quota"
    public static let configPath = "/zookeeper/config"

    public private(set) var nodes: [String: DataNode] = [:]
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

    public init() {
        var root = DataNode(acl: ACL.openUnsafe)
        root.children = ["zookeeper"]
        var zookeeper = DataNode(acl: ACL.openUnsafe)
        zookeeper.children = ["quota", "config"]
        var config = DataNode(acl: ACL.readUnsafe)
        // ZooKeeper sets the config node's ACL with version -1, which stores aversion -1.
        config.stat.aversion = -1
        nodes["/"] = root
        nodes[Self.zookeeperPath] = zookeeper
        nodes[Self.quotaPath] = DataNode(acl: ACL.openUnsafe)
        nodes[Self.configPath] = config
        for index in nodes.indices {
            nodes.values[index].cachedDigest = UInt32(Self.nodeDigest(path: nodes.keys[index], node: nodes.values[index]))
        }
        digest = computeDigest()
    }

    // MARK: - Digest

    /// One node's digest: CRC32 of path, data and 60 bytes of stat; 0 for the /zookeeper/ subtree.
    public static func nodeDigest(path: String, node: DataNode) -> UInt64 {
        nodeDigest(path: path, data: node.data, stat: node.stat)
    }

    public static func nodeDigest(path: String, data: [UInt8]?, stat s: StatPersisted) -> UInt64 {
        if path.hasPrefix("/zookeeper/") || path.isEmpty { return 0 }
        // No heap allocation: the path's own UTF-8 storage, the stat in a stack buffer.
        let crc = path.utf8.withContiguousStorageIfAvailable { CRC32.checksum(UnsafeRawBufferPointer($0)) }
            ?? Array(path.utf8).withUnsafeBytes { CRC32.checksum($0) }
        return digest(seed: crc, data: data, stat: s)
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
        var crc = seed
        if let data { crc = data.withUnsafeBytes { CRC32.checksum($0, seed: crc) } }
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

    /// The digest recomputed from every node (for verification; `digest` is the running value).
    public func computeDigest() -> UInt64 {
        nodes.reduce(UInt64(0)) { $0 &+ Self.nodeDigest(path: $1.key, node: $1.value) }
    }

    /// Paths whose cached digest disagrees with a recomputation (for tests; always empty).
    public func staleCachedDigests() -> [String] {
        nodes.compactMap { path, node in
            UInt64(node.cachedDigest) == Self.nodeDigest(path: path, node: node) ? nil : path
        }
    }

    /// Changes a node in place (no copy of its children set), keeping the running digest in step:
    /// one hash lookup, the old digest from the node's cache, one CRC for the new one.
    /// Returns nil when there is no such node.
    @discardableResult
    private mutating func modify<T>(_ path: String, _ body: (inout DataNode) -> T) -> T? {
        guard let index = nodes.index(forKey: path) else { return nil }
        digest &-= UInt64(nodes.values[index].cachedDigest)
        let result = body(&nodes.values[index])
        let after = Self.nodeDigest(path: path, data: nodes.values[index].data, stat: nodes.values[index].stat)
        nodes.values[index].cachedDigest = UInt32(truncatingIfNeeded: after)
        digest &+= after
        return result
    }

    /// Replaces a node, keeping the running digest in step. `knownDigest` is the node's digest
    /// when the caller has computed it already (snapshot load).
    private mutating func store(_ path: String, _ node: DataNode?, knownDigest: UInt64? = nil) {
        guard var node else {
            if let old = nodes.removeValue(forKey: path) { digest &-= UInt64(old.cachedDigest) }
            return
        }
        let nodeDigest = knownDigest ?? Self.nodeDigest(path: path, node: node)
        node.cachedDigest = UInt32(truncatingIfNeeded: nodeDigest)
        if let old = nodes.updateValue(node, forKey: path) { digest &-= UInt64(old.cachedDigest) }
        digest &+= nodeDigest
    }

    /// The digest the tree keeps for the node at `path` (nil when there is none).
    public func cachedDigest(of path: String) -> UInt64? { nodes[path].map { UInt64($0.cachedDigest) } }

    /// The tree's shared instance of `acl` (see ACLInternTable); sweeps unused lists when due.
    private mutating func internedACL(_ acl: [ACL]) -> [ACL] {
        if aclTable.needsSweep {
            aclTable.sweep(keeping: Set(nodes.values.lazy.map(\.acl)))
        }
        return aclTable.intern(acl)
    }

    /// Distinct ACL lists the tree holds (for tests and metrics).
    public var internedACLCount: Int { aclTable.count }

    /// Every ACL list a node of the tree may hold now: the interned ones (lists no node holds
    /// any more may be among them until the next sweep) and those of the initial tree.
    public var aclLists: [[ACL]] {
        var lists = aclTable.lists
        for fixed in [ACL.openUnsafe, ACL.readUnsafe] where !lists.contains(fixed) { lists.insert(fixed) }
        return Array(lists)
    }

    // MARK: - Loading a snapshot

    /// Starts from nothing: a snapshot supplies every node, the root included.
    public static func emptyForLoading() -> DataTree {
        var tree = DataTree()
        tree.nodes = [:]
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
    /// why it cannot come here and adds nothing. The check is the insert itself: two lookups of
    /// the node table (the parent's children, the node), where checking first would take four.
    /// `digest`: the node's digest when the reader has computed it already.
    @discardableResult
    public mutating func loadNode(path: String, data: [UInt8]?, acl: [ACL], stat: StatPersisted, digest: UInt64? = nil) -> LoadProblem? {
        if path == "/" {
            if nodes["/"] != nil { return .duplicate }
        } else {
            let parent = PathValidation.parent(of: path)
            // In place: copying the parent out and back would copy its whole children set.
            guard let inserted = nodes[parent]?.children.insert(String(PathValidation.lastComponent(of: path))).inserted else {
                return .parentMissing(parent: parent)
            }
            guard inserted else { return .duplicate }
        }
        store(path, DataNode(data: data, acl: internedACL(acl), stat: stat), knownDigest: digest)
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

    public mutating func loadSession(id: Int64, timeoutMs: Int32) { sessions[id] = timeoutMs }

    /// Makes room for `nodeCount` nodes at once (a restart knows roughly how many are coming):
    /// growing by doubling moved every node again at each step, a sixth of a restart's time.
    public mutating func reserveCapacity(nodes nodeCount: Int) {
        if nodeCount > nodes.capacity { nodes.reserveCapacity(nodeCount) }
    }

    /// After the last node: the quotas are set up from the tree (their stats recomputed, as
    /// ZooKeeper's setupQuota does on loading a snapshot).
    public mutating func finishLoading(lastProcessedZxid zxid: Int64) {
        lastProcessedZxid = zxid
        setUpQuotas()
    }

    /// ZooKeeper keeps "" as an alias of the root, so reads of "" answer for "/".
    public func node(_ path: String) -> DataNode? { nodes[path.isEmpty ? "/" : path] }
    public var nodeCount: Int { nodes.count }

    /// Sum of path and data bytes, as ZooKeeper's approximate_data_size.
    public var approximateDataSize: Int {
        nodes.reduce(0) { $0 + $1.key.utf8.count + ($1.value.data?.count ?? 0) }
    }

    public var ephemeralCount: Int { ephemerals.values.reduce(0) { $0 + $1.count } }

    public static func isSpecialPath(_ path: String) -> Bool {
        path == "/" || path == zookeeperPath || path == quotaPath || path == configPath
    }

    /// Number of descendants of `path` (getAllChildrenNumber).
    public func descendantCount(of path: String) -> Int {
        guard let node = nodes[path] else { return 0 }
        var count = 0
        var stack: [(String, DataNode)] = [(path, node)]
        while let (current, currentNode) = stack.popLast() {
            for child in currentNode.children {
                let childPath = PathValidation.join(current, child)
                if let childNode = nodes[childPath] {
                    count += 1
                    stack.append((childPath, childNode))
                }
            }
        }
        return count
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
            let changed = modify(path) { node -> (acl: [ACL], stat: Stat, previousBytes: Int) in
                let previousBytes = node.data?.count ?? 0
                node.data = data
                node.stat.mtime = header.time
                node.stat.mzxid = zxid
                node.stat.version = version
                return (node.acl, node.fullStat, previousBytes)
            }
            guard let changed else { return TxnResult(type: .setData, error: .noNode, path: path) }
            if let prefix = quotaPrefix(of: path) {
                updateQuotaStat(prefix, bytesDiff: Int64(data?.count ?? 0) - Int64(changed.previousBytes), countDiff: 0)
            }
            _ = dataWatches.trigger(path: path, type: .nodeDataChanged, acl: changed.acl, into: &notifications)
            return TxnResult(type: .setData, path: path, stat: changed.stat)
        case .setACL(let path, let acl, let version):
            let acl = internedACL(acl)
            let stat = modify(path) { node -> Stat in
                node.stat.aversion = version
                node.acl = acl
                return node.fullStat
            }
            guard let stat else { return TxnResult(type: .setACL, error: .noNode, path: path) }
            return TxnResult(type: .setACL, path: path, stat: stat)
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
        let stat = error == .ok && type != .create ? nodes[txn.path]?.fullStat : nil
        return TxnResult(type: type, error: error, path: txn.path, stat: stat)
    }

    private mutating func setCVersionPzxid(_ path: String, cversion requested: Int32, zxid: Int64) {
        modify(path) { parent in
            let cversion = requested == -1 ? parent.stat.cversion &+ 1 : requested
            if cversion > parent.stat.cversion {
                parent.stat.cversion = cversion
                parent.stat.pzxid = zxid
            }
        }
    }

    @discardableResult
    public mutating func createNode(
        _ path: String, data: [UInt8]?, acl: [ACL], ephemeralOwner: Int64, parentCVersion: Int32, zxid: Int64,
        time: Int64, notifications: inout [WatchNotification]
    ) -> ErrorCode {
        let parentPath = PathValidation.parent(of: path)
        let childName = String(PathValidation.lastComponent(of: path))
        guard nodes[parentPath] != nil else { return .noNode }
        if nodes[path] != nil { return .nodeExists }
        let parentACL = modify(parentPath) { parent -> [ACL] in
            var newCVersion = parentCVersion
            if newCVersion == -1 { newCVersion = parent.stat.cversion + 1 }
            // Replay of a create that a fuzzy snapshot already saw deleted must not move cversion back.
            if newCVersion > parent.stat.cversion {
                parent.stat.cversion = newCVersion
                parent.stat.pzxid = zxid
            }
            parent.children.insert(childName)
            return parent.acl
        } ?? []
        var stat = StatPersisted()
        stat.czxid = zxid
        stat.mzxid = zxid
        stat.pzxid = zxid
        stat.ctime = time
        stat.mtime = time
        stat.ephemeralOwner = ephemeralOwner
        store(path, DataNode(data: data, acl: internedACL(acl), stat: stat))
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
        let childName = String(PathValidation.lastComponent(of: path))
        // The child may already be gone in a fuzzy snapshot; pzxid still moves forward.
        let parentACL = modify(parentPath) { parent -> [ACL] in
            parent.children.remove(childName)
            if zxid > parent.stat.pzxid { parent.stat.pzxid = zxid }
            return parent.acl
        }
        guard let parentACL else { return .noNode }
        guard let node = nodes[path] else { return .noNode }
        store(path, nil)
        let owner = node.stat.ephemeralOwner
        if owner == EphemeralOwner.container {
            containers.remove(path)
        } else if EphemeralOwner.isTTL(owner) {
            ttlNodes.remove(path)
        } else if owner != 0 {
            ephemerals[owner]?.remove(path)
            if ephemerals[owner]?.isEmpty == true { ephemerals[owner] = nil }
        }
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
        modify(Quotas.statPath(prefix)) { node in
            var stats = StatsTrack(node.data)
            stats.count += countDiff
            stats.bytes += bytesDiff
            node.data = stats.encoded
        }
    }

    /// Sets a quota's stats node to its subtree's usage.
    private mutating func updateQuotaForPath(_ prefix: String) {
        let usage = subtreeUsage(prefix)
        var stats = StatsTrack()
        stats.count = usage.count
        stats.bytes = usage.bytes
        modify(Quotas.statPath(prefix)) { $0.data = stats.encoded }
    }

    /// ZooKeeper's setupQuota: every leaf `zookeeper_limits` under /zookeeper/quota puts its path
    /// under quota, and that quota's stats are recomputed from the tree.
    mutating func setUpQuotas() {
        quotaPrefixes = []
        var stack = [Self.quotaPath]
        let suffix = "/" + Quotas.limitNode
        while let path = stack.popLast() {
            guard let node = nodes[path] else { continue }
            guard node.children.isEmpty else {
                for child in node.children { stack.append(PathValidation.join(path, child)) }
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
