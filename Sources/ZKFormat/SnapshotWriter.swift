#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ZKBase
import ZKTree

/// Writes one snapshot file (FORMAT.md section 3) as a stream: records are staged in a small
/// buffer, compressed into a fixed 256 KiB output buffer and written to the file each time it
/// fills, so memory stays bounded by the largest single node whatever the size of the tree.
///
/// Order of calls: `writeSessions` once, `writeNode` for each node in pre-order (root first), then
/// `finish` (or `abandon`). The file is `.snapshot.<zxid>.<random>.tmp` until `finish` renames it.
/// An unfinished writer deletes its temp file when it is released.
public final class SnapshotWriter {
    /// Default zlib level: 1. Measured on 100k realistic znodes (`/app/service-N/member-%010d`,
    /// 100-1000 byte JSON-like values, 65.8 MB stream; release build, 2 shared cores at load ~5;
    /// `PADDOCK_SNAPSHOT_BENCHMARK=1 swift test -c release --filter SnapshotBenchmark`):
    ///
    /// | level | ratio | write MB/s | verify MB/s | load MB/s |
    /// |-------|-------|------------|-------------|-----------|
    /// | 0     | 1.00  | 144        | 343         | 39        |
    /// | 1     | 3.37  | 71         | 176         | 34        |
    /// | 6     | 4.60  | 16         | 140         | 34        |
    /// | 9     | 4.92  | 5          | 154         | 31        |
    ///
    /// Level 6 saves a quarter of the file (14.3 vs 19.5 MB) but writes 4.4x slower: zlib then
    /// burns a whole core for ~4 s per 100k nodes while the server keeps serving on 2 cores, and
    /// a slow fuzzy walk widens the window of txns to replay. Loading costs the same (the tree
    /// build dominates it). Disk is cheap next to that CPU time, so 1; 6 stays a config choice.
    public static let defaultLevel: Int32 = 1
    /// Output buffer: compressed bytes are written to the file in chunks of this size.
    public static let outputBufferBytes = 256 * 1024
    /// Uncompressed records are staged up to this size before being compressed.
    static let stagingBytesMax = 64 * 1024

    public let header: SnapshotHeader
    public let temporaryPath: String
    public let finalPath: String
    private let directory: String
    private var fd: Int32
    private let output: OutputBuffer
    private let deflater: Deflater?
    private var staging: [UInt8] = []
    private var streamBytes: UInt64 = 0
    private var crc: UInt32 = 0
    private var digest: UInt64 = 0
    private var nodeCount: UInt64 = 0
    private var sessionCount: UInt64 = 0
    private var failure: SnapshotError?

    /// Negative control of the simulated-disk crash test only: rename without the file's fsync
    /// first (a crash may then leave the final name on a torn file). Never set elsewhere.
    var unsafeSkipsSyncBeforeRename = false

    private enum Phase { case sessions, nodes, finished, abandoned }
    private var phase = Phase.sessions

    /// Creates `<directory>/.snapshot.<16 hex>.tmp` and writes the header. `level` 0 writes an
    /// uncompressed stream (compression 0); 1...9 a zlib stream at that level.
    public init(directory: String, startZxid: Int64, startTimeMs: Int64, level: Int32 = SnapshotWriter.defaultLevel) throws(SnapshotError) {
        precondition((0...9).contains(level), "snapshot compression level must be 0...9")
        let name = SnapshotFiles.name(zxid: startZxid)
        self.directory = directory
        // Unique per writer: a writer abandoned late (a SNAP stream cut off, then sent again at
        // the same zxid) removes its own temporary file, never its successor's.
        temporaryPath = directory + "/." + name + "." + String(UInt64.random(in: 0...UInt64.max), radix: 16) + ".tmp"
        finalPath = directory + "/" + name
        header = SnapshotHeader(
            formatVersion: SnapshotLayout.formatVersion,
            compression: level == 0 ? SnapshotLayout.compressionNone : SnapshotLayout.compressionZlib,
            level: UInt32(level), startZxid: startZxid, startTimeMs: startTimeMs)
        fd = try PosixFile.openForWriting(temporaryPath)
        output = OutputBuffer(fd: fd, path: temporaryPath, capacityBytes: Self.outputBufferBytes)
        deflater = level == 0 ? nil : Deflater(level: level)
        staging.reserveCapacity(Self.stagingBytesMax + 1024)
        do throws(SnapshotError) {
            try output.append(SnapshotLayout.encodeHeader(header))
        } catch {
            abandon()
            throw error
        }
    }

    deinit {
        if phase != .finished && phase != .abandoned { abandon() }
    }

    /// The session table; must come first, exactly once.
    public func writeSessions(_ sessions: [(id: Int64, timeoutMs: Int32)]) throws(SnapshotError) {
        precondition(phase == .sessions, "writeSessions must be called once, before any node")
        try checkNotFailed()
        precondition(sessions.count <= Int(Int32.max), "too many sessions")
        BigEndianBytes.append(Int32(sessions.count), to: &staging)
        for session in sessions {
            BigEndianBytes.append(session.id, to: &staging)
            BigEndianBytes.append(session.timeoutMs, to: &staging)
            try flushStagingIfFull()
        }
        sessionCount = UInt64(sessions.count)
        phase = .nodes
    }

