import NIOCore
import ZKBase
import ZKTree
import ZKWire

/// Writes a SNAP sync's snapshot stream (layout in `ZooKeeperSnapshotStream`) while the tree keeps
/// changing, a slice of nodes at a time between applies, as ZooKeeper's LearnerHandler serializes
/// its live tree onto the socket: the stream is fuzzy from `zxid` (S, the last zxid applied when
/// it began) and the learner replays every txn after S, which the leader sends after it.
///
/// Fuzziness stays within what replay repairs:
/// - sessions and the ACL cache are those of the tree at S (later sessions come from their
///   createSession txns);
/// - a node created after S (czxid > S) is left out with its subtree: its create, after S,
///   brings it back with its own ACL (written, it might name an ACL list the cache lacks);
/// - a node of S whose ACL was set after S to a list the cache lacks is written with the first
///   cached list; the setACL txn, after S, puts its own back.
public struct ZooKeeperSnapshotStreamWriter: Sendable {
    public let zxid: Int64
    private var walk = FuzzySnapshotWalk()
    private var aclIds: [[ACL]: Int64] = [:]
    private var head: ByteBuffer?
    public private(set) var isFinished = false
    public private(set) var nodesWritten = 0
    public private(set) var bytesWritten = 0

    /// Begins the stream of `tree`, whose last applied zxid is S.
    public init(tree: DataTree, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        zxid = tree.lastProcessedZxid
        let lists = tree.aclLists.sorted { Self.order($0, $1) }
        var buffer = allocator.buffer(capacity: 64 + tree.sessions.count * 12 + lists.count * 64)
        let sessions = tree.sessions.sorted { $0.key < $1.key }
        buffer.writeJuteInt(Int32(sessions.count))
        for (id, timeout) in sessions {
            buffer.writeJuteLong(id)
            buffer.writeJuteInt(timeout)
        }
        buffer.writeJuteInt(Int32(lists.count))
        for (index, list) in lists.enumerated() {
            let id = Int64(index + 1)
            aclIds[list] = id
            buffer.writeJuteLong(id)
            buffer.writeACLVector(list)
        }
        head = buffer
    }

    /// The next part of the stream: the head first, then up to `nodesMax` nodes read from `tree`
    /// now, the last part ending with "/" and the signature; nil after that.
    public mutating func nextChunk(of tree: DataTree, nodesMax: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer? {
        guard !isFinished else { return nil }
        var buffer = head.take() ?? allocator.buffer(capacity: nodesMax * 128)
        let start = zxid
        let slice = walk.nextSlice(of: tree, nodesMax: nodesMax) { $0.stat.czxid <= start }
        // Nodes share a handful of interned lists: the last one's id is reused without hashing.
        var lastACL: [ACL] = []
        var lastId: Int64 = 1
        for (path, node) in slice {
            buffer.writeJuteString(path == "/" ? "" : path)
            buffer.writeJuteBuffer(node.data)
            if node.acl != lastACL || lastACL.isEmpty {
                lastACL = node.acl
                lastId = aclIds[node.acl] ?? 1
            }
            buffer.writeJuteLong(lastId)
            node.stat.encode(into: &buffer)
        }
        nodesWritten += slice.count
        if walk.isFinished {
            buffer.writeJuteString("/")
            buffer.writeJuteString(ZooKeeperSnapshotStream.signature)
            isFinished = true
        }
        bytesWritten += buffer.readableBytes
        return buffer
    }

    /// The whole stream of a tree that does not change meanwhile.
    public static func stream(of tree: DataTree) -> [UInt8] {
        var writer = ZooKeeperSnapshotStreamWriter(tree: tree)
        var bytes: [UInt8] = []
        while var chunk = writer.nextChunk(of: tree, nodesMax: 4096) {
            bytes += chunk.readBytes(length: chunk.readableBytes) ?? []
        }
        return bytes
    }

    /// A fixed order of ACL lists (the same tree gives the same stream).
    static func order(_ a: [ACL], _ b: [ACL]) -> Bool {
        for (x, y) in zip(a, b) where x != y {
            if x.perms.rawValue != y.perms.rawValue { return x.perms.rawValue < y.perms.rawValue }
            return x.id < y.id
        }
        return a.count < b.count
    }
}
