#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ZKBase
import ZKTree

/// Reads one snapshot file as a stream and checks the validity rule of FORMAT.md section 3.
///
/// `init` checks the header and takes the trailer from the end of the file, so every length in
/// the stream is bounded by the trailer's stream length (itself bounded by the file size) before
/// anything is allocated. Then `readSessions()` once, `nextNode()` until it returns nil; the nil
/// comes only after the whole stream matched the trailer, and `trailer` is set then. Until that
/// nil, what was returned is unverified: a loader must discard it when any call throws.
/// Memory: two 256 KiB buffers (compressed input, stream window), plus the largest record.
public final class SnapshotReader {
    public let path: String
    public let header: SnapshotHeader
    /// Set once the stream has been read to its end and matched the trailer.
    public private(set) var trailer: SnapshotTrailer?

    /// The window grows only for a single record larger than this.
    static let windowBytesInitial = 256 * 1024

    private var fd: Int32
    private let declared: SnapshotTrailer
    private let declaredFileCRC: UInt32
    private let trailerPrefix: [UInt8]
    private let source: PrefetchingBodySource
    private var window: UnsafeMutableRawBufferPointer
    private var windowStart = 0
    private var windowEnd = 0
    /// Uncompressed bytes taken from the source / parsed out of the window.
    private var producedBytes: UInt64 = 0
    private var consumedBytes: UInt64 = 0
    private var crc: UInt32 = 0
    private var digest: UInt64 = 0
    private var nodeCount: UInt64 = 0
    private var sessionCount: UInt64 = 0
    private var failure: SnapshotError?

    private enum Phase { case sessions, nodes, done }
    private var phase = Phase.sessions

    public init(path: String) throws(SnapshotError) {
        let opened = try Self.open(path: path)
        self.path = path
        fd = opened.fd
        header = opened.header
        declared = opened.trailer
        declaredFileCRC = opened.fileCRC
        trailerPrefix = opened.trailerPrefix
        source = PrefetchingBodySource(SnapshotBodySource(
            fd: opened.fd, path: path, bodyStart: SnapshotLayout.headerBytes,
            bodyEnd: opened.fileBytes - SnapshotLayout.trailerBytes,
            compressed: opened.header.compression == SnapshotLayout.compressionZlib, headerCRC: opened.headerCRC))
        window = .allocate(byteCount: Self.windowBytesInitial, alignment: 16)
    }

    deinit {
        source.stop()  // its thread reads `fd`
        window.deallocate()
        if fd >= 0 { PosixFile.close(fd) }
    }

    /// The node count the trailer declares, before it is verified: only a capacity hint, capped
    /// so that a damaged trailer cannot make a loader reserve more than the file could hold
    /// (a node takes at least one byte of the file even at zlib's best ratio for it).
    /// The uncompressed stream's declared size, at most 8 times the file's (a damaged trailer
    /// must not make a loader reserve more than that): what the tree's byte arena is sized from.
    public var streamBytesHint: Int {
        let fileBytes = (try? PosixFile.size(fd, path: path)) ?? 0
        return Int(min(declared.streamBytes, UInt64(max(0, fileBytes)) * 8))
    }

    public var nodeCountHint: Int {
        let fileBytes = (try? PosixFile.size(fd, path: path)) ?? 0
        return Int(min(declared.nodeCount, UInt64(max(0, fileBytes))))
    }

    public func readSessions() throws(SnapshotError) -> [(id: Int64, timeoutMs: Int32)] {
        precondition(phase == .sessions, "readSessions must be called once, first")
        return try guarded { () throws(SnapshotError) in
            try need(4, "session count")
            let count = readInt32()
            guard count >= 0 else { throw corrupt("negative session count \(count)") }
            try checkFits(Int(count) * SnapshotLayout.sessionRecordBytes, "session table")
            var sessions: [(id: Int64, timeoutMs: Int32)] = []
            sessions.reserveCapacity(Int(count))
            for _ in 0..<count {
                try need(SnapshotLayout.sessionRecordBytes, "session")
                let id = readInt64()
                sessions.append((id: id, timeoutMs: readInt32()))
            }
            sessionCount = UInt64(count)
            phase = .nodes
            return sessions
        }
    }

