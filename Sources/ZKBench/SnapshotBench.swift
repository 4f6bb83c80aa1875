#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import ZKBase
import ZKFormat
import ZKTree

/// `paddock bench snapshot`: snapshot write and load throughput of a realistic tree, next to the
/// limits measured in the same run on the same bytes: zlib's own deflate (one stream, same level)
/// and inflate, and a raw write + fsync of a file of the snapshot's size.
///
/// The tree: `/app/service-S/member-%010d` (half), `/locks/svc-S/lock-%010d` (ephemeral, a
/// quarter), `/config/service-S/<word>-N` (a quarter), at most `fanout` children per service,
/// values of JSON-ish text from a small vocabulary with random IPs, ports, session ids and
/// timestamps (the storage-limits zlib_bench data), sizes uniform in `valueBytes`, all from a
/// seeded xorshift64*. The snapshot is written as the server does it (FuzzySnapshotWalk slices
/// of 2000 nodes, SnapshotWriter.writeNode, finish = fsync + rename + directory fsync) and
/// loaded with SnapshotFiles.load (from the page cache: it was just written).
///
/// "Same bytes": the uncompressed stream is taken from a level-0 snapshot of the same tree (the
/// stream does not depend on the level), so zlib sees exactly what SnapshotWriter compressed.
public enum SnapshotBench {
    /// ServerNode.snapshotSliceNodes: nodes per walk slice.
    static let sliceNodes = 2000
    /// SnapshotWriter.outputBufferBytes: the size of each write(2) of the snapshot file.
    static let writeChunkBytes = 256 * 1024
    /// FORMAT.md section 3: header and trailer sizes of a snapshot file.
    static let headerBytes = 40
    static let trailerBytes = 56

    public struct Options: Sendable {
        public var znodeCounts: [Int]
        public var valueBytes: ClosedRange<Int>
        public var level: Int32
        public var directory: String?
        public var fanout: Int
        public var seed: UInt64

        public init(
            znodeCounts: [Int] = [100_000, 1_000_000], valueBytes: ClosedRange<Int> = 100...1000,
            level: Int32 = SnapshotWriter.defaultLevel, directory: String? = nil, fanout: Int = 100, seed: UInt64 = 12345
        ) {
            self.znodeCounts = znodeCounts
            self.valueBytes = valueBytes
            self.level = level
            self.directory = directory
            self.fanout = fanout
            self.seed = seed
        }
    }

    public struct Point: Sendable {
        public var znodes: Int
        public var sessions: Int
        public var averageValueBytes: Double
        public var buildSeconds: Double
        public var streamBytes: Int
        public var fileBytes: Int
        public var writeSeconds: Double
        public var walkSeconds: Double
        /// The same tree written at level 0 (walk + encode + CRC + write + fsync, no deflate).
        public var uncompressedWriteSeconds: Double
        public var loadSeconds: Double
        public var deflateSeconds: Double
        public var deflateBytes: Int
        public var inflateSeconds: Double
        public var rawWriteSeconds: Double

        public var ratio: Double { Double(streamBytes) / Double(fileBytes) }
        public var writeMegabytesPerSecond: Double { Double(streamBytes) / writeSeconds / 1e6 }
        public var writeZnodesPerSecond: Double { Double(znodes) / writeSeconds }
        /// The snapshot thread's share: in the server the walk runs on the node loop, in parallel.
        public var writeWithoutWalkMegabytesPerSecond: Double { Double(streamBytes) / (writeSeconds - walkSeconds) / 1e6 }
        public var uncompressedWriteMegabytesPerSecond: Double { Double(streamBytes) / uncompressedWriteSeconds / 1e6 }
        public var loadMegabytesPerSecond: Double { Double(streamBytes) / loadSeconds / 1e6 }
        public var loadZnodesPerSecond: Double { Double(znodes) / loadSeconds }
        public var deflateMegabytesPerSecond: Double { Double(streamBytes) / deflateSeconds / 1e6 }
        public var deflateRatio: Double { Double(streamBytes) / Double(deflateBytes) }
        public var inflateMegabytesPerSecond: Double { Double(streamBytes) / inflateSeconds / 1e6 }
        /// File bytes per second of a plain write of the snapshot's size plus fsync.
        public var rawWriteMegabytesPerSecond: Double { Double(fileBytes) / rawWriteSeconds / 1e6 }
        /// The physical limit of a snapshot write: deflate then write + fsync, one thread, in
        /// uncompressed stream bytes per second.
        public var writeLimitMegabytesPerSecond: Double { Double(streamBytes) / (deflateSeconds + rawWriteSeconds) / 1e6 }
        public var writeVersusDeflate: Double { writeMegabytesPerSecond / deflateMegabytesPerSecond }
        public var writeVersusLimit: Double { writeMegabytesPerSecond / writeLimitMegabytesPerSecond }
        public var loadVersusInflate: Double { loadMegabytesPerSecond / inflateMegabytesPerSecond }
    }

