#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib

/// Jute's BinaryOutputArchive into a file, with the Adler32 of every byte written
/// (`CheckedOutputStream`, for snapshot seals) and optional gzip (`GZIPOutputStream`). Bytes
/// are staged in a fixed buffer and written (compressed) whenever it fills.
final class ZooKeeperOutputStream {
    static let stagingBytes = 256 * 1024
    let path: String
    private var fd: Int32
    private var staging: [UInt8] = []
    private var adler = Adler32.initial
    private let deflater: UnsafeMutablePointer<z_stream>?
    private var compressed: [UInt8]
    /// Uncompressed bytes written so far.
    private(set) var streamBytes: Int64 = 0
    /// Bytes in the file so far.
    private(set) var fileBytes: Int64 = 0
    /// Set for a stream kept in memory (`init(inMemory:)`): what was flushed so far.
    private var memory: [UInt8]?

    init(path: String, gzip: Bool) throws(ZooKeeperMigrationError) {
        self.path = path
        fd = try ZooKeeperPosix.openForWriting(path)
        staging.reserveCapacity(Self.stagingBytes + 1024)
        compressed = gzip ? [UInt8](repeating: 0, count: Self.stagingBytes) : []
        if gzip {
            let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            stream.initialize(to: z_stream())
            // 15 + 16: gzip wrapper (RFC 1952), what GZIPInputStream expects; level 6 as Java's default.
            let status = deflateInit2_(stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            precondition(status == Z_OK, "deflateInit2 failed: \(status)")
            deflater = stream
        } else {
            deflater = nil
        }
    }

    /// A stream into memory (a SNAP sync's snapshot), uncompressed.
    init(inMemoryCapacity capacity: Int) {
        path = "(memory)"
        fd = -1
        deflater = nil
        compressed = []
        memory = []
        memory?.reserveCapacity(capacity)
        staging.reserveCapacity(Self.stagingBytes + 1024)
    }

    deinit {
        if let deflater {
            deflateEnd(deflater)
            deflater.deinitialize(count: 1)
            deflater.deallocate()
        }
        if fd >= 0 { close(fd) }
    }

    /// Adler32 of every byte written so far.
    var checksum: UInt32 {
        foldChecksum()
        return adler
    }

    private var checkedUpTo = 0

    private func foldChecksum() {
        guard checkedUpTo < staging.count else { return }
        adler = staging.withUnsafeBytes { Adler32.update(adler, UnsafeRawBufferPointer(rebasing: $0[checkedUpTo...])) }
        checkedUpTo = staging.count
    }

    func writeInt(_ value: Int32) throws(ZooKeeperMigrationError) {
        withUnsafeBytes(of: value.bigEndian) { staging.append(contentsOf: $0) }
        try flushIfFull()
    }

    func writeLong(_ value: Int64) throws(ZooKeeperMigrationError) {
        withUnsafeBytes(of: value.bigEndian) { staging.append(contentsOf: $0) }
        try flushIfFull()
    }

    func writeBytes(_ bytes: [UInt8]) throws(ZooKeeperMigrationError) {
        staging.append(contentsOf: bytes)
        try flushIfFull()
    }

    /// A jute buffer: int32 length (-1 = null) and the bytes.
    func writeBuffer(_ bytes: [UInt8]?) throws(ZooKeeperMigrationError) {
        guard let bytes else { return try writeInt(-1) }
        try writeInt(Int32(bytes.count))
        try writeBytes(bytes)
    }

    /// A jute string as UTF-8, which `new String(bytes, UTF_8)` reads back unchanged, characters
    /// beyond the BMP included (jute's own writer would split them into CESU-8 surrogates).
    func writeString(_ string: String?) throws(ZooKeeperMigrationError) {
        try writeBuffer(string.map { Array($0.utf8) })
    }

    private func flushIfFull() throws(ZooKeeperMigrationError) {
        if staging.count >= Self.stagingBytes { try flush(finish: false) }
    }

    /// Hands the staged bytes to the file (through deflate when compressing).
    private func flush(finish: Bool) throws(ZooKeeperMigrationError) {
        foldChecksum()
        streamBytes += Int64(staging.count)
        if let deflater {
            try staging.withUnsafeBytes { input in
                Result { () throws(ZooKeeperMigrationError) in try deflate(deflater, input, finish: finish) }
            }.get()
        } else if memory != nil {
            memory?.append(contentsOf: staging)
            fileBytes += Int64(staging.count)
        } else {
            try staging.withUnsafeBytes { bytes in
                Result { () throws(ZooKeeperMigrationError) in try ZooKeeperPosix.writeAll(fd, bytes, path: path) }
            }.get()
            fileBytes += Int64(staging.count)
        }
        staging.removeAll(keepingCapacity: true)
        checkedUpTo = 0
    }

    private func deflate(_ stream: UnsafeMutablePointer<z_stream>, _ input: UnsafeRawBufferPointer, finish: Bool) throws(ZooKeeperMigrationError) {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        defer { stream.pointee.next_in = nil }
        while true {
            let (status, produced) = compressed.withUnsafeMutableBytes { output -> (Int32, Int) in
                stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(output.count)
                let status = CZlib.deflate(stream, finish ? Z_FINISH : Z_NO_FLUSH)
                stream.pointee.next_out = nil
                return (status, output.count - Int(stream.pointee.avail_out))
            }
            precondition(status == Z_OK || status == Z_BUF_ERROR || status == Z_STREAM_END, "deflate failed: \(status)")
            try compressed.withUnsafeBytes { bytes in
                Result { () throws(ZooKeeperMigrationError) in
                    try ZooKeeperPosix.writeAll(fd, UnsafeRawBufferPointer(rebasing: bytes[0..<produced]), path: path)
                }
            }.get()
            fileBytes += Int64(produced)
            if finish ? status == Z_STREAM_END : (stream.pointee.avail_in == 0 && produced < compressed.count) { break }
        }
    }

    /// Writes what is staged, ends the gzip stream, fsyncs and closes the file.
    func finish() throws(ZooKeeperMigrationError) {
        try flush(finish: true)
        try ZooKeeperPosix.sync(fd, path: path)
        close(fd)
        fd = -1
    }

    /// The bytes of an in-memory stream, all of them.
    func finishInMemory() -> [UInt8] {
        precondition(memory != nil, "not an in-memory stream")
        try? flush(finish: true)
        return memory ?? []
    }
}
