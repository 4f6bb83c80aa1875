import NIOCore
import ZKBase
import ZKTree
import ZKWire

/// Builds the tree of a SNAP sync's snapshot stream as its bytes arrive (`consume` per read of
/// the quorum socket), with every structural rule of a snapshot file checked item by item: the
/// root first, each node under one already read and new, each ACL id in the stream's cache. A
/// stream that breaks one is refused at the item that breaks it.
public struct ZooKeeperSnapshotStreamLoader: Sendable {
    public let zxid: Int64
    private var parser: ZooKeeperSnapshotStreamParser
    private var tree = DataTree.emptyForLoading()
    private var acls: [Int64: [ACL]] = [:]
    public private(set) var sessionCount = 0
    /// When true, each node loaded is also kept for `takeLoadedNodes` (a caller that writes the
    /// snapshot to disk as it arrives).
    public var keepsLoadedNodes = false
    private var loadedNodes: [(path: String, node: DataNode)] = []

    public init(zxid: Int64, limits: QuorumWireLimits = QuorumWireLimits()) {
        self.zxid = zxid
        parser = ZooKeeperSnapshotStreamParser(limits: limits)
    }

    public var isFinished: Bool { parser.isFinished }
    public var nodeCount: Int { tree.nodeCount }
    public var streamBytes: Int { parser.consumedBytes }

    /// Takes every whole item off the front of `buffer` (a partial one stays for the next call).
    /// Returns true once the signature has been read; bytes after it are left in the buffer.
    public mutating func consume(_ buffer: inout ByteBuffer) throws(ZooKeeperMigrationError) -> Bool {
        while !parser.isFinished {
            let offset = parser.consumedBytes
            let item: ZooKeeperSnapshotStreamParser.Item?
            do {
                item = try parser.next(from: &buffer)
            } catch {
                throw Self.corrupt("\(error)", at: offset)
            }
            guard let item else { return false }
            switch item {
            case .session(let id, let timeoutMs):
                tree.loadSession(id: id, timeoutMs: timeoutMs)
                sessionCount += 1
            case .aclList(let id, let acl):
                acls[id] = acl
            case .node(let zookeeperPath, let data, let aclId, let stat):
                let path = zookeeperPath.isEmpty ? "/" : zookeeperPath
                if let problem = ZooKeeperSnapshotReader.pathProblem(path, first: tree.nodeCount == 0) {
                    throw Self.corrupt(problem, at: offset)
                }
                let acl: [ACL]
                if aclId == ZooKeeperSnapshotReader.openUnsafeACLId {
                    acl = ACL.openUnsafe
                } else if let found = acls[aclId] {
                    acl = found
                } else {
                    throw Self.corrupt("node \(path) refers to ACL id \(aclId), which the snapshot's ACL cache lacks (ZOOKEEPER-4846)", at: offset)
                }
                if let problem = tree.loadNode(path: path, data: data, acl: acl, stat: stat) {
                    throw Self.corrupt(ZooKeeperSnapshotReader.describe(problem, path: path), at: offset)
                }
                if keepsLoadedNodes { loadedNodes.append((path, DataNode(data: data, acl: acl, stat: stat))) }
            case .end:
                guard tree.node("/") != nil else { throw Self.corrupt("no root node", at: offset) }
            }
        }
        return true
    }

    /// Sessions read so far (all of them once the first node has been read).
    public var sessions: [Int64: Int32] { tree.sessions }

    /// The nodes loaded since the last call, in stream order (with `keepsLoadedNodes`).
    public mutating func takeLoadedNodes() -> [(path: String, node: DataNode)] {
        defer { loadedNodes.removeAll(keepingCapacity: true) }
        return loadedNodes
    }

    /// The loaded tree at `zxid`, once `consume` has returned true; the loader keeps none of it
    /// (a second reference would make the tree's first change copy every node).
    public mutating func takeTree() -> DataTree {
        precondition(parser.isFinished, "the snapshot stream is not finished")
        var result = DataTree.emptyForLoading()
        swap(&result, &tree)
        result.finishLoading(lastProcessedZxid: zxid)
        return result
    }

    static func corrupt(_ what: String, at offset: Int) -> ZooKeeperMigrationError {
        ZooKeeperMigrationError(.corrupt, "(SNAP stream): \(what) at offset \(offset)")
    }
}