    public struct Report: Sendable {
        public var directory: String
        public var level: Int32
        public var valueBytes: ClosedRange<Int>
        public var fanout: Int
        public var seed: UInt64
        public var loadBefore: [Double]
        public var loadAfter: [Double]
        public var points: [Point]
    }

    public static func run(_ options: Options, progress: BenchProgress = { _ in }) throws -> Report {
        guard (0...9).contains(options.level) else { throw BenchError("--level must be 0...9") }
        guard !options.znodeCounts.isEmpty, options.znodeCounts.allSatisfy({ $0 >= 10 }) else {
            throw BenchError("--znodes needs counts of at least 10")
        }
        guard options.valueBytes.lowerBound >= 0 else { throw BenchError("--value-bytes must not be negative") }
        guard options.fanout >= 2 else { throw BenchError("--fanout must be at least 2") }
        let scratch = try ScratchDirectory(base: options.directory)
        defer { scratch.remove() }
        let loadBefore = loadAverages()
        var points: [Point] = []
        for (index, znodes) in options.znodeCounts.enumerated() {
            let directory = try scratch.subdirectory("s\(index)")
            points.append(try measure(znodes: znodes, directory: directory, options: options, progress: progress))
            removeTree(directory)
        }
        return Report(
            directory: scratch.path, level: options.level, valueBytes: options.valueBytes, fanout: options.fanout,
            seed: options.seed, loadBefore: loadBefore, loadAfter: loadAverages(), points: points)
    }

    static func measure(znodes: Int, directory: String, options: Options, progress: BenchProgress) throws -> Point {
        progress("building a tree of \(znodes) znodes")
        var started = monotonicNanoseconds()
        var built = buildTree(znodes: znodes, options: options)
        let buildSeconds = seconds(since: started)
        let zxid = built.tree.lastProcessedZxid
        let sessionCount = built.tree.sessions.count

        progress("writing it at level \(options.level)")
        let written = try writeSnapshot(tree: built.tree, directory: directory, zxid: zxid, level: options.level)
        var uncompressed = written
        if options.level != 0 {
            progress("writing it at level 0 (the uncompressed stream, for zlib)")
            uncompressed = try writeSnapshot(tree: built.tree, directory: directory + "/plain", zxid: zxid, level: 0, makeDirectory: true)
        }
        built.tree = DataTree()  // frees the big tree before the load builds another

        progress("zlib deflate (level \(options.level)) and inflate of the same \(written.trailer.streamBytes) bytes")
        let file = try readWholeFile(uncompressed.path)
        let limits = try file.withUnsafeBytes { raw throws -> ZlibLimits in
            let stream = UnsafeRawBufferPointer(rebasing: raw[headerBytes..<(raw.count - trailerBytes)])
            guard stream.count == Int(written.trailer.streamBytes) else {
                throw BenchError("level-0 stream is \(stream.count) bytes, the trailer says \(written.trailer.streamBytes)")
            }
            return try zlibLimits(stream: stream, level: options.level)
        }
        if options.level != 0 { removeTree(directory + "/plain") }

        let fileBytes = fileSize(written.path)
        progress("raw write + fsync of \(fileBytes) bytes")
        let rawWriteSeconds = try rawWriteAndSync(path: directory + "/raw.bin", bytes: fileBytes, content: limits.compressed)

        progress("loading the snapshot")
        started = monotonicNanoseconds()
        let loaded = try SnapshotFiles.load(path: written.path)
        let loadSeconds = seconds(since: started)
        guard loaded.tree.nodeCount == Int(written.trailer.nodeCount) else {
            throw BenchError("loaded \(loaded.tree.nodeCount) znodes, wrote \(written.trailer.nodeCount)")
        }
        unlink(written.path)

        return Point(
            znodes: Int(written.trailer.nodeCount), sessions: sessionCount,
            averageValueBytes: Double(built.valueBytes) / Double(max(1, built.values)), buildSeconds: buildSeconds,
            streamBytes: Int(written.trailer.streamBytes), fileBytes: fileBytes, writeSeconds: written.seconds,
            walkSeconds: written.walkSeconds, uncompressedWriteSeconds: uncompressed.seconds, loadSeconds: loadSeconds,
            deflateSeconds: limits.deflateSeconds, deflateBytes: limits.compressed.count,
            inflateSeconds: limits.inflateSeconds, rawWriteSeconds: rawWriteSeconds)
    }