    /// The next node in file order, or nil at the terminator once the trailer has been verified.
    /// `digest` is the node's ZooKeeper digest (computed here for the trailer check anyway).
    public func nextNode() throws(SnapshotError) -> (path: String, data: [UInt8]?, acl: [ACL], stat: StatPersisted, digest: UInt64)? {
        precondition(phase != .sessions, "readSessions comes first")
        if phase == .done { return nil }
        return try guarded { () throws(SnapshotError) in
            try need(4, "path length")
            let pathLength = readInt32()
            if pathLength == -1 {
                try finishStream()
                return nil
            }
            let nodePath = try readString(length: pathLength, "path")
            let data = try readBuffer("data")
            let acl = try readACL()
            try need(SnapshotLayout.statBytes, "stat")
            let stat = readStat()
            nodeCount += 1
            let nodeDigest = DataTree.nodeDigest(path: nodePath, data: data, stat: stat)
            digest &+= nodeDigest
            return (nodePath, data, acl, stat, nodeDigest)
        }
    }

    // MARK: - Opening

    private struct Opened {
        var fd: Int32
        var fileBytes: Int
        var header: SnapshotHeader
        var headerCRC: UInt32
        var trailer: SnapshotTrailer
        var trailerPrefix: [UInt8]
        var fileCRC: UInt32
    }

    private static func open(path: String) throws(SnapshotError) -> Opened {
        let fd = try PosixFile.openForReading(path)
        do throws(SnapshotError) {
            let fileBytes = try PosixFile.size(fd, path: path)
            let headerBytes = try readBytes(fd, count: SnapshotLayout.headerBytes, at: 0, path: path)
            guard headerBytes.count >= SnapshotLayout.headerMagic.count else { throw SnapshotError(path: path, kind: .truncated) }
            guard headerBytes.starts(with: SnapshotLayout.headerMagic) else { throw SnapshotError(path: path, kind: .badMagic) }
            guard headerBytes.count == SnapshotLayout.headerBytes,
                fileBytes >= SnapshotLayout.headerBytes + SnapshotLayout.trailerBytes
            else { throw SnapshotError(path: path, kind: .truncated) }
            let header = try checkHeader(headerBytes, path: path)
            let trailerBytes = try readBytes(fd, count: SnapshotLayout.trailerBytes, at: fileBytes - SnapshotLayout.trailerBytes, path: path)
            guard trailerBytes.count == SnapshotLayout.trailerBytes, trailerBytes.starts(with: SnapshotLayout.trailerMagic) else {
                throw SnapshotError(path: path, kind: .truncated)
            }
            let (trailer, fileCRC) = trailerBytes.withUnsafeBytes { SnapshotLayout.decodeTrailer($0) }
            let bodyBytes = fileBytes - SnapshotLayout.headerBytes - SnapshotLayout.trailerBytes
            try checkTrailer(trailer, header: header, bodyBytes: bodyBytes, path: path)
            return Opened(
                fd: fd, fileBytes: fileBytes, header: header, headerCRC: CRC32C.checksum(headerBytes), trailer: trailer,
                trailerPrefix: Array(trailerBytes.prefix(SnapshotLayout.trailerPrefixBytes)), fileCRC: fileCRC)
        } catch {
            PosixFile.close(fd)
            throw error
        }
    }

    /// Up to `count` bytes at `offset`; fewer only at the end of the file.
    private static func readBytes(_ fd: Int32, count: Int, at offset: Int, path: String) throws(SnapshotError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let read = try bytes.withMutableRawBytes { (raw) throws(SnapshotError) in
            try PosixFile.readAll(fd, into: raw, at: offset, path: path)
        }
        return Array(bytes.prefix(read))
    }

