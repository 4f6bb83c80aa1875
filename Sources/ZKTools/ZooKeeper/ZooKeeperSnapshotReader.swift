import NIOCore
import ZKBase
import ZKTree
import ZKWire

/// The `ZxidDigest` a 3.6+ snapshot carries after its first seal: the tree digest ZooKeeper
/// held at `zxid` (version 2 = `DigestCalculator`'s CRC32 sum, FORMAT.md section 4).
public struct ZooKeeperSnapshotDigest: Sendable, Equatable {
    public var zxid: Int64
    public var version: Int32
    public var value: UInt64

    public init(zxid: Int64, version: Int32, value: UInt64) {
        self.zxid = zxid
        self.version = version
        self.value = value
    }
}

/// One Apache ZooKeeper snapshot, loaded into a Paddock tree.
public struct ZooKeeperSnapshot: Sendable {
    public var file: ZooKeeperFiles.SnapshotFile
    /// Nodes and sessions as read; `lastProcessedZxid` is the zxid in the file name.
    public var tree: DataTree
    public var formatVersion: Int32
    public var dbid: Int64
    public var sessionCount: Int
    public var nodeCount: Int
    public var aclCount: Int
    public var digest: ZooKeeperSnapshotDigest?
    /// ZooKeeper 3.9+ (`serializeLastProcessedZxid.enabled`).
    public var lastProcessedZxid: Int64?
    /// Uncompressed stream length in bytes.
    public var streamBytes: Int64
}

/// Reads a ZooKeeper snapshot (`FileSnap.deserialize`, `SerializeUtils.deserializeSnapshot`,
/// `DataTree.deserialize`, `ReferenceCountedACLCache.deserialize`, `SnapStream`). All integers
/// big-endian jute; the stream is plain, gzip or snappy-java by the file name's suffix:
///
/// | part | layout |
/// |---|---|
/// | FileHeader | int magic "ZKSN" (0x5A4B534E), int version (2), long dbid (-1) |
/// | sessions | int count, then (long id, int timeout ms) per session |
/// | ACL cache | int count, then (long id, vector<ACL>) per entry; ACL = int perms, string scheme, string id |
/// | nodes | (string path, buffer data, long acl id, StatPersisted) in pre-order; the root's path is "" |
/// | end | string "/" |
/// | seal | long Adler32 of every byte before it, string "/" |
/// | digest (3.6+) | long zxid, int version, long digest (version < 2: hex string); then a seal |
/// | 3.9+ | long lastProcessedZxid; then a seal |
///
/// StatPersisted is 60 bytes: czxid, mzxid, ctime, mtime (long), version, cversion, aversion
/// (int), ephemeralOwner, pzxid (long). ACL id -1 stands for OPEN_ACL_UNSAFE without an entry.
/// Stricter than ZooKeeper where ZooKeeper would load a tree it cannot serve: an ACL id missing
/// from the cache (ZOOKEEPER-4846), a duplicate path or a node before its parent is corruption,
/// so the import falls back to an older snapshot.
public enum ZooKeeperSnapshotReader {
    public static let magic: Int32 = 0x5A4B_534E  // "ZKSN"
    public static let openUnsafeACLId: Int64 = -1
    /// The digest and 3.9 parts after the first seal are small; more than this is not a trailer.
    static let trailerBytesMax = 4096
    static let sessionTimeoutFieldBytes = 12

    public static func read(path: String) throws(ZooKeeperMigrationError) -> ZooKeeperSnapshot {
        let name = String(path.split(separator: "/").last ?? "")
        let parsed = ZooKeeperFiles.parseSnapshotName(name)
        let file = ZooKeeperFiles.SnapshotFile(path: path, zxid: parsed?.zxid ?? 0, compression: parsed?.compression ?? .none)
        return try read(file)
    }

