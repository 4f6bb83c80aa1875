import ZKBase
import ZKTree
import ZKWire

extension ServerCore {
    /// ZooKeeper's ContainerManager pass: empty containers that once had children, and TTL nodes
    /// without children unmodified for longer than their TTL, get a deleteContainer txn each.
    /// At most `deletionsMax` per pass (znode.container.maxPerMinute, scaled by the shell).
    public mutating func reapContainers(nowMs: Int64, deletionsMax: Int, into outputs: inout [CoreOutput]) {
        guard replication == .standalone || replication == .leader else { return }
        var candidates: [String] = []
        for path in tree.containers.sorted() {
            if let node = tree.node(path), node.stat.cversion > 0, node.childCount == 0 { candidates.append(path) }
        }
        for path in tree.ttlNodes.sorted() {
            guard let node = tree.node(path), node.childCount == 0 else { continue }
            let ttl = EphemeralOwner.ttlValue(node.stat.ephemeralOwner)
            if ttl != 0 && nowMs - node.stat.mtime > ttl { candidates.append(path) }
        }
        for path in candidates.prefix(deletionsMax) {
            let body = prepareDeleteContainer(path, zxid: lastProposedZxid + 1)
            propose(sessionId: 0, cxid: 0, body: body, nowMs: nowMs, into: &outputs)
        }
    }

    mutating func prepareDeleteContainer(_ path: String, zxid: Int64) -> TxnBody {
        do throws(PrepError) {
            let parentPath = try Self.parentPath(of: path, rejectSpecial: true)
            let parentKey = parentPath.isEmpty ? "/" : parentPath
            let node = try record(path)
            if node.childCount > 0 { throw PrepError(.notEmpty) }
            if EphemeralOwner.isSession(node.stat.ephemeralOwner) { throw PrepError(.badVersion) }
            var parent = try record(parentKey)
            parent.zxid = zxid
            parent.childCount -= 1
            parent.stat.pzxid = zxid
            pending.set(parentKey, parent, in: tree)
            pending.markDeleted(path, zxid: zxid, in: tree)
            return .deleteContainer(path: path)
        } catch {
            return .error(error.code)
        }
    }
}