    private static func checkHeader(_ bytes: [UInt8], path: String) throws(SnapshotError) -> SnapshotHeader {
        let (header, reserved) = bytes.withUnsafeBytes { SnapshotLayout.decodeHeader($0) }
        func corrupt(_ reason: String) -> SnapshotError { SnapshotError(path: path, kind: .corruptHeader(reason)) }
        guard header.formatVersion == SnapshotLayout.formatVersion else {
            throw SnapshotError(path: path, kind: .unknownVersion(header.formatVersion))
        }
        guard header.compression == SnapshotLayout.compressionNone || header.compression == SnapshotLayout.compressionZlib else {
            throw corrupt("unknown compression \(header.compression)")
        }
        guard reserved == 0 else { throw corrupt("reserved field is \(reserved), not 0") }
        let name = String(path.split(separator: "/", omittingEmptySubsequences: false).last ?? "")
        if let nameZxid = SnapshotFiles.zxid(fromName: name), nameZxid != header.startZxid {
            throw corrupt("start zxid \(ZxidMath.hex(header.startZxid)) differs from the file name's \(ZxidMath.hex(nameZxid))")
        }
        return header
    }

    /// What can be checked before reading the body; the file CRC is checked at the end.
    private static func checkTrailer(_ trailer: SnapshotTrailer, header: SnapshotHeader, bodyBytes: Int, path: String) throws(SnapshotError) {
        func mismatch(_ reason: String) -> SnapshotError { SnapshotError(path: path, kind: .trailerMismatch(reason)) }
        let streamBytesMax = SnapshotLayout.streamBytesMax(bodyBytes: bodyBytes, compression: header.compression)
        guard trailer.streamBytes <= streamBytesMax else {
            throw mismatch("stream length \(trailer.streamBytes) is impossible for a body of \(bodyBytes) bytes")
        }
        guard trailer.endZxid >= header.startZxid else {
            throw mismatch("end zxid \(ZxidMath.hex(trailer.endZxid)) is before the start zxid")
        }
    }

    // MARK: - End of stream

    /// After the terminator: nothing may follow, and everything read must match the trailer.
    private func finishStream() throws(SnapshotError) {
        guard windowStart == windowEnd else { throw corrupt("\(windowEnd - windowStart) bytes after the terminator") }
        windowStart = 0
        windowEnd = 0
        let extra = try source.read(into: window)
        guard extra == 0 else { throw corrupt("bytes after the terminator") }
        func mismatch(_ reason: String) -> SnapshotError { SnapshotError(path: path, kind: .trailerMismatch(reason)) }
        guard producedBytes == declared.streamBytes else {
            throw mismatch("stream is \(producedBytes) bytes, trailer says \(declared.streamBytes)")
        }
        guard crc == declared.crc else {
            throw mismatch("stream CRC is \(BigEndianBytes.hex(crc)), trailer says \(BigEndianBytes.hex(declared.crc))")
        }
        guard sessionCount == declared.sessionCount else {
            throw mismatch("\(sessionCount) sessions read, trailer says \(declared.sessionCount)")
        }
        guard nodeCount == declared.nodeCount else { throw mismatch("\(nodeCount) nodes read, trailer says \(declared.nodeCount)") }
        guard digest == declared.digest else {
            throw mismatch("digest is \(BigEndianBytes.hex(digest)), trailer says \(BigEndianBytes.hex(declared.digest))")
        }
        let fileCRC = CRC32C.checksum(trailerPrefix, seed: source.fileCRC)
        guard fileCRC == declaredFileCRC else {
            throw mismatch("file CRC is \(BigEndianBytes.hex(fileCRC)), trailer says \(BigEndianBytes.hex(declaredFileCRC))")
        }
        trailer = declared
        phase = .done
        source.stop()
        PosixFile.close(fd)
        fd = -1
    }

    // MARK: - Window over the uncompressed stream

    /// Runs `body`; a failure sticks, so a reader never resumes from the middle of a bad record.
    private func guarded<T>(_ body: () throws(SnapshotError) -> T) throws(SnapshotError) -> T {
        if let failure { throw failure }
        do throws(SnapshotError) {
            return try body()
        } catch {
            failure = error
            throw error
        }
    }

    private func corrupt(_ reason: String) -> SnapshotError {
        SnapshotError(path: path, kind: .corruptStream(reason))
    }