    /// One node record. The caller walks in pre-order: a parent before its children.
    public func writeNode(path: String, node: DataNode) throws(SnapshotError) {
        precondition(phase == .nodes, "writeNode needs writeSessions first and no finish")
        precondition(!path.isEmpty, "a node path is never empty")
        try checkNotFailed()
        appendString(path)
        if let data = node.data {
            precondition(data.count <= Int(Int32.max), "node data too large")
            BigEndianBytes.append(Int32(data.count), to: &staging)
            if data.count <= Self.stagingBytesMax {
                staging.append(contentsOf: data)
            } else {
                // Big data goes straight to the compressor instead of through the staging buffer.
                try flushStaging()
                try data.withRawBytes { (raw) throws(SnapshotError) in try feed(raw) }
            }
        } else {
            BigEndianBytes.append(Int32(-1), to: &staging)
        }
        BigEndianBytes.append(Int32(node.acl.count), to: &staging)
        for entry in node.acl {
            BigEndianBytes.append(entry.perms.rawValue, to: &staging)
            appendString(entry.id.scheme)
            appendString(entry.id.id)
        }
        appendStat(node.stat)
        nodeCount += 1
        // Computed, not taken from node.cachedDigest: callers (tools, tests) build nodes themselves,
        // and this runs on the snapshot thread, off the event loop.
        digest &+= DataTree.nodeDigest(path: path, node: node)
        try flushStagingIfFull()
    }

    /// Ends the stream, writes the trailer, fsyncs, renames to `snapshot.<zxid>` and fsyncs the
    /// directory. `endZxid` is the last zxid applied when the walk finished.
    public func finish(endZxid: Int64) throws(SnapshotError) -> (path: String, trailer: SnapshotTrailer) {
        precondition(phase == .nodes, "finish needs writeSessions first, and only once")
        precondition(endZxid >= header.startZxid, "a snapshot cannot end before it starts")
        try checkNotFailed()
        do throws(SnapshotError) {
            BigEndianBytes.append(Int32(-1), to: &staging)
            try flushStaging()
            if let deflater { try deflater.compress(UnsafeRawBufferPointer(start: nil, count: 0), finish: true, into: output) }
            let trailer = SnapshotTrailer(
                nodeCount: nodeCount, sessionCount: sessionCount, streamBytes: streamBytes,
                endZxid: endZxid, digest: digest, crc: crc)
            try output.append(SnapshotLayout.encodeTrailerPrefix(trailer))
            try output.drain()
            var fileCRC: [UInt8] = []
            BigEndianBytes.append(output.drainedCRC, to: &fileCRC)
            try output.append(fileCRC)
            try output.drain()
            if !unsafeSkipsSyncBeforeRename { try PosixFile.sync(fd, path: temporaryPath) }
            PosixFile.close(fd)
            fd = -1
            try PosixFile.move(temporaryPath, finalPath)
            phase = .finished
            try PosixFile.syncDirectory(directory, reportingAs: finalPath)
            return (finalPath, trailer)
        } catch {
            failure = error
            throw error
        }
    }

    /// Stops writing and deletes the temp file. Safe to call at any time, more than once.
    public func abandon() {
        guard phase != .finished && phase != .abandoned else { return }
        if fd >= 0 { PosixFile.close(fd) }
        fd = -1
        try? PosixFile.remove(temporaryPath)
        phase = .abandoned
    }

    // MARK: - Stream

    private func checkNotFailed() throws(SnapshotError) {
        if let failure { throw failure }
    }

    private func appendString(_ value: String) {
        // UTF-8 bytes, as FORMAT.md section 3 says (jute's bytes for every BMP character).
        let count = value.utf8.count
        precondition(count <= Int(Int32.max), "string too long")
        BigEndianBytes.append(Int32(count), to: &staging)
        if value.utf8.withContiguousStorageIfAvailable({ staging.append(contentsOf: $0) }) == nil {
            staging.append(contentsOf: value.utf8)
        }
    }

    private func appendStat(_ stat: StatPersisted) {
        BigEndianBytes.append(stat.czxid, to: &staging)
        BigEndianBytes.append(stat.mzxid, to: &staging)
        BigEndianBytes.append(stat.ctime, to: &staging)
        BigEndianBytes.append(stat.mtime, to: &staging)
        BigEndianBytes.append(stat.version, to: &staging)
        BigEndianBytes.append(stat.cversion, to: &staging)
        BigEndianBytes.append(stat.aversion, to: &staging)
        BigEndianBytes.append(stat.ephemeralOwner, to: &staging)
        BigEndianBytes.append(stat.pzxid, to: &staging)
    }

    private func flushStagingIfFull() throws(SnapshotError) {
        if staging.count >= Self.stagingBytesMax { try flushStaging() }
    }

    private func flushStaging() throws(SnapshotError) {
        guard !staging.isEmpty else { return }
        try staging.withRawBytes { (raw) throws(SnapshotError) in try feed(raw) }
        staging.removeAll(keepingCapacity: true)
    }

    /// Uncompressed stream bytes: counted, CRC'd, then compressed (or copied) to the output.
    private func feed(_ bytes: UnsafeRawBufferPointer) throws(SnapshotError) {
        crc = CRC32C.checksum(bytes, seed: crc)
        streamBytes += UInt64(bytes.count)
        do throws(SnapshotError) {
            if let deflater {
                try deflater.compress(bytes, finish: false, into: output)
            } else {
                try output.append(bytes)
            }
        } catch {
            failure = error
            throw error
        }
    }
}
