import ZKBase
import ZKTree
import ZKWire

/// What a written ZooKeeper snapshot holds.
public struct ZooKeeperSnapshotWriteReport: Sendable, Equatable {
    public var path: String
    public var zxid: Int64
    public var nodeCount: Int
    public var sessionCount: Int
    public var aclCount: Int
    /// ZooKeeper's digest of the tree, written in the digest part (when written).
    public var digest: UInt64?
    public var streamBytes: Int64
    public var fileBytes: Int64
}

/// Writes a whole (non-fuzzy) tree as a ZooKeeper 3.8 snapshot, in the layout
/// `ZooKeeperSnapshotReader` documents: header, sessions, ACL cache, nodes in pre-order (root
/// as "", children sorted so the same tree gives the same bytes), "/", seal, then the digest
/// part {zxid, version 2, digest} and its seal. ZooKeeper 3.8 compares that digest with the
/// tree it loaded when the digest's zxid is the snapshot's (it is here: the tree is not fuzzy),
/// so a wrong digest shows as "Digests are not matching" in its log; without the part, 3.8
/// loads the snapshot all the same (an end of stream there means "no digest").
///
/// ACL ids are assigned 1, 2, ... in the order lists are first met; no node uses the -1 shortcut.
public enum ZooKeeperSnapshotWriter {
    public static let formatVersion: Int32 = 2
    public static let dbid: Int64 = -1

    /// Writes `<directory>/.<name>.tmp`, fsyncs it, renames it to `<directory>/<name>` and
    /// fsyncs the directory. `name` defaults to ZooKeeper's `snapshot.<hex zxid>[.gz]`.
    public static func write(
        tree: DataTree, zxid: Int64, directory: String, compression: ZooKeeperFiles.Compression = .none,
        includeDigest: Bool = true, name: String? = nil
    ) throws(ZooKeeperMigrationError) -> ZooKeeperSnapshotWriteReport {
        precondition(compression != .snappy, "snappy snapshots are read, not written")
        let finalName = name ?? ZooKeeperFiles.snapshotName(zxid: zxid, compression: compression)
        let temporary = directory + "/." + finalName + ".tmp"
        let finalPath = directory + "/" + finalName
        var report: ZooKeeperSnapshotWriteReport
        do {
            let stream = try ZooKeeperOutputStream(path: temporary, gzip: compression == .gzip)
            report = try write(tree: tree, zxid: zxid, to: stream, includeDigest: includeDigest)
            try stream.finish()
            report.path = finalPath
            report.streamBytes = stream.streamBytes
            report.fileBytes = stream.fileBytes
        } catch {
            try? ZooKeeperPosix.unlink(temporary)
            throw error
        }
        try ZooKeeperPosix.rename(temporary, to: finalPath)
        try ZooKeeperPosix.syncDirectory(directory)
        return report
    }

    static func write(tree: DataTree, zxid: Int64, to stream: ZooKeeperOutputStream, includeDigest: Bool) throws(ZooKeeperMigrationError) -> ZooKeeperSnapshotWriteReport {
        try stream.writeInt(ZooKeeperSnapshotReader.magic)
        try stream.writeInt(formatVersion)
        try stream.writeLong(dbid)
        let (sessionCount, aclCount, nodeCount) = try writeState(tree, to: stream)
        try seal(stream)
        var digest: UInt64?
        if includeDigest {
            let value = ZooKeeperDigest.treeDigest(tree)
            try stream.writeLong(zxid)
            try stream.writeInt(ZooKeeperDigest.version)
            try stream.writeLong(Int64(bitPattern: value))
            try seal(stream)
            digest = value
        }
        return ZooKeeperSnapshotWriteReport(
            path: stream.path, zxid: zxid, nodeCount: nodeCount, sessionCount: sessionCount,
            aclCount: aclCount, digest: digest, streamBytes: 0, fileBytes: 0)
    }

    /// The snapshot a leader streams after SNAP on the quorum port, of a tree that does not
    /// change meanwhile (`ZooKeeperSnapshotStreamWriter` writes it while the tree changes).
    public static func quorumStream(_ tree: DataTree) -> [UInt8] {
        ZooKeeperSnapshotStreamWriter.stream(of: tree)
    }