    /// A length read from the stream must fit in what the trailer says is left.
    private func checkFits(_ count: Int, _ field: String) throws(SnapshotError) {
        guard count >= 0, UInt64(count) <= declared.streamBytes - consumedBytes else {
            throw corrupt("\(field) of \(count) bytes runs past the stream length in the trailer")
        }
    }

    /// Makes `count` unread bytes contiguous in the window.
    private func need(_ count: Int, _ field: String) throws(SnapshotError) {
        if windowEnd - windowStart >= count { return }
        try checkFits(count, field)
        makeRoom(count)
        while windowEnd - windowStart < count {
            let free = UnsafeMutableRawBufferPointer(rebasing: window[windowEnd...])
            let produced = try source.read(into: free)
            guard produced > 0 else { throw corrupt("stream ends inside a record (\(field))") }
            crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: free[..<produced]), seed: crc)
            producedBytes += UInt64(produced)
            guard producedBytes <= declared.streamBytes else {
                throw corrupt("stream is longer than the \(declared.streamBytes) bytes the trailer gives")
            }
            windowEnd += produced
        }
    }

    private func makeRoom(_ count: Int) {
        guard windowStart + count > window.count else { return }
        let unread = windowEnd - windowStart
        if count <= window.count {
            if unread > 0 {
                UnsafeMutableRawBufferPointer(rebasing: window[..<unread])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: window[windowStart..<windowEnd]))
            }
        } else {
            let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, window.count * 2), alignment: 16)
            larger.copyMemory(from: UnsafeRawBufferPointer(rebasing: window[windowStart..<windowEnd]))
            window.deallocate()
            window = larger
        }
        windowStart = 0
        windowEnd = unread
    }

    private func advance(_ count: Int) {
        precondition(count <= windowEnd - windowStart)
        windowStart += count
        consumedBytes += UInt64(count)
    }

    private func readInt32() -> Int32 {
        let value = BigEndianBytes.read(Int32.self, from: UnsafeRawBufferPointer(window), at: windowStart)
        advance(4)
        return value
    }

    private func readInt64() -> Int64 {
        let value = BigEndianBytes.read(Int64.self, from: UnsafeRawBufferPointer(window), at: windowStart)
        advance(8)
        return value
    }

    private func unreadBytes(_ count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: window[windowStart..<(windowStart + count)])
    }

    private func readString(length: Int32, _ field: String) throws(SnapshotError) -> String {
        guard length >= 0 else { throw corrupt("\(field) has length \(length)") }
        try need(Int(length), field)
        let value = String(decoding: unreadBytes(Int(length)), as: UTF8.self)
        advance(Int(length))
        return value
    }

    private func readBuffer(_ field: String) throws(SnapshotError) -> [UInt8]? {
        try need(4, field)
        let length = readInt32()
        if length == -1 { return nil }
        guard length >= 0 else { throw corrupt("\(field) has length \(length)") }
        try need(Int(length), field)
        let value = [UInt8](unreadBytes(Int(length)))
        advance(Int(length))
        return value
    }

    private func readACL() throws(SnapshotError) -> [ACL] {
        try need(4, "ACL count")
        let count = readInt32()
        guard count >= 0 else { throw corrupt("ACL count \(count)") }
        try checkFits(Int(count) * SnapshotLayout.aclBytesMin, "ACL")
        var acl: [ACL] = []
        acl.reserveCapacity(Int(count))
        for _ in 0..<count {
            try need(8, "ACL entry")
            let perms = Perms(rawValue: readInt32())
            let scheme = try readString(length: readInt32(), "ACL scheme")
            try need(4, "ACL id")
            let id = try readString(length: readInt32(), "ACL id")
            acl.append(ACL(perms: perms, id: Id(scheme: scheme, id: id)))
        }
        return acl
    }

    private func readStat() -> StatPersisted {
        var stat = StatPersisted()
        stat.czxid = readInt64()
        stat.mzxid = readInt64()
        stat.ctime = readInt64()
        stat.mtime = readInt64()
        stat.version = readInt32()
        stat.cversion = readInt32()
        stat.aversion = readInt32()
        stat.ephemeralOwner = readInt64()
        stat.pzxid = readInt64()
        return stat
    }
}