    // MARK: - The tree

    static let words: [[UInt8]] = [
        "alpha", "beta", "gamma", "delta", "leader", "follower", "observer", "ready", "pending", "committed",
        "zone-a", "zone-b", "zone-c", "primary", "replica", "blue", "green", "canary", "stable", "config",
        "member", "service", "lock", "queue", "election", "ephemeral", "sequential", "watch", "session",
        "timeout", "retry", "backoff", "healthy", "degraded", "draining", "version", "region", "eu-west-1", "us-east-2",
    ].map { Array($0.utf8) }
    static let keys: [[UInt8]] = [
        "host", "port", "state", "epoch", "owner", "ts", "tags", "weight", "desc", "version", "region", "role",
        "lastSeen", "dataVersion", "acl", "uri", "pid", "build",
    ].map { Array($0.utf8) }

    struct BuiltTree {
        var tree: DataTree
        var values: Int
        var valueBytes: Int
    }

    static func buildTree(znodes: Int, options: Options) -> BuiltTree {
        var random = XorShift64Star(seed: options.seed)
        var tree = DataTree()
        var ignored: [WatchNotification] = []
        let sessions = max(1, znodes / 1000)
        for index in 0..<sessions { tree.loadSession(id: 0x1_0000_0000 + Int64(index), timeoutMs: 30_000) }
        var zxid: Int64 = 0
        var values = 0
        var valueBytes = 0
        let span = options.valueBytes.upperBound - options.valueBytes.lowerBound + 1
        func create(_ path: String, owner: Int64) {
            zxid += 1
            let value = makeValue(target: options.valueBytes.lowerBound + random.below(span), random: &random)
            values += 1
            valueBytes += value.count
            tree.createNode(
                path, data: value, acl: ACL.openUnsafe, ephemeralOwner: owner, parentCVersion: -1,
                zxid: ZxidMath.make(epoch: 1, counter: zxid), time: 1_732_550_000_000 + zxid, notifications: &ignored)
        }
        let families: [(root: String, parent: String)] = [("/locks", "svc-"), ("/config", "service-"), ("/app", "service-")]
        var counts = [0, 0, 0]
        var member: UInt64 = 1000
        while tree.nodeCount < znodes {
            let choice = random.below(4)
            let family = min(choice, 2)
            let (root, parentPrefix) = families[family]
            if counts[family] == 0 { create(root, owner: 0) }
            let parent = root + "/" + parentPrefix + String(counts[family] / options.fanout)
            if counts[family] % options.fanout == 0 { create(parent, owner: 0) }
            counts[family] += 1
            member += 1
            switch family {
            case 0:
                let owner = 0x1_0000_0000 + Int64(random.below(sessions))
                create(parent + "/lock-" + zeroPadded(member, 10), owner: owner)
            case 1:
                let word = String(decoding: words[random.below(words.count)], as: UTF8.self)
                create(parent + "/" + word + "-" + String(member), owner: 0)
            default:
                create(parent + "/member-" + zeroPadded(member, 10), owner: 0)
            }
        }
        tree.finishLoading(lastProcessedZxid: ZxidMath.make(epoch: 1, counter: zxid))
        return BuiltTree(tree: tree, values: values, valueBytes: valueBytes)
    }

