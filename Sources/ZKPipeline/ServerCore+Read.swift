import ZKBase
import ZKTree
import ZKWire

extension ServerCore {
    /// Answers a request that does not change the tree, against the applied tree
    /// (FinalRequestProcessor's read cases). Reply zxid = last applied zxid.
    mutating func answerRead(_ id: ConnectionID, _ request: ClientRequest, into outputs: inout [CoreOutput]) {
        guard let connection = connections[id] else { return }
        let zxid = tree.lastProcessedZxid
        if case .ping = request.body {
            outputs.append(.reply(id, ReplyHeader(xid: SpecialXid.ping, zxid: zxid, err: 0), .empty))
            return
        }
        if case .setWatches(_, let watches) = request.body {
            setWatches(id, watches, into: &outputs)
            outputs.append(.reply(id, ReplyHeader(xid: request.xid, zxid: zxid, err: 0), .empty))
            return
        }
        if case .wrongKindMulti = request.body {
            // A multiRead of write ops fails on its first op, after the (empty) response exists.
            outputs.append(.reply(id, ReplyHeader(xid: request.xid, zxid: zxid, err: ErrorCode.marshallingError.rawValue), .multi([])))
            return
        }
        if case .getData(let path, let watch) = request.body {
            outputs.append(getData(path, watch: watch, xid: request.xid, zxid: zxid, connection: connection))
            return
        }
        let result = read(request.body, connection: connection)
        switch result {
        case .success(let body):
            outputs.append(.reply(id, ReplyHeader(xid: request.xid, zxid: zxid, err: 0), body))
        case .failure(let error):
            outputs.append(.reply(id, ReplyHeader(xid: request.xid, zxid: zxid, err: error.code.rawValue), .empty))
        }
    }

    /// The ACL and stat of a node the client may read (its data untouched).
    func readableNode(_ path: String, _ authInfo: [Id]) throws(PrepError) -> NodeStatus {
        guard let node = tree.status(path) else { throw PrepError(.noNode) }
        if !AccessControl.check(node.acl, .read, authInfo: authInfo) { throw PrepError(.noAuth) }
        return node
    }

    /// A getData's reply: the value goes from the tree straight into the encoded frame (see
    /// ReplyFrame), the only copy of it a read makes.
    mutating func getData(_ path: String, watch: Bool, xid: Int32, zxid: Int64, connection: Connection) -> CoreOutput {
        let authInfo = connection.authInfo
        let header = ReplyHeader(xid: xid, zxid: zxid, err: 0)
        // nil: no such node; .some(nil): the client may not read it.
        let frame = tree.withData(path) { node, data -> ReplyFrame? in
            guard AccessControl.check(node.acl, .read, authInfo: authInfo) else { return nil }
            return ReplyFrame.getData(header: header, data: data, stat: node.fullStat)
        }
        guard let readable = frame else {
            return .reply(connection.id, ReplyHeader(xid: xid, zxid: zxid, err: ErrorCode.noNode.rawValue), .empty)
        }
        guard let frame = readable else {
            return .reply(connection.id, ReplyHeader(xid: xid, zxid: zxid, err: ErrorCode.noAuth.rawValue), .empty)
        }
        if watch { tree.dataWatches.add(path: path, watcher: connection.id) }
        return .replyFrame(connection.id, frame)
    }

    mutating func read(_ body: RequestBody, connection: Connection) -> Result<ResponseBody, PrepError> {
        do throws(PrepError) {
            return .success(try readBody(body, connection: connection))
        } catch {
            return .failure(error)
        }
    }

    mutating func readBody(_ body: RequestBody, connection: Connection) throws(PrepError) -> ResponseBody {
        let watcher = connection.id
        let authInfo = connection.authInfo
        switch body {
        case .exists(let path, let watch):
            if path.utf8.contains(0) { throw PrepError(.badArguments) }
            // An exists watch is set whether or not the node exists.
            if watch { tree.dataWatches.add(path: path, watcher: watcher) }
            guard let node = tree.status(path) else { throw PrepError(.noNode) }
            return .stat(node.fullStat)
        case .getData:
            preconditionFailure("answerRead answers a getData itself (getData(_:watch:xid:zxid:connection:))")
        case .getChildren(let opCode, let path, let watch):
            let node = try readableNode(path, authInfo)
            if watch { tree.childWatches.add(path: path, watcher: watcher) }
            let children = (tree.childNames(of: path) ?? []).sorted()
            return opCode == .getChildren2 ? .children2(children, stat: node.fullStat) : .children(children)
        case .getACL(let path):
            guard let node = tree.status(path) else { throw PrepError(.noNode) }
            if !AccessControl.check(node.acl, [.read, .admin], authInfo: authInfo) { throw PrepError(.noAuth) }
            if AccessControl.check(node.acl, .admin, authInfo: authInfo) {
                return .getACL(acl: node.acl, stat: node.fullStat)
            }
            // Without ADMIN, digest hashes are hidden ("user:x").
            let masked = node.acl.map { entry -> ACL in
                guard entry.id.scheme == "digest" else { return entry }
                let user = entry.id.id.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                return ACL(perms: entry.perms, id: Id(scheme: "digest", id: user + ":x"))
            }
            return .getACL(acl: masked, stat: node.fullStat)
        case .getAllChildrenNumber(let path):
            _ = try readableNode(path, authInfo)
            // ZooKeeper counts map keys under `path + "/"`; for "" that is every node, the root included.
            return .allChildrenNumber(Int32(path.isEmpty ? tree.nodeCount : tree.descendantCount(of: path)))
        case .getEphemerals(let prefix):
            let all = tree.ephemerals[connection.sessionId]?.cloned().elements ?? []
            let trimmed = prefix.trimmingSpaces
            if trimmed.isEmpty || trimmed == "/" { return .ephemerals(all) }
            return .ephemerals(all.filter { $0.hasPrefix(prefix) })
        case .sync(let path):
            return .sync(path: path)
        case .multiRead(let operations):
            return .multi(operations.map { readOperation($0, authInfo: authInfo) })
        case .checkWatches(let path, let type), .removeWatches(let path, let type):
            // 3.8's WatcherType knows only Children, Data and Any; other values fail to decode.
            guard let watcherType = WatcherType(rawValue: type), watcherType.rawValue <= WatcherType.any.rawValue else {
                throw PrepError(.marshallingError)
            }
            let remove: Bool
            if case .removeWatches = body { remove = true } else { remove = false }
            if !(try watchOperation(path: path, type: watcherType, watcher: watcher, remove: remove)) {
                throw PrepError(.noWatcher)
            }
            return .empty
        case .addWatch(let path, let mode):
            guard let watchMode = AddWatchMode(rawValue: mode) else { throw PrepError(.marshallingError) }
            // ZooKeeper 3.8 registers both modes in both tables (removeWatches/checkWatches see that).
            let mode: WatcherMode = watchMode == .persistentRecursive ? .persistentRecursive : .persistent
            tree.dataWatches.add(path: path, watcher: watcher, mode: mode)
            tree.childWatches.add(path: path, watcher: watcher, mode: mode)
            return .errorResponse(0)
        case .whoAmI:
            // The provider's user name: digest ids show only the user, not the hash.
            return .whoAmI(AuthInfoOrder.ordered(authInfo).map { id in
                let user = id.scheme == "digest" ? String(id.id.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "") : id.id
                return ClientInfo(authScheme: id.scheme, user: user)
            })
        case .malformedMulti, .wrongKindMulti:
            throw PrepError(.marshallingError)
        case .sasl:
            throw PrepError(.unimplemented)
        default:
            throw PrepError(.unimplemented)
        }
    }

