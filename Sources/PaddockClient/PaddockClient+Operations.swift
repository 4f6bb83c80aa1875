import ZKBase
import ZKWire

/// Every operation of ZooKeeper 3.8's client protocol. Paths are relative to the connect
/// string's chroot; a `...Watch` variant also returns the watch its read leaves.
extension PaddockClient {
    /// Creates a node; returns its path (with the sequence suffix for sequential modes).
    @discardableResult
    public func create(
        _ path: String, data: [UInt8]? = [], acl: [ACL] = ACL.openUnsafe, mode: CreateMode = .persistent, ttl: Int64 = 0
    ) async throws(ZooKeeperError) -> String {
        try await createWithStat(path, data: data, acl: acl, mode: mode, ttl: ttl).path
    }

    /// create2: the created path and the new node's stat.
    public func createWithStat(
        _ path: String, data: [UInt8]? = [], acl: [ACL] = ACL.openUnsafe, mode: CreateMode = .persistent, ttl: Int64 = 0
    ) async throws(ZooKeeperError) -> (path: String, stat: Stat) {
        guard PathValidation.isValid(path, isSequential: mode.isSequential) else {
            throw ZooKeeperError(.badArguments, "invalid path \(path)")
        }
        guard mode.isTTL == (ttl > 0) else { throw ZooKeeperError(.badArguments, "a TTL goes with the TTL modes only, and they need one") }
        let opCode: OpCode = mode.isContainer ? .createContainer : mode.isTTL ? .createTTL : .create2
        let request = CreateRequest(path: connectString.serverPath(path), data: data, acl: acl, flags: mode.rawValue, ttl: ttl)
        let (reply, _) = try await call(opCode, .create(opCode: opCode, request))
        guard case .create2(let created, let stat) = reply.body else { throw unexpected(reply, "create") }
        return (connectString.clientPath(created), stat)
    }

    public func delete(_ path: String, version: Int32 = -1) async throws(ZooKeeperError) {
        _ = try await call(.delete, .delete(path: try self.path(path), version: version))
    }

    /// The node's stat, or nil when it does not exist.
    public func exists(_ path: String) async throws(ZooKeeperError) -> Stat? {
        try await existsWatch(path, watch: false).stat
    }

    /// exists with a watch: fires on the node's creation, change or deletion.
    public func existsWatch(_ path: String) async throws(ZooKeeperError) -> (stat: Stat?, watch: WatchEvents) {
        let result = try await existsWatch(path, watch: true)
        return (result.stat, result.watch!)
    }

    private func existsWatch(_ path: String, watch: Bool) async throws(ZooKeeperError) -> (stat: Stat?, watch: WatchEvents?) {
        let server = try self.path(path)
        let (result, events) = await callKeepingWatch(.exists, .exists(path: server, watch: watch), watch: watch ? .exist : nil, watchPath: server)
        switch result {
        case .success(let reply):
            guard case .stat(let stat) = reply.body else { throw unexpected(reply, "exists") }
            return (stat, events)
        case .failure(let error) where error.code == .noNode:
            // The NoNode reply left an exist watch (it fires when the node is created).
            return (nil, events)
        case .failure(let error):
            throw error
        }
    }

    public func getData(_ path: String) async throws(ZooKeeperError) -> (data: [UInt8]?, stat: Stat) {
        let (reply, _) = try await call(.getData, .getData(path: try self.path(path), watch: false))
        guard let (data, stat) = reply.getData else { throw unexpected(reply, "getData") }
        return (data, stat)
    }

    public func getDataWatch(_ path: String) async throws(ZooKeeperError) -> (data: [UInt8]?, stat: Stat, watch: WatchEvents) {
        let server = try self.path(path)
        let (reply, events) = try await call(.getData, .getData(path: server, watch: true), watch: .data, watchPath: server)
        guard let (data, stat) = reply.getData, let events else { throw unexpected(reply, "getData") }
        return (data, stat, events)
    }

    @discardableResult
    public func setData(_ path: String, _ data: [UInt8]?, version: Int32 = -1) async throws(ZooKeeperError) -> Stat {
        let (reply, _) = try await call(.setData, .setData(path: try self.path(path), data: data, version: version))
        guard case .stat(let stat) = reply.body else { throw unexpected(reply, "setData") }
        return stat
    }

    public func getChildren(_ path: String) async throws(ZooKeeperError) -> [String] {
        let (reply, _) = try await call(.getChildren, .getChildren(opCode: .getChildren, path: try self.path(path), watch: false))
        guard case .children(let children) = reply.body else { throw unexpected(reply, "getChildren") }
        return children
    }

    /// getChildren2: the children and the parent's stat.
    public func getChildrenWithStat(_ path: String) async throws(ZooKeeperError) -> (children: [String], stat: Stat) {
        let (reply, _) = try await call(.getChildren2, .getChildren(opCode: .getChildren2, path: try self.path(path), watch: false))
        guard case .children2(let children, let stat) = reply.body else { throw unexpected(reply, "getChildren2") }
        return (children, stat)
    }

