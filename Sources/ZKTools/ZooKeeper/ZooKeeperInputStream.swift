import NIOCore
import ZKBase
import ZKWire

/// Jute's BinaryInputArchive over a byte source, with the two things ZooKeeper's readers track
/// around it: the Adler32 of every byte consumed (`CheckedInputStream`, for snapshot seals) and
/// the offset in the stream (for error messages). Reads never allocate more than the bytes
/// actually present, so a corrupt length ends in `truncated`, not in a huge allocation.
final class ZooKeeperInputStream {
    /// Why a read stopped short: the stream ended (`EOFException` in Java) or a value is invalid.
    enum Failure: Error {
        case endOfStream(offset: Int64)
        case invalid(offset: Int64, String)
        case source(ZooKeeperMigrationError)
    }

    static let chunkBytes = 256 * 1024
    let path: String
    private let source: any ZooKeeperByteSource
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    /// Stream offset of buffer[0].
    private var bufferOffset: Int64 = 0
    private var sourceEnded = false
    /// Adler32 of the bytes before buffer[checkedUpTo].
    private var adler = Adler32.initial
    private var checkedUpTo = 0
    let checksumEnabled: Bool

    init(source: any ZooKeeperByteSource, path: String, checksum: Bool) {
        self.source = source
        self.path = path
        self.checksumEnabled = checksum
        buffer = [UInt8](repeating: 0, count: Self.chunkBytes)
    }

    func close() { source.close() }

    /// Offset in the (uncompressed) stream of the next byte to be read.
    var offset: Int64 { bufferOffset + Int64(start) }

    /// Adler32 of every byte consumed so far.
    var checksum: UInt32 {
        foldChecksum()
        return adler
    }

    private func foldChecksum() {
        guard checksumEnabled, checkedUpTo < start else {
            checkedUpTo = max(checkedUpTo, start)
            return
        }
        adler = buffer.withUnsafeBytes { Adler32.update(adler, UnsafeRawBufferPointer(rebasing: $0[checkedUpTo..<start])) }
        checkedUpTo = start
    }

    /// Makes `count` bytes readable when the stream has them; false when it ends first.
    func ensure(_ count: Int) throws(Failure) -> Bool {
        if end - start >= count { return true }
        foldChecksum()
        if start > 0 {
            buffer.withUnsafeMutableBytes { bytes in
                if end > start { bytes.baseAddress!.copyMemory(from: bytes.baseAddress! + start, byteCount: end - start) }
            }
            bufferOffset += Int64(start)
            end -= start
            start = 0
            checkedUpTo = 0
        }
        if buffer.count < count { buffer.append(contentsOf: [UInt8](repeating: 0, count: count - buffer.count)) }
        while end < count && !sourceEnded {
            let result = buffer.withUnsafeMutableBytes { bytes in
                Result { () throws(ZooKeeperMigrationError) in
                    try source.read(into: UnsafeMutableRawBufferPointer(rebasing: bytes[end...]))
                }
            }
            let read: Int
            switch result {
            case .success(let count): read = count
            case .failure(let error): throw .source(error)
            }
            if read == 0 { sourceEnded = true }
            end += read
        }
        return end - start >= count
    }

    /// True when no byte is left.
    func atEnd() throws(Failure) -> Bool { try !ensure(1) }

    func readInt() throws(Failure) -> Int32 {
        guard try ensure(4) else { throw .endOfStream(offset: offset + Int64(end - start)) }
        let value = buffer[start..<start + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        start += 4
        return Int32(bitPattern: value)
    }

    func readLong() throws(Failure) -> Int64 {
        guard try ensure(8) else { throw .endOfStream(offset: offset + Int64(end - start)) }
        let value = buffer[start..<start + 8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        start += 8
        return Int64(bitPattern: value)
    }

    func readByte() throws(Failure) -> UInt8 {
        guard try ensure(1) else { throw .endOfStream(offset: offset) }
        start += 1
        return buffer[start - 1]
    }

    /// Exactly `count` bytes, gathered chunk by chunk (memory follows what is really there).
    func readBytes(_ count: Int) throws(Failure) -> [UInt8] {
        precondition(count >= 0)
        var result: [UInt8] = []
        result.reserveCapacity(min(count, Self.chunkBytes))
        while result.count < count {
            if start == end {
                guard try ensure(1) else { throw .endOfStream(offset: offset) }
            }
            let take = min(count - result.count, end - start)
            result.append(contentsOf: buffer[start..<start + take])
            start += take
        }
        return result
    }

    /// A jute buffer: int32 length, -1 = null.
    func readBuffer(_ field: String) throws(Failure) -> [UInt8]? {
        let lengthOffset = offset
        let length = try readInt()
        if length == -1 { return nil }
        guard length >= 0 else { throw .invalid(offset: lengthOffset, "\(field) has length \(length)") }
        return try readBytes(Int(length))
    }

    /// A jute string, decoded as Paddock decodes strings off the wire (ZKWire): what Java's
    /// `new String(bytes, UTF_8)` gives, replacement characters included.
    func readString(_ field: String) throws(Failure) -> String? {
        guard let bytes = try readBuffer(field) else { return nil }
        return Self.decodeJuteString(bytes)
    }

    static func decodeJuteString(_ bytes: [UInt8]) -> String {
        if !bytes.contains(where: { $0 >= 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        var wire = ByteBufferAllocator().buffer(capacity: bytes.count + 4)
        wire.writeJuteBuffer(bytes)
        if let decoded = try? wire.readJuteString("string") { return decoded }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// What is left of the stream, at most `limit` bytes; nil when more than that is left.
    func readRemainder(limit: Int) throws(Failure) -> [UInt8]? {
        if try ensure(limit + 1) { return nil }
        return try readBytes(end - start)
    }
}