    static func zeroPadded(_ value: UInt64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// A JSON-ish object of about `target` bytes (zlib_bench's gen_value).
    static func makeValue(target: Int, random: inout XorShift64Star) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(target + 80)
        func decimal(_ value: UInt64) { out.append(contentsOf: String(value).utf8) }
        func word() { out.append(contentsOf: words[random.below(words.count)]) }
        out.append(UInt8(ascii: "{"))
        while out.count < target - 40 {
            if out.count > 1 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: keys[random.below(keys.count)])
            out.append(contentsOf: "\":".utf8)
            switch random.below(6) {
            case 0:
                out.append(contentsOf: "\"10.".utf8)
                decimal(random.next() % 8)
                out.append(UInt8(ascii: "."))
                decimal(random.next() % 256)
                out.append(UInt8(ascii: "."))
                decimal(random.next() % 256)
                out.append(UInt8(ascii: "\""))
            case 1:
                decimal(random.next() % 65536)
            case 2:
                let hex = String(UInt32(truncatingIfNeeded: random.next()), radix: 16)
                out.append(contentsOf: "\"session-0x".utf8)
                out.append(contentsOf: String(repeating: "0", count: 8 - hex.count).utf8)
                out.append(contentsOf: hex.utf8)
                out.append(UInt8(ascii: "\""))
            case 3:
                decimal(1_732_550_000_000 + random.next() % 100_000_000)
            case 4:
                out.append(contentsOf: "[\"".utf8)
                word()
                out.append(contentsOf: "\",\"".utf8)
                word()
                out.append(contentsOf: "\"]".utf8)
            default:
                out.append(UInt8(ascii: "\""))
                for index in 0..<(2 + random.below(8)) {
                    if index > 0 { out.append(UInt8(ascii: " ")) }
                    word()
                }
                out.append(UInt8(ascii: "\""))
            }
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    // MARK: - Paddock's write path

    struct Written {
        var path: String
        var trailer: SnapshotTrailer
        var seconds: Double
        var walkSeconds: Double
    }

    /// The server's snapshot path (ServerNode+Snapshots), on one thread: FuzzySnapshotWalk slices
    /// of 2000 nodes, writeNode for each, finish (fsync, rename, directory fsync).
    static func writeSnapshot(tree: DataTree, directory: String, zxid: Int64, level: Int32, makeDirectory: Bool = false) throws -> Written {
        if makeDirectory {
            guard mkdir(directory, 0o755) == 0 else { throw BenchError(errnoText("mkdir", directory)) }
        }
        let started = monotonicNanoseconds()
        let writer = try SnapshotWriter(directory: directory, startZxid: zxid, startTimeMs: 0, level: level)
        try writer.writeSessions(tree.sessions.sorted { $0.key < $1.key }.map { (id: $0.key, timeoutMs: $0.value) })
        var walk = FuzzySnapshotWalk()
        var walkNanoseconds: UInt64 = 0
        while true {
            let sliceStarted = monotonicNanoseconds()
            let slice = walk.nextSlice(of: tree, nodesMax: sliceNodes)
            walkNanoseconds += monotonicNanoseconds() - sliceStarted
            if slice.isEmpty { break }
            for entry in slice { try writer.writeNode(path: entry.path, node: entry.node) }
        }
        let (path, trailer) = try writer.finish(endZxid: zxid)
        return Written(path: path, trailer: trailer, seconds: seconds(since: started), walkSeconds: Double(walkNanoseconds) / 1e9)
    }

    // MARK: - Limits

    struct ZlibLimits {
        var deflateSeconds: Double
        var inflateSeconds: Double
        var compressed: [UInt8]
    }

    /// zlib on its own: one deflate stream over all of `stream` into a pre-faulted buffer, then
    /// inflate of the result into a reused 1 MiB window (what a reader needs, no more).
    static func zlibLimits(stream: UnsafeRawBufferPointer, level: Int32) throws -> ZlibLimits {
        let z = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        defer { z.deallocate() }
        z.initialize(to: z_stream())
        guard deflateInit_(z, level, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw BenchError("deflateInit failed")
        }
        let bound = Int(deflateBound(z, uLong(stream.count)))
        var compressed = [UInt8](repeating: 0, count: bound)
        let chunkMax = 1 << 30
        var produced = 0
        let deflateStarted = monotonicNanoseconds()
        let status: Int32 = compressed.withUnsafeMutableBytes { out in
            var offset = 0
            var status = Z_OK
            repeat {
                let count = min(chunkMax, stream.count - offset)
                let last = offset + count == stream.count
                z.pointee.next_in = UnsafeMutablePointer(mutating: stream.baseAddress.map { ($0 + offset).assumingMemoryBound(to: Bytef.self) })
                z.pointee.avail_in = uInt(count)
                repeat {
                    let room = min(chunkMax, out.count - produced)
                    z.pointee.next_out = (out.baseAddress! + produced).assumingMemoryBound(to: Bytef.self)
                    z.pointee.avail_out = uInt(room)
                    status = deflate(z, last ? Z_FINISH : Z_NO_FLUSH)
                    produced += room - Int(z.pointee.avail_out)
                } while status == Z_OK && (z.pointee.avail_in > 0 || (last && z.pointee.avail_out == 0))
                offset += count
            } while offset < stream.count && status == Z_OK
            return status
        }
        let deflateSeconds = seconds(since: deflateStarted)
        deflateEnd(z)
        guard status == Z_STREAM_END else { throw BenchError("deflate failed: \(status)") }
        compressed.removeSubrange(produced...)

        z.initialize(to: z_stream())
        guard inflateInit_(z, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { throw BenchError("inflateInit failed") }
        defer { inflateEnd(z) }
        let window = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { window.deallocate() }
        var inflated = 0
        var inflateStatus = Z_OK
        let inflateStarted = monotonicNanoseconds()
        compressed.withUnsafeBytes { input in
            z.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
            z.pointee.avail_in = uInt(input.count)
            while inflateStatus == Z_OK {
                z.pointee.next_out = window.baseAddress!.assumingMemoryBound(to: Bytef.self)
                z.pointee.avail_out = uInt(window.count)
                inflateStatus = inflate(z, Z_NO_FLUSH)
                inflated += window.count - Int(z.pointee.avail_out)
            }
        }
        let inflateSeconds = seconds(since: inflateStarted)
        guard inflateStatus == Z_STREAM_END, inflated == stream.count else {
            throw BenchError("inflate failed: status \(inflateStatus), \(inflated) of \(stream.count) bytes")
        }
        return ZlibLimits(deflateSeconds: deflateSeconds, inflateSeconds: inflateSeconds, compressed: compressed)
    }

    /// A new file of `bytes` bytes written in 256 KiB chunks, then fsync (what finish() adds to
    /// the deflate work); the file is removed afterwards. Returns the seconds taken.
    static func rawWriteAndSync(path: String, bytes: Int, content: [UInt8]) throws -> Double {
        let source = content.isEmpty ? [UInt8](repeating: 0x5a, count: writeChunkBytes) : content
        let started = monotonicNanoseconds()
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BenchError(errnoText("open", path)) }
        defer {
            close(fd)
            unlink(path)
        }
        try source.withUnsafeBytes { raw in
            var written = 0
            var offset = 0
            while written < bytes {
                if offset == raw.count { offset = 0 }
                let count = min(writeChunkBytes, bytes - written, raw.count - offset)
                try writeAll(fd, UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + count)]), path: path)
                written += count
                offset += count
            }
        }
        guard fsync(fd) == 0 else { throw BenchError(errnoText("fsync", path)) }
        return seconds(since: started)
    }
}