    func readOperation(_ operation: MultiOperation, authInfo: [Id]) -> MultiOperationResult {
        do throws(PrepError) {
            switch operation {
            case .getChildren(let path):
                _ = try readableNode(path, authInfo)
                return .getChildren(children: (tree.childNames(of: path) ?? []).sorted())
            case .getData(let path):
                _ = try readableNode(path, authInfo)
                guard let node = tree.node(path) else { throw PrepError(.noNode) }
                return .getData(data: node.data, stat: node.fullStat)
            default:
                return .error(.badArguments)
            }
        } catch {
            return .error(error.code)
        }
    }

    /// checkWatches / removeWatches: ZooKeeper 3.8 looks only at the data and child tables.
    mutating func watchOperation(path: String, type: WatcherType, watcher: WatcherID, remove: Bool) throws(PrepError) -> Bool {
        if remove {
            var found = false
            if type == .children || type == .any { found = tree.childWatches.remove(path: path, watcher: watcher) }
            if type == .data || type == .any { found = tree.dataWatches.remove(path: path, watcher: watcher) || found }
            return found
        }
        let tables = type == .children ? [tree.childWatches] : type == .data ? [tree.dataWatches] : [tree.childWatches, tree.dataWatches]
        for table in tables {
            switch table.checkWatches(path: path, watcher: watcher) {
            case .found: return true
            case .notFound: continue
            case .malformedPath: throw PrepError(.marshallingError)
            }
        }
        return false
    }

    /// setWatches on reconnect: anything that changed since relativeZxid fires at once.
    mutating func setWatches(_ id: ConnectionID, _ watches: SetWatchesRequest, into outputs: inout [CoreOutput]) {
        let relativeZxid = watches.relativeZxid
        for path in watches.dataWatches {
            if let node = tree.status(path) {
                if node.stat.mzxid > relativeZxid {
                    outputs.append(.notify(id, WatcherEvent(type: .nodeDataChanged, path: path)))
                } else {
                    tree.dataWatches.add(path: path, watcher: id)
                }
            } else {
                outputs.append(.notify(id, WatcherEvent(type: .nodeDeleted, path: path)))
            }
        }
        for path in watches.existWatches {
            if tree.status(path) != nil {
                outputs.append(.notify(id, WatcherEvent(type: .nodeCreated, path: path)))
            } else {
                tree.dataWatches.add(path: path, watcher: id)
            }
        }
        for path in watches.childWatches {
            if let node = tree.status(path) {
                if node.stat.pzxid > relativeZxid {
                    outputs.append(.notify(id, WatcherEvent(type: .nodeChildrenChanged, path: path)))
                } else {
                    tree.childWatches.add(path: path, watcher: id)
                }
            } else {
                outputs.append(.notify(id, WatcherEvent(type: .nodeDeleted, path: path)))
            }
        }
        for path in watches.persistentWatches {
            tree.childWatches.add(path: path, watcher: id, mode: .persistent)
            tree.dataWatches.add(path: path, watcher: id, mode: .persistent)
        }
        for path in watches.persistentRecursiveWatches {
            tree.childWatches.add(path: path, watcher: id, mode: .persistentRecursive)
            tree.dataWatches.add(path: path, watcher: id, mode: .persistentRecursive)
        }
    }
}

extension String {
    /// Java's String.trim(): drops leading and trailing characters <= U+0020.
    var trimmingSpaces: Substring {
        var slice = Substring(self)
        while let first = slice.unicodeScalars.first, first.value <= 0x20 { slice = slice.dropFirst() }
        while let last = slice.unicodeScalars.last, last.value <= 0x20 { slice = slice.dropLast() }
        return slice
    }
}
