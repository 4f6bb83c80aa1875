#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib

/// A stream of bytes read in chunks: a file as it is, or what a decompressor makes of it.
protocol ZooKeeperByteSource: AnyObject {
    /// Fills up to `buffer.count` bytes; 0 only at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(ZooKeeperMigrationError) -> Int
    /// Closes the file (idempotent).
    func close()
}

/// Bytes already in memory (a snapshot received on the quorum port).
final class ZooKeeperMemorySource: ZooKeeperByteSource {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(ZooKeeperMigrationError) -> Int {
        let count = min(buffer.count, bytes.count - offset)
        guard count > 0 else { return 0 }
        bytes.withUnsafeBytes { source in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[offset..<(offset + count)]))
        }
        offset += count
        return count
    }

    func close() {}
}

/// A file read sequentially.
final class ZooKeeperFileSource: ZooKeeperByteSource {
    let path: String
    private var fd: Int32

    init(path: String) throws(ZooKeeperMigrationError) {
        self.path = path
        fd = try ZooKeeperPosix.openForReading(path)
    }

    deinit { close() }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(ZooKeeperMigrationError) -> Int {
        precondition(fd >= 0, "read after close")
        return try ZooKeeperPosix.read(fd, into: buffer, path: path)
    }

    func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }
}

/// gzip (RFC 1952), as `java.util.zip.GZIPInputStream` reads it: one member or several
/// concatenated ones. zlib's automatic header detection also takes a bare zlib stream.
final class ZooKeeperGzipSource: ZooKeeperByteSource {
    static let inputChunkBytes = 256 * 1024
    private let file: ZooKeeperFileSource
    private let stream: UnsafeMutablePointer<z_stream>
    private var input: [UInt8]
    private var inputStart = 0
    private var inputEnd = 0
    private var fileEnded = false
    private var finished = false