    public func getChildrenWatch(_ path: String) async throws(ZooKeeperError) -> (children: [String], stat: Stat, watch: WatchEvents) {
        let server = try self.path(path)
        let (reply, events) = try await call(.getChildren2, .getChildren(opCode: .getChildren2, path: server, watch: true),
                                             watch: .child, watchPath: server)
        guard case .children2(let children, let stat) = reply.body, let events else { throw unexpected(reply, "getChildren2") }
        return (children, stat, events)
    }

    public func getACL(_ path: String) async throws(ZooKeeperError) -> (acl: [ACL], stat: Stat) {
        let (reply, _) = try await call(.getACL, .getACL(path: try self.path(path)))
        guard case .getACL(let acl, let stat) = reply.body else { throw unexpected(reply, "getACL") }
        return (acl, stat)
    }

    @discardableResult
    public func setACL(_ path: String, _ acl: [ACL], version: Int32 = -1) async throws(ZooKeeperError) -> Stat {
        let (reply, _) = try await call(.setACL, .setACL(path: try self.path(path), acl: acl, version: version))
        guard case .stat(let stat) = reply.body else { throw unexpected(reply, "setACL") }
        return stat
    }

    /// Waits until the server this session reads from has every write committed before the call.
    public func sync(_ path: String = "/") async throws(ZooKeeperError) {
        _ = try await call(.sync, .sync(path: try self.path(path)))
    }

    /// Applies every op or none. On failure the error's `multiResults` says which op failed.
    public func multi(_ operations: [Operation]) async throws(ZooKeeperError) -> [OperationResult] {
        let (reply, _) = try await call(.multi, .multi(operations.map { $0.wire(connectString) }))
        guard case .multi(let results) = reply.body else { throw unexpected(reply, "multi") }
        let mapped = results.map { OperationResult($0, connectString) }
        if let failed = mapped.first(where: { if case .error(let code) = $0 { return code != .ok } else { return false } }),
           case .error(let code) = failed {
            throw ZooKeeperError(code, "multi failed", multiResults: mapped)
        }
        return mapped
    }

    /// Reads several nodes in one request; each op has its own result (`.error` for a missing node).
    public func multiRead(_ operations: [Operation]) async throws(ZooKeeperError) -> [OperationResult] {
        let (reply, _) = try await call(.multiRead, .multiRead(operations.map { $0.wire(connectString) }))
        guard case .multi(let results) = reply.body else { throw unexpected(reply, "multiRead") }
        return results.map { OperationResult($0, connectString) }
    }

    /// Ephemerals of this session whose path starts with `prefix`.
    public func getEphemerals(_ prefix: String = "/") async throws(ZooKeeperError) -> [String] {
        let (reply, _) = try await call(.getEphemerals, .getEphemerals(prefixPath: connectString.serverPath(prefix)))
        guard case .ephemerals(let paths) = reply.body else { throw unexpected(reply, "getEphemerals") }
        return paths.map { connectString.clientPath($0) }
    }

    public func getAllChildrenNumber(_ path: String) async throws(ZooKeeperError) -> Int {
        let (reply, _) = try await call(.getAllChildrenNumber, .getAllChildrenNumber(path: try self.path(path)))
        guard case .allChildrenNumber(let count) = reply.body else { throw unexpected(reply, "getAllChildrenNumber") }
        return Int(count)
    }

    /// The identities this session is authenticated as.
    public func whoAmI() async throws(ZooKeeperError) -> [ClientInfo] {
        let (reply, _) = try await call(.whoAmI, .whoAmI)
        guard case .whoAmI(let infos) = reply.body else { throw unexpected(reply, "whoAmI") }
        return infos
    }

    /// Adds credentials (e.g. scheme "digest", auth "user:password"); they are sent again on
    /// every new connection. A refusal ends the session (ZooKeeper's AUTH_FAILED).
    public func addAuth(scheme: String, auth: [UInt8]) async throws(ZooKeeperError) {
        _ = try await call(.auth, .auth(type: 0, scheme: scheme, auth: auth))
    }

    /// A persistent watch on `path` (and, recursive, on its whole subtree): every event until the
    /// returned sequence is dropped or the session ends.
    public func addWatch(_ path: String, mode: AddWatchMode) async throws(ZooKeeperError) -> WatchEvents {
        let server = try self.path(path)
        let (_, events) = try await call(.addWatch, .addWatch(path: server, mode: mode.rawValue), watchPath: server, persistent: mode)
        return events!
    }

    /// Removes this session's watches of `type` on `path`, at the server and here: each removed
    /// watch's sequence gets a `dataWatchRemoved`, `childWatchRemoved` or `persistentWatchRemoved`
    /// event and ends (ZooKeeper's `removeAllWatches`). `.data` covers exists watches too; `.any`
    /// covers persistent and recursive watches as well. NoWatcher when the session has no such
    /// watch there. ZooKeeper 3.8 servers accept `.children`, `.data` and `.any` only.
    public func removeWatches(_ path: String, type: WatcherType = .any) async throws(ZooKeeperError) {
        _ = try await call(.removeWatches, .removeWatches(path: try self.path(path), type: type.rawValue))
    }

    private func unexpected(_ reply: Reply, _ what: String) -> ZooKeeperError {
        ZooKeeperError(.marshallingError, "unexpected reply to \(what): \(reply.body)")
    }
}