// MARK: - Output

extension SnapshotBench.Report {
    public var table: String {
        let header = ["znodes"] + points.map { formatted(Double($0.znodes)) }
        func row(_ name: String, _ value: (SnapshotBench.Point) -> String) -> [String] { [name] + points.map(value) }
        let l = "L\(level)"
        let rows: [[String]] = [
            row("sessions / average value bytes") { "\($0.sessions) / \(formatted($0.averageValueBytes))" },
            row("tree build s (not part of the snapshot)") { formatted($0.buildSeconds, 2) },
            row("stream MB (uncompressed)") { formatted(Double($0.streamBytes) / 1e6, 1) },
            row("file MB (\(l))") { formatted(Double($0.fileBytes) / 1e6, 1) },
            row("compression ratio") { formatted($0.ratio, 2) },
            row("write s (walk + writeNode + finish)") { formatted($0.writeSeconds, 2) },
            row("  of which walk s") { formatted($0.walkSeconds, 2) },
            row("write MB/s (stream bytes)") { formatted($0.writeMegabytesPerSecond, 1) },
            row("write znodes/s") { formatted($0.writeZnodesPerSecond) },
            row("write MB/s without the walk") { formatted($0.writeWithoutWalkMegabytesPerSecond, 1) },
            row("write MB/s at L0 (no deflate)") { formatted($0.uncompressedWriteMegabytesPerSecond, 1) },
            row("limit: zlib deflate \(l) MB/s, one stream") { formatted($0.deflateMegabytesPerSecond, 1) },
            row("  zlib ratio") { formatted($0.deflateRatio, 2) },
            row("limit: raw write+fsync MB/s (file bytes)") { formatted($0.rawWriteMegabytesPerSecond, 1) },
            row("limit: deflate + write+fsync MB/s") { formatted($0.writeLimitMegabytesPerSecond, 1) },
            row("write / zlib deflate (target >= 80 %)") { percent($0.writeVersusDeflate) },
            row("write / (deflate + write+fsync)") { percent($0.writeVersusLimit) },
            row("write without the walk / zlib deflate") { percent($0.writeWithoutWalkMegabytesPerSecond / $0.deflateMegabytesPerSecond) },
            row("load s (SnapshotFiles.load, warm cache)") { formatted($0.loadSeconds, 2) },
            row("load MB/s (stream bytes)") { formatted($0.loadMegabytesPerSecond, 1) },
            row("load znodes/s") { formatted($0.loadZnodesPerSecond) },
            row("limit: zlib inflate MB/s") { formatted($0.inflateMegabytesPerSecond, 1) },
            row("load / zlib inflate") { percent($0.loadVersusInflate) },
        ]
        return """
            paddock bench snapshot: level \(level), values \(valueBytes.lowerBound)..\(valueBytes.upperBound) B, \
            fanout \(fanout), seed \(seed), scratch \(directory)
            load average before: \(loadText(loadBefore)); after: \(loadText(loadAfter))
            \(renderTable(header: header, rows: rows))
            MB = 10^6 bytes; MB/s of a snapshot = uncompressed stream bytes per second.
            """
    }