    /// Sessions, the ACL cache and the nodes in pre-order, then "/": the state part shared by
    /// snapshot files and the quorum stream. Returns (sessions, ACL lists, nodes).
    static func writeState(_ tree: DataTree, to stream: ZooKeeperOutputStream) throws(ZooKeeperMigrationError) -> (Int, Int, Int) {
        let sessions = tree.sessions.sorted { $0.key < $1.key }
        try stream.writeInt(Int32(sessions.count))
        for (id, timeout) in sessions {
            try stream.writeLong(id)
            try stream.writeInt(timeout)
        }
        let paths = preOrderPaths(tree)
        var aclIds: [[ACL]: Int64] = [:]
        var aclLists: [[ACL]] = []
        for path in paths {
            guard let acl = tree.node(path)?.acl, aclIds[acl] == nil else { continue }
            aclLists.append(acl)
            aclIds[acl] = Int64(aclLists.count)
        }
        try stream.writeInt(Int32(aclLists.count))
        for (index, list) in aclLists.enumerated() {
            try stream.writeLong(Int64(index + 1))
            try stream.writeInt(Int32(list.count))
            for entry in list {
                try stream.writeInt(entry.perms.rawValue)
                try stream.writeString(entry.id.scheme)
                try stream.writeString(entry.id.id)
            }
        }
        for path in paths {
            guard let node = tree.node(path), let aclId = aclIds[node.acl] else { preconditionFailure("node \(path) vanished") }
            try stream.writeString(path == "/" ? "" : path)
            try stream.writeBuffer(node.data)
            try stream.writeLong(aclId)
            try writeStat(node.stat, to: stream)
        }
        try stream.writeString("/")
        return (sessions.count, aclLists.count, paths.count)
    }

    static func writeStat(_ stat: StatPersisted, to stream: ZooKeeperOutputStream) throws(ZooKeeperMigrationError) {
        try stream.writeLong(stat.czxid)
        try stream.writeLong(stat.mzxid)
        try stream.writeLong(stat.ctime)
        try stream.writeLong(stat.mtime)
        try stream.writeInt(stat.version)
        try stream.writeInt(stat.cversion)
        try stream.writeInt(stat.aversion)
        try stream.writeLong(stat.ephemeralOwner)
        try stream.writeLong(stat.pzxid)
    }

    /// `SnapStream.sealStream`: the Adler32 so far, then "/".
    static func seal(_ stream: ZooKeeperOutputStream) throws(ZooKeeperMigrationError) {
        try stream.writeLong(Int64(stream.checksum))
        try stream.writeString("/")
    }

    /// Every path, a parent before its children, children in sorted order.
    static func preOrderPaths(_ tree: DataTree) -> [String] {
        var paths: [String] = []
        paths.reserveCapacity(tree.nodeCount)
        var stack = ["/"]
        while let path = stack.popLast() {
            guard let children = tree.childNames(of: path) else { continue }
            paths.append(path)
            for child in children.sorted(by: >) { stack.append(PathValidation.join(path, child)) }
        }
        return paths
    }
}

/// Writes a ZooKeeper txn log file (`FileTxnLog.append`): the header, then per txn its
/// Adler32, length, bytes and 0x42. `paddock data export-zk` writes a member's log tail with
/// it (`finishDurably`); tests build damaged logs with it. No preallocation: ZooKeeper's
/// reader ends at the end of the file.
public final class ZooKeeperTxnLogWriter {
    public let path: String
    private var bytes: [UInt8] = []

    public init(path: String, version: Int32 = 2, dbid: Int64 = 0) {
        self.path = path
        append(ZooKeeperTxnLogReader.magic)
        append(version)
        append(dbid)
    }

    private func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// Offset the next entry starts at.
    public var offset: Int { bytes.count }

    public func append(_ txn: Txn, digest: ZooKeeperTxnDigest? = nil) {
        appendRaw(ZooKeeperTxnDecoding.encode(txn, digest: digest))
    }

    /// An entry around arbitrary txn bytes; `checksum` overrides the correct Adler32 and
    /// `marker` the end marker (to build damaged logs).
    public func appendRaw(_ txnBytes: [UInt8], checksum: UInt64? = nil, marker: UInt8 = ZooKeeperTxnLogReader.endMarker) {
        append(checksum ?? UInt64(Adler32.checksum(txnBytes)))
        append(Int32(txnBytes.count))
        bytes.append(contentsOf: txnBytes)
        bytes.append(marker)
    }

    /// Raw bytes at the end (zero padding as ZooKeeper's preallocation, or a torn tail).
    public func appendBytes(_ extra: [UInt8]) { bytes.append(contentsOf: extra) }

    /// Writes the file whole or not at all: a temporary name, fsync, rename, directory fsync.
    public func finishDurably() throws(ZooKeeperMigrationError) {
        try ZooKeeperPosix.writeDurably(path, bytes)
    }

    /// Writes the file; `truncatedBy` drops that many bytes off the end first.
    public func finish(truncatedBy: Int = 0) throws(ZooKeeperMigrationError) {
        let fd = try ZooKeeperPosix.openForWriting(path)
        defer { _ = ZooKeeperPosix.closeQuietly(fd) }
        try bytes.withUnsafeBytes { raw in
            Result { () throws(ZooKeeperMigrationError) in
                try ZooKeeperPosix.writeAll(fd, UnsafeRawBufferPointer(rebasing: raw[0..<(raw.count - truncatedBy)]), path: path)
            }
        }.get()
    }
}