    public static func read(_ file: ZooKeeperFiles.SnapshotFile) throws(ZooKeeperMigrationError) -> ZooKeeperSnapshot {
        let source: any ZooKeeperByteSource
        switch file.compression {
        case .none: source = try ZooKeeperFileSource(path: file.path)
        case .gzip: source = try ZooKeeperGzipSource(path: file.path)
        case .snappy: source = try ZooKeeperSnappySource(path: file.path)
        }
        let stream = ZooKeeperInputStream(source: source, path: file.path, checksum: true)
        defer { stream.close() }
        do {
            return try read(stream, file: file)
        } catch {
            throw describe(error, file: file)
        }
    }

    static func describe(_ failure: ZooKeeperInputStream.Failure, file: ZooKeeperFiles.SnapshotFile) -> ZooKeeperMigrationError {
        let suffix = file.compression == .none ? "" : " (of the uncompressed stream)"
        switch failure {
        case .endOfStream(let offset):
            return ZooKeeperMigrationError(.corrupt, "\(file.path): snapshot ends early at offset \(offset)\(suffix)")
        case .invalid(let offset, let what):
            return ZooKeeperMigrationError(.corrupt, "\(file.path): \(what) at offset \(offset)\(suffix)")
        case .source(let error):
            return error
        }
    }

    private static func read(_ stream: ZooKeeperInputStream, file: ZooKeeperFiles.SnapshotFile) throws(ZooKeeperInputStream.Failure) -> ZooKeeperSnapshot {
        let magic = try stream.readInt()
        guard magic == Self.magic else {
            throw .invalid(offset: 0, "not a ZooKeeper snapshot: magic 0x\(String(UInt32(bitPattern: magic), radix: 16)), expected 0x5a4b534e (ZKSN)")
        }
        let version = try stream.readInt()
        let dbid = try stream.readLong()
        var tree = DataTree.emptyForLoading()
        let sessionCount = try readSessions(stream, into: &tree)
        let acls = try readACLCache(stream)
        let nodeCount = try readNodes(stream, acls: acls, into: &tree)
        try checkSeal(stream, part: "snapshot")
        let trailer = try readTrailer(stream)
        tree.finishLoading(lastProcessedZxid: file.zxid)
        return ZooKeeperSnapshot(
            file: file, tree: tree, formatVersion: version, dbid: dbid, sessionCount: sessionCount,
            nodeCount: nodeCount, aclCount: acls.count, digest: trailer.digest,
            lastProcessedZxid: trailer.lastProcessedZxid, streamBytes: stream.offset)
    }

    /// The tree in a SNAP sync's snapshot stream (`ZooKeeperSnapshotWriter.quorumStream`'s
    /// layout, signature included and nothing after it), at `zxid`: the whole stream given to
    /// `ZooKeeperSnapshotStreamLoader` at once. A stream that breaks a rule is refused whole.
    public static func readQuorumStream(_ bytes: [UInt8], zxid: Int64) throws(ZooKeeperMigrationError) -> DataTree {
        var loader = ZooKeeperSnapshotStreamLoader(zxid: zxid)
        var buffer = ByteBufferAllocator().buffer(bytes: bytes)
        guard try loader.consume(&buffer) else {
            throw ZooKeeperSnapshotStreamLoader.corrupt("snapshot ends early", at: loader.streamBytes)
        }
        guard buffer.readableBytes == 0 else {
            throw ZooKeeperSnapshotStreamLoader.corrupt("bytes after the signature", at: loader.streamBytes)
        }
        return loader.takeTree()
    }

    private static func readSessions(_ stream: ZooKeeperInputStream, into tree: inout DataTree) throws(ZooKeeperInputStream.Failure) -> Int {
        let countOffset = stream.offset
        let count = try stream.readInt()
        guard count >= 0 else { throw .invalid(offset: countOffset, "session count \(count)") }
        for _ in 0..<count {
            let id = try stream.readLong()
            let timeout = try stream.readInt()
            tree.loadSession(id: id, timeoutMs: timeout)
        }
        return Int(count)
    }

