import ZKBase
import ZKTree

/// Snapshot files in a snapshots directory: names, listing, loading, verifying, and writing a
/// whole (non-fuzzy) tree. The server's fuzzy walk drives `SnapshotWriter` itself.
public enum SnapshotFiles {
    static let namePrefix = "snapshot."
    static let hexDigits = 16

    /// `snapshot.<16 lowercase hex digits of the start zxid>`.
    public static func name(zxid: Int64) -> String {
        let digits = String(UInt64(bitPattern: zxid), radix: 16)
        return namePrefix + String(repeating: "0", count: hexDigits - digits.count) + digits
    }

    /// The start zxid in a snapshot file name, or nil for any other name (temp files included).
    public static func zxid(fromName name: String) -> Int64? {
        guard name.hasPrefix(namePrefix) else { return nil }
        let digits = name.utf8.dropFirst(namePrefix.utf8.count)
        guard digits.count == hexDigits,
            digits.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }),
            let value = UInt64(String(decoding: digits, as: UTF8.self), radix: 16)
        else { return nil }
        return Int64(bitPattern: value)
    }

    /// Snapshot files in `directory`, newest (highest start zxid) first; empty when unreadable.
    public static func list(directory: String) -> [(zxid: Int64, path: String)] {
        PosixFile.names(in: directory)
            .compactMap { name in zxid(fromName: name).map { (zxid: $0, path: directory + "/" + name) } }
            .sorted { $0.zxid > $1.zxid }
    }

    /// Reads and checks a whole snapshot into a tree. Besides the format's validity rule, the
    /// nodes must form a tree: the root first, no duplicates, every parent before its children.
    /// `txnsToFollow`: how many txns the caller will replay on top (room is made for the nodes
    /// they may create, at most as many again as the snapshot holds, in one reservation).
    public static func load(path: String, txnsToFollow: Int = 0) throws(SnapshotError) -> (tree: DataTree, header: SnapshotHeader, trailer: SnapshotTrailer) {
        let reader = try SnapshotReader(path: path)
        var tree = DataTree.emptyForLoading()
        let hint = reader.nodeCountHint
        tree.reserveCapacity(nodes: hint + min(max(0, txnsToFollow), max(hint, 1024)), arenaBytes: reader.streamBytesHint)
        for session in try reader.readSessions() { tree.loadSession(id: session.id, timeoutMs: session.timeoutMs) }
        while let node = try reader.nextNode() {
            if let problem = pathProblem(node.path, first: tree.nodeCount == 0) {
                throw SnapshotError(path: path, kind: .corruptStream(problem))
            }
            switch tree.loadNode(path: node.path, data: node.data, acl: node.acl, stat: node.stat, digest: node.digest) {
            case nil: break
            case .duplicate:
                throw SnapshotError(path: path, kind: .corruptStream(node.path == "/" ? "root appears twice" : "node \(node.path) appears twice"))
            case .parentMissing(let parent):
                throw SnapshotError(path: path, kind: .corruptStream("node \(node.path) comes before its parent \(parent)"))
            }
        }
        guard let trailer = reader.trailer else { preconditionFailure("reader ended without a verified trailer") }
        precondition(tree.digest == trailer.digest, "loaded tree digest differs from the verified stream digest")
        tree.finishLoading(lastProcessedZxid: reader.header.startZxid)
        return (tree, reader.header, trailer)
    }

    /// The validity rule alone, streaming, without building a tree (what `paddock data verify` runs).
    public static func verify(path: String) -> Result<SnapshotTrailer, SnapshotError> {
        do throws(SnapshotError) {
            let reader = try SnapshotReader(path: path)
            _ = try reader.readSessions()
            while try reader.nextNode() != nil {}
            guard let trailer = reader.trailer else { preconditionFailure("reader ended without a verified trailer") }
            return .success(trailer)
        } catch {
            return .failure(error)
        }
    }

    /// Writes `tree` whole: sessions by id, nodes in pre-order with children sorted, so the same
    /// tree always gives the same bytes. The tree does not change meanwhile, so E = S.
    /// Returns the final path.
    @discardableResult
    public static func write(tree: DataTree, directory: String, startZxid: Int64, startTimeMs: Int64 = 0,
                             level: Int32 = SnapshotWriter.defaultLevel) throws(SnapshotError) -> String {
        let writer = try SnapshotWriter(directory: directory, startZxid: startZxid, startTimeMs: startTimeMs, level: level)
        let sessions = tree.sessions.sorted { $0.key < $1.key }.map { (id: $0.key, timeoutMs: $0.value) }
        try writer.writeSessions(sessions)
        var stack = ["/"]
        while let path = stack.popLast() {
            guard let node = tree.node(path) else { continue }
            try writer.writeNode(path: path, node: node)
            // Reverse-sorted onto the stack, so the smallest child comes off first.
            for child in (tree.childNames(of: path) ?? []).sorted(by: >) { stack.append(PathValidation.join(path, child)) }
        }
        return try writer.finish(endZxid: startZxid).path
    }

    /// The rules a node's path must meet before the tree checks where it goes.
    private static func pathProblem(_ path: String, first: Bool) -> String? {
        guard path.hasPrefix("/"), path == "/" || !path.hasSuffix("/") else { return "node path \"\(path)\" is not absolute" }
        if first && path != "/" { return "first node is \(path), not the root" }
        return nil
    }
}
