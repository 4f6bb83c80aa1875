import ZKBase
import ZKTree
import ZKWire

/// A prep failure: becomes an ErrorTxn (it still takes a zxid, as in ZooKeeper).
struct PrepError: Error {
    var code: ErrorCode
    init(_ code: ErrorCode) { self.code = code }
}

extension ServerCore {
    /// Turns a write request into the txn body to log, checking it against the tree plus pending
    /// txns; failures become `.error`. Pending changes are updated as if the txn were applied.
    mutating func prepare(_ body: RequestBody, sessionId: Int64, authInfo: [Id], nowMs: Int64) -> TxnBody {
        let zxid = lastProposedZxid + 1
        switch body {
        case .multi(let operations):
            return prepareMulti(operations, sessionId: sessionId, authInfo: authInfo, zxid: zxid, nowMs: nowMs)
        case .closeSession:
            let paths = pending.ephemerals(of: sessionId, in: tree)
            markEphemeralsDeleted(paths, zxid: zxid)
            return .closeSession(pathsToDelete: paths)
        case .reconfig:
            return .error(.reconfigDisabled)
        case .malformedMulti, .wrongKindMulti:
            return .error(.marshallingError)
        case .setACL(let path, let acl, let version):
            do {
                return try prepareSetACL(path: path, acl: acl, version: version, authInfo: authInfo, zxid: zxid)
            } catch {
                return .error(error.code)
            }
        default:
            guard let operation = Self.multiOperation(from: body) else { return .error(.unimplemented) }
            do {
                return try prepare(operation, sessionId: sessionId, authInfo: authInfo, zxid: zxid, nowMs: nowMs)
            } catch {
                return .error(error.code)
            }
        }
    }

    static func multiOperation(from body: RequestBody) -> MultiOperation? {
        switch body {
        case .create(let opCode, let request): return .create(opCode: opCode, request)
        case .delete(let path, let version): return .delete(path: path, version: version)
        case .setData(let path, let data, let version): return .setData(path: path, data: data, version: version)
        case .check(let path, let version): return .check(path: path, version: version)
        case .setACL: return nil
        default: return nil
        }
    }

    mutating func prepareMulti(_ operations: [MultiOperation], sessionId: Int64, authInfo: [Id], zxid: Int64, nowMs: Int64) -> TxnBody {
        let saved = pending
        var txns: [TxnBody] = []
        var failed = false
        for operation in operations {
            if failed {
                txns.append(.error(.runtimeInconsistency))
                continue
            }
            if case .createTTLWithoutTTL = operation {
                pending.restore(saved)
                return .error(.marshallingError)
            }
            do {
                txns.append(try prepare(operation.asZooKeeperRebuildsIt, sessionId: sessionId, authInfo: authInfo, zxid: zxid, nowMs: nowMs))
            } catch {
                failed = true
                txns.append(.error(error.code))
                pending.restore(saved)
            }
        }
        return .multi(txns)
    }

    mutating func markEphemeralsDeleted(_ paths: [String], zxid: Int64) {
        for path in paths {
            let parentPath = PathValidation.parent(of: path)
            if var parent = pending.record(for: parentPath, in: tree) {
                parent.zxid = zxid
                parent.childCount -= 1
                parent.stat.pzxid = zxid
                pending.set(parentPath, parent, in: tree)
            }
            pending.markDeleted(path, zxid: zxid, in: tree)
        }
    }

    func record(_ path: String) throws(PrepError) -> ChangeRecord {
        guard let record = pending.record(for: path, in: tree) else { throw PrepError(.noNode) }
        return record
    }

    func checkACL(_ record: ChangeRecord, _ permission: Perms, _ authInfo: [Id]) throws(PrepError) {
        if !AccessControl.check(record.acl, permission, authInfo: authInfo) { throw PrepError(.noAuth) }
    }

    static func checkAndIncrementVersion(current: Int32, expected: Int32) throws(PrepError) -> Int32 {
        if expected != -1 && expected != current { throw PrepError(.badVersion) }
        return current &+ 1
    }