    init(path: String) throws(ZooKeeperMigrationError) {
        file = try ZooKeeperFileSource(path: path)
        input = [UInt8](repeating: 0, count: Self.inputChunkBytes)
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // 15 + 32: the largest window, gzip or zlib header detected automatically.
        let status = inflateInit2_(stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(status == Z_OK, "inflateInit2 failed: \(status)")
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    func close() { file.close() }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(ZooKeeperMigrationError) -> Int {
        precondition(buffer.count > 0)
        while !finished {
            if inputStart == inputEnd && !fileEnded {
                inputStart = 0
                inputEnd = try input.withUnsafeMutableBytes { bytes in
                    Result { () throws(ZooKeeperMigrationError) in try file.read(into: bytes) }
                }.get()
                if inputEnd == 0 { fileEnded = true }
            }
            if inputStart == inputEnd && fileEnded {
                throw ZooKeeperMigrationError(.corrupt, "\(file.path): gzip stream ends early (file truncated)")
            }
            let (status, consumed, produced) = input.withUnsafeBytes { raw in
                inflateStep(UnsafeRawBufferPointer(rebasing: raw[inputStart..<inputEnd]), buffer)
            }
            inputStart += consumed
            if status == Z_STREAM_END {
                try startNextMember()
            } else if status != Z_OK && status != Z_BUF_ERROR {
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                throw ZooKeeperMigrationError(.corrupt, "\(file.path): gzip data is corrupt (\(message))")
            }
            if produced > 0 { return produced }
        }
        return 0
    }

    private func inflateStep(_ source: UnsafeRawBufferPointer, _ target: UnsafeMutableRawBufferPointer) -> (Int32, Int, Int) {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: source.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(source.count)
        stream.pointee.next_out = target.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(min(target.count, Int(UInt32.max)))
        defer {
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
        }
        let status = inflate(stream, Z_NO_FLUSH)
        return (status, source.count - Int(stream.pointee.avail_in), min(target.count, Int(UInt32.max)) - Int(stream.pointee.avail_out))
    }

    /// After a member ends: another gzip member follows (GZIPInputStream reads on), or the end.
    private func startNextMember() throws(ZooKeeperMigrationError) {
        if inputStart == inputEnd && !fileEnded {
            inputStart = 0
            inputEnd = try input.withUnsafeMutableBytes { bytes in
                Result { () throws(ZooKeeperMigrationError) in try file.read(into: bytes) }
            }.get()
            if inputEnd == 0 { fileEnded = true }
        }
        // GZIPInputStream stops quietly at anything that is not another member's magic.
        if inputEnd - inputStart >= 2 && input[inputStart] == 0x1F && input[inputStart + 1] == 0x8B {
            inflateReset(stream)
        } else {
            finished = true
        }
    }
}

/// snappy-java's `SnappyOutputStream` framing (what ZooKeeper's `.snappy` snapshots hold): a
/// 16-byte header (magic 0x82 "SNAPPY" 0x00, int version, int compatible version), then chunks
/// of int32 compressed length + one raw snappy block. A second header may start mid-stream
/// (concatenated streams), as `SnappyInputStream` accepts.
final class ZooKeeperSnappySource: ZooKeeperByteSource {
    static let magic: [UInt8] = [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00]
    static let headerBytes = 16
    /// snappy-java writes 32 KiB blocks; a far larger declared chunk is corruption.
    static let chunkBytesMax = 64 << 20
    private let file: ZooKeeperFileSource
    private var raw: [UInt8] = []
    private var rawStart = 0
    private var fileEnded = false
    private var block: [UInt8] = []
    private var blockStart = 0
    private var started = false

    init(path: String) throws(ZooKeeperMigrationError) {
        file = try ZooKeeperFileSource(path: path)
    }

    func close() { file.close() }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(ZooKeeperMigrationError) -> Int {
        while blockStart == block.count {
            guard try nextBlock() else { return 0 }
        }
        let count = min(buffer.count, block.count - blockStart)
        block.withUnsafeBytes { bytes in
            buffer.baseAddress!.copyMemory(from: bytes.baseAddress! + blockStart, byteCount: count)
        }
        blockStart += count
        return count
    }

    /// Makes at least `count` raw bytes available; false when the file ends first.
    private func fill(_ count: Int) throws(ZooKeeperMigrationError) -> Bool {
        while raw.count - rawStart < count && !fileEnded {
            if rawStart > 0 {
                raw.removeFirst(rawStart)
                rawStart = 0
            }
            var chunk = [UInt8](repeating: 0, count: max(64 * 1024, count))
            let read = try chunk.withUnsafeMutableBytes { bytes in
                Result { () throws(ZooKeeperMigrationError) in try file.read(into: bytes) }
            }.get()
            if read == 0 { fileEnded = true }
            raw.append(contentsOf: chunk[0..<read])
        }
        return raw.count - rawStart >= count
    }

    private func nextBlock() throws(ZooKeeperMigrationError) -> Bool {
        if !started {
            guard try fill(Self.headerBytes), Array(raw[rawStart..<rawStart + 8]) == Self.magic else {
                throw ZooKeeperMigrationError(.corrupt, "\(file.path): not a snappy-java stream (no \\x82SNAPPY header)")
            }
            rawStart += Self.headerBytes
            started = true
        }
        guard try fill(4) else {
            if raw.count > rawStart { throw ZooKeeperMigrationError(.corrupt, "\(file.path): snappy chunk length cut short") }
            return false
        }
        if Array(raw[rawStart..<rawStart + 4]) == Array(Self.magic[0..<4]) {
            guard try fill(Self.headerBytes), Array(raw[rawStart..<rawStart + 8]) == Self.magic else {
                throw ZooKeeperMigrationError(.corrupt, "\(file.path): damaged snappy-java header inside the stream")
            }
            rawStart += Self.headerBytes
            return try nextBlock()
        }
        let length = Int(raw[rawStart..<rawStart + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        guard length > 0 && length <= Self.chunkBytesMax else {
            throw ZooKeeperMigrationError(.corrupt, "\(file.path): snappy chunk length \(length) out of range")
        }
        rawStart += 4
        guard try fill(length) else { throw ZooKeeperMigrationError(.corrupt, "\(file.path): snappy chunk cut short") }
        do throws(SnappyError) {
            block = try Snappy.decompress(raw[rawStart..<rawStart + length])
        } catch {
            throw ZooKeeperMigrationError(.corrupt, "\(file.path): snappy block is corrupt (\(error.reason))")
        }
        rawStart += length
        blockStart = 0
        return true
    }
}

/// Adler-32 (java.util.zip.Adler32), zlib's implementation; `update` continues a running value.
enum Adler32 {
    static let initial: UInt32 = 1

    static func update(_ adler: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return adler }
        var value = UInt(adler)
        var offset = 0
        while offset < bytes.count {
            let count = min(bytes.count - offset, Int(Int32.max))
            value = CZlib.adler32(value, (base + offset).assumingMemoryBound(to: Bytef.self), uInt(count))
            offset += count
        }
        return UInt32(truncatingIfNeeded: value)
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { update(initial, $0) }
    }
}