    private static func readACLCache(_ stream: ZooKeeperInputStream) throws(ZooKeeperInputStream.Failure) -> [Int64: [ACL]] {
        let countOffset = stream.offset
        let count = try stream.readInt()
        guard count >= 0 else { throw .invalid(offset: countOffset, "ACL cache size \(count)") }
        var acls: [Int64: [ACL]] = [:]
        for _ in 0..<count {
            let id = try stream.readLong()
            let vectorOffset = stream.offset
            let entries = try stream.readInt()
            // ReferenceCountedACLCache: "Incorrent format of InputArchive ... missing acls".
            guard entries >= 0 else { throw .invalid(offset: vectorOffset, "ACL list of id \(id) has \(entries) entries") }
            var list: [ACL] = []
            for _ in 0..<entries {
                let perms = try stream.readInt()
                let scheme = try stream.readString("Id.scheme") ?? ""
                let identity = try stream.readString("Id.id") ?? ""
                list.append(ACL(perms: Perms(rawValue: perms), id: Id(scheme: scheme, id: identity)))
            }
            acls[id] = list
        }
        return acls
    }

    private static func readNodes(
        _ stream: ZooKeeperInputStream, acls: [Int64: [ACL]], into tree: inout DataTree
    ) throws(ZooKeeperInputStream.Failure) -> Int {
        var count = 0
        while true {
            let pathOffset = stream.offset
            guard let zookeeperPath = try stream.readString("path") else {
                throw .invalid(offset: pathOffset, "null node path")
            }
            if zookeeperPath == "/" { return count }
            let data = try stream.readBuffer("DataNode.data")
            let aclOffset = stream.offset
            let aclId = try stream.readLong()
            let stat = try readStat(stream)
            let path = zookeeperPath.isEmpty ? "/" : zookeeperPath
            if let problem = pathProblem(path, first: tree.nodeCount == 0) {
                throw .invalid(offset: pathOffset, problem)
            }
            let acl: [ACL]
            if aclId == openUnsafeACLId {
                acl = ACL.openUnsafe
            } else if let found = acls[aclId] {
                acl = found
            } else {
                throw .invalid(offset: aclOffset, "node \(path) refers to ACL id \(aclId), which the snapshot's ACL cache lacks (ZOOKEEPER-4846)")
            }
            if let problem = tree.loadNode(path: path, data: data, acl: acl, stat: stat) {
                throw .invalid(offset: pathOffset, describe(problem, path: path))
            }
            count += 1
        }
    }

    static func readStat(_ stream: ZooKeeperInputStream) throws(ZooKeeperInputStream.Failure) -> StatPersisted {
        var stat = StatPersisted()
        stat.czxid = try stream.readLong()
        stat.mzxid = try stream.readLong()
        stat.ctime = try stream.readLong()
        stat.mtime = try stream.readLong()
        stat.version = try stream.readInt()
        stat.cversion = try stream.readInt()
        stat.aversion = try stream.readInt()
        stat.ephemeralOwner = try stream.readLong()
        stat.pzxid = try stream.readLong()
        return stat
    }

    /// The root (path "") first; then every path absolute (new and under a node already read:
    /// `DataTree.loadNode` checks those as it adds the node).
    static func pathProblem(_ path: String, first: Bool) -> String? {
        if first { return path == "/" ? nil : "first node is \(path), not the root" }
        guard path.hasPrefix("/"), path != "/", !path.hasSuffix("/"), !path.contains("//") else {
            return path == "/" ? "the root appears twice" : "node path \"\(path)\" is not a valid absolute path"
        }
        return nil
    }

    static func describe(_ problem: DataTree.LoadProblem, path: String) -> String {
        switch problem {
        case .duplicate: return path == "/" ? "the root appears twice" : "node \(path) appears twice"
        case .parentMissing(let parent): return "node \(path) comes before its parent \(parent) (Invalid Datatree)"
        }
    }

    /// `SnapStream.checkSealIntegrity`: the Adler32 of everything before, then the string "/".
    private static func checkSeal(_ stream: ZooKeeperInputStream, part: String) throws(ZooKeeperInputStream.Failure) {
        let expected = UInt64(stream.checksum)
        let sealOffset = stream.offset
        let stored = try stream.readLong()
        _ = try stream.readString("path")
        guard UInt64(bitPattern: stored) == expected else {
            throw .invalid(offset: sealOffset, "\(part) seal holds Adler32 0x\(String(UInt64(bitPattern: stored), radix: 16)), the stream gives 0x\(String(expected, radix: 16)) (CRC corruption)")
        }
    }