    /// Parent path for delete/create, rejecting paths without a slash, with NUL, or special nodes.
    static func parentPath(of path: String, rejectSpecial: Bool) throws(PrepError) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")), !path.utf8.contains(0) else {
            throw PrepError(.badArguments)
        }
        if rejectSpecial && DataTree.isSpecialPath(path) { throw PrepError(.badArguments) }
        return String(path[path.startIndex..<slash])
    }

    static func validate(_ path: String) throws(PrepError) {
        if !PathValidation.isValid(path) { throw PrepError(.badArguments) }
    }

    /// Java's String.format("%010d", value), negative values included.
    static func sequenceSuffix(_ value: Int32) -> String {
        let digits = String(value.magnitude)
        if value < 0 { return "-" + String(repeating: "0", count: max(0, 9 - digits.count)) + digits }
        return String(repeating: "0", count: max(0, 10 - digits.count)) + digits
    }

    mutating func prepare(_ operation: MultiOperation, sessionId: Int64, authInfo: [Id], zxid: Int64, nowMs: Int64) throws(PrepError) -> TxnBody {
        switch operation {
        case .create(let opCode, let request):
            return try prepareCreate(opCode, request, sessionId: sessionId, authInfo: authInfo, zxid: zxid, nowMs: nowMs)
        case .delete(let path, let version):
            let parentPath = try Self.parentPath(of: path, rejectSpecial: true)
            var parent = try record(parentPath.isEmpty ? "/" : parentPath)
            try checkACL(parent, .delete, authInfo)
            let node = try record(path)
            _ = try Self.checkAndIncrementVersion(current: node.stat.version, expected: version)
            if node.childCount > 0 { throw PrepError(.notEmpty) }
            parent.zxid = zxid
            parent.childCount -= 1
            parent.stat.pzxid = zxid
            pending.set(parentPath.isEmpty ? "/" : parentPath, parent, in: tree)
            pending.markDeleted(path, zxid: zxid, in: tree)
            return .delete(path: path)
        case .setData(let path, let data, let version):
            try Self.validate(path)
            var node = try record(path)
            try checkACL(node, .write, authInfo)
            try checkQuota(path, bytesDiff: Int64(data?.count ?? 0) - Int64(node.data?.count ?? 0), countDiff: 0)
            let newVersion = try Self.checkAndIncrementVersion(current: node.stat.version, expected: version)
            node.zxid = zxid
            node.stat.version = newVersion
            node.stat.mtime = nowMs
            node.stat.mzxid = zxid
            node.data = data
            pending.set(path, node, in: tree)
            return .setData(path: path, data: data, version: newVersion)
        case .check(let path, let version):
            try Self.validate(path)
            let node = try record(path)
            try checkACL(node, .read, authInfo)
            return .check(path: path, version: try Self.checkAndIncrementVersion(current: node.stat.version, expected: version))
        case .getChildren, .getData, .createTTLWithoutTTL:
            throw PrepError(.badArguments)
        }
    }

    /// ZooKeeperServer.checkQuota, at the same point of prep: against the usage the committed
    /// tree's stats node holds. Past a hard limit the request fails when quotas are enforced;
    /// past any limit the shell logs a warning.
    mutating func checkQuota(_ path: String, bytesDiff: Int64, countDiff: Int64) throws(PrepError) {
        switch tree.quotaVerdict(for: path, bytesDiff: bytesDiff, countDiff: countDiff) {
        case .within:
            return
        case .pastSoftLimit(let message):
            quotaWarnings.append(message)
        case .pastHardLimit(let message):
            quotaWarnings.append(message)
            if configuration.enforceQuota { throw PrepError(.quotaExceeded) }
        }
    }

    mutating func prepareSetACL(path: String, acl: [ACL], version: Int32, authInfo: [Id], zxid: Int64) throws(PrepError) -> TxnBody {
        try Self.validate(path)
        guard let fixed = AccessControl.fixup(acl, authInfo: authInfo, x509Enabled: configuration.x509Enabled) else { throw PrepError(.invalidACL) }
        var node = try record(path)
        try checkACL(node, .admin, authInfo)
        let newVersion = try Self.checkAndIncrementVersion(current: node.stat.aversion, expected: version)
        node.zxid = zxid
        node.stat.aversion = newVersion
        // As ZooKeeper 3.8's PrepRequestProcessor: the pending record of a setACL takes the new
        // aversion but keeps the old ACL (it duplicates the record without setting the ACL), so
        // requests pipelined behind it are checked against the ACL the tree has until it is
        // applied: a second setACL after one that removed ADMIN fails on its version, not NoAuth.
        // The differential test's pipelined bursts found this.
        pending.set(path, node, in: tree)
        return .setACL(path: path, acl: fixed, version: newVersion)
    }

    mutating func prepareCreate(
        _ opCode: OpCode, _ request: CreateRequest, sessionId: Int64, authInfo: [Id], zxid: Int64, nowMs: Int64
    ) throws(PrepError) -> TxnBody {
        guard let mode = CreateMode(rawValue: request.flags) else { throw PrepError(.badArguments) }
        let ttl = opCode == .createTTL ? request.ttl : -1
        if mode.isTTL && !configuration.extendedTypesEnabled { throw PrepError(.unimplemented) }
        if mode.isTTL {
            if ttl <= 0 || ttl > EphemeralOwner.ttlMaximum { throw PrepError(.badArguments) }
        } else if ttl >= 0 {
            throw PrepError(.badArguments)
        }
        let parentPath = try Self.parentPath(of: request.path, rejectSpecial: false)
        guard let acl = AccessControl.fixup(request.acl, authInfo: authInfo, x509Enabled: configuration.x509Enabled) else { throw PrepError(.invalidACL) }
        let parentKey = parentPath.isEmpty ? "/" : parentPath
        var parent = try record(parentKey)
        try checkACL(parent, .create, authInfo)
        var path = request.path
        if mode.isSequential { path += Self.sequenceSuffix(parent.stat.cversion) }
        try Self.validate(path)
        if pending.record(for: path, in: tree) != nil { throw PrepError(.nodeExists) }
        if EphemeralOwner.isSession(parent.stat.ephemeralOwner) { throw PrepError(.noChildrenForEphemerals) }
        try checkQuota(path, bytesDiff: Int64(request.data?.count ?? 0), countDiff: 1)
        let newCVersion = parent.stat.cversion &+ 1
        // The owner the applied node will have, which follows the txn type (as DataTree applies
        // it), not the mode. ZooKeeper 3.8.0's pRequest2TxnCreate picks the txn by the opcode
        // alone: only createContainer logs a CreateContainerTxn, so a top-level create or create2
        // with the container flag makes a plain persistent node (never reaped), and createContainer
        // with other flags makes a container. Inside a multi the opcode was already rebuilt from
        // the flags (`asZooKeeperRebuildsIt`), so there the container flag does make a container.
        // (ZooKeeper's pending record takes its owner from the mode; Paddock's follows the txn,
        // which the digest it predicts needs.) The differential test's reap op found this.
        let txnType: OpCode = opCode
        var owner: Int64 = 0
        let txn: CreateTxn
        if txnType == .createContainer {
            owner = EphemeralOwner.container
        } else if opCode == .createTTL {
            owner = EphemeralOwner.ttl(ttl)
        } else if mode.isEphemeral {
            owner = sessionId
        }
        txn = CreateTxn(
            path: path, data: request.data, acl: acl, ephemeral: mode.isEphemeral, parentCVersion: newCVersion,
            ttl: opCode == .createTTL ? ttl : 0)
        parent.zxid = zxid
        parent.childCount += 1
        parent.stat.cversion = newCVersion
        parent.stat.pzxid = zxid
        pending.set(parentKey, parent, in: tree)
        var stat = StatPersisted()
        stat.czxid = zxid
        stat.mzxid = zxid
        stat.pzxid = zxid
        stat.ctime = nowMs
        stat.mtime = nowMs
        stat.ephemeralOwner = owner
        pending.set(path, ChangeRecord(zxid: zxid, stat: stat, childCount: 0, acl: acl, data: request.data), in: tree)
        switch txnType {
        case .createContainer: return .createContainer(txn)
        case .createTTL: return .createTTL(txn)
        case .create2: return .create2(txn)
        default: return .create(txn)
        }
    }
}