    public var json: JSONValue {
        .object([
            ("command", .string("snapshot")),
            ("directory", .string(directory)),
            ("level", .integer(Int(level))),
            ("value_bytes_min", .integer(valueBytes.lowerBound)),
            ("value_bytes_max", .integer(valueBytes.upperBound)),
            ("fanout", .integer(fanout)),
            ("seed", .integer(Int(truncatingIfNeeded: seed))),
            ("load_average_before", .array(loadBefore.map { .number($0) })),
            ("load_average_after", .array(loadAfter.map { .number($0) })),
            ("runs", .array(points.map { point in
                .object([
                    ("znodes", .integer(point.znodes)),
                    ("sessions", .integer(point.sessions)),
                    ("average_value_bytes", .number(point.averageValueBytes)),
                    ("build_s", .number(point.buildSeconds)),
                    ("stream_bytes", .integer(point.streamBytes)),
                    ("file_bytes", .integer(point.fileBytes)),
                    ("ratio", .number(point.ratio)),
                    ("write_s", .number(point.writeSeconds)),
                    ("walk_s", .number(point.walkSeconds)),
                    ("write_mb_per_s", .number(point.writeMegabytesPerSecond)),
                    ("write_znodes_per_s", .number(point.writeZnodesPerSecond)),
                    ("write_without_walk_mb_per_s", .number(point.writeWithoutWalkMegabytesPerSecond)),
                    ("write_level0_mb_per_s", .number(point.uncompressedWriteMegabytesPerSecond)),
                    ("zlib_deflate_mb_per_s", .number(point.deflateMegabytesPerSecond)),
                    ("zlib_compressed_bytes", .integer(point.deflateBytes)),
                    ("zlib_ratio", .number(point.deflateRatio)),
                    ("raw_write_fsync_mb_per_s", .number(point.rawWriteMegabytesPerSecond)),
                    ("write_limit_mb_per_s", .number(point.writeLimitMegabytesPerSecond)),
                    ("write_vs_deflate", .number(point.writeVersusDeflate)),
                    ("write_vs_limit", .number(point.writeVersusLimit)),
                    ("load_s", .number(point.loadSeconds)),
                    ("load_mb_per_s", .number(point.loadMegabytesPerSecond)),
                    ("load_znodes_per_s", .number(point.loadZnodesPerSecond)),
                    ("zlib_inflate_mb_per_s", .number(point.inflateMegabytesPerSecond)),
                    ("load_vs_inflate", .number(point.loadVersusInflate)),
                ])
            })),
        ])
    }
}