    struct Trailer {
        var digest: ZooKeeperSnapshotDigest?
        var lastProcessedZxid: Int64?
    }

    /// What follows the first seal. ZooKeeper tries to read a digest and, in 3.9, a
    /// lastProcessedZxid, each followed by its own seal, and takes an end of stream as "absent".
    /// A 3.9 snapshot written with digests off holds only the 21-byte zxid part, which is told
    /// apart by its length (reading it as a digest, as ZooKeeper 3.8 would, gives garbage).
    private static func readTrailer(_ stream: ZooKeeperInputStream) throws(ZooKeeperInputStream.Failure) -> Trailer {
        var adler = stream.checksum
        let base = stream.offset
        guard let bytes = try stream.readRemainder(limit: trailerBytesMax) else {
            throw .invalid(offset: base, "more than \(trailerBytesMax) bytes follow the snapshot seal")
        }
        var trailer = Trailer()
        var reader = TrailerReader(bytes: bytes)
        let zxidPartBytes = 8 + 13
        if bytes.count != zxidPartBytes, let digest = reader.digest() {
            try reader.seal(&adler, base: base, part: "digest")
            trailer.digest = digest
        }
        if bytes.count - reader.position == zxidPartBytes, let zxid = reader.long() {
            try reader.seal(&adler, base: base, part: "lastProcessedZxid")
            trailer.lastProcessedZxid = zxid
        }
        return trailer
    }

    /// Cursor over the few trailer bytes; nil from a read means "ends here" (absent).
    struct TrailerReader {
        let bytes: [UInt8]
        var position = 0
        /// Bytes already folded into the running Adler32.
        var checked = 0

        mutating func long() -> Int64? {
            guard bytes.count - position >= 8 else { return nil }
            defer { position += 8 }
            return Int64(bitPattern: bytes[position..<position + 8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        }

        mutating func int() -> Int32? {
            guard bytes.count - position >= 4 else { return nil }
            defer { position += 4 }
            return Int32(bitPattern: bytes[position..<position + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        }

        mutating func digest() -> ZooKeeperSnapshotDigest? {
            let start = position
            guard let zxid = long(), let version = int() else {
                position = start
                return nil
            }
            if version >= 2 {
                guard let value = long() else {
                    position = start
                    return nil
                }
                return ZooKeeperSnapshotDigest(zxid: zxid, version: version, value: UInt64(bitPattern: value))
            }
            // Version 1 wrote the digest as a hex string.
            guard let length = int(), length >= 0, bytes.count - position >= Int(length) else {
                position = start
                return nil
            }
            let text = String(decoding: bytes[position..<position + Int(length)], as: UTF8.self)
            position += Int(length)
            return ZooKeeperSnapshotDigest(zxid: zxid, version: version, value: UInt64(bitPattern: Int64(text, radix: 16) ?? 0))
        }

        mutating func seal(_ adler: inout UInt32, base: Int64, part: String) throws(ZooKeeperInputStream.Failure) {
            adler = bytes.withUnsafeBytes { Adler32.update(adler, UnsafeRawBufferPointer(rebasing: $0[checked..<position])) }
            let sealOffset = base + Int64(position)
            guard let stored = long() else { throw .endOfStream(offset: sealOffset) }
            guard let length = int(), length == 1, position < bytes.count else { throw .endOfStream(offset: base + Int64(position)) }
            position += 1
            guard UInt64(bitPattern: stored) == UInt64(adler) else {
                throw .invalid(offset: sealOffset, "\(part) seal holds Adler32 0x\(String(UInt64(bitPattern: stored), radix: 16)), the stream gives 0x\(String(adler, radix: 16)) (CRC corruption)")
            }
            adler = bytes.withUnsafeBytes { Adler32.update(adler, UnsafeRawBufferPointer(rebasing: $0[(position - 13)..<position])) }
            checked = position
        }
    }
}
