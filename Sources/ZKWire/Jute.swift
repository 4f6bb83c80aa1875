import NIOCore
import ZKBase

/// Why a jute record could not be decoded. Bad input from a peer: the connection is closed, never a crash.
public enum JuteDecodingError: Error, Equatable, Sendable {
    case truncated(field: String)
    case lengthOutOfRange(field: String, length: Int32)
    case invalidUTF8(field: String)
    case invalidValue(field: String, value: Int64)
}

/// Writes jute's big-endian fields into memory the caller has sized, for records written whole:
/// each field written through ByteBuffer pays a dynamic exclusivity check on its storage (with
/// the bounds and uniqueness checks around it, about 9 % of a getData's time in perf when a
/// reply's header and stat went field by field), one `writeWithUnsafeMutableBytes` pays it once.
struct JuteRawWriter {
    let bytes: UnsafeMutableRawBufferPointer
    private(set) var count = 0

    init(_ bytes: UnsafeMutableRawBufferPointer) { self.bytes = bytes }

    @inline(__always)
    mutating func int32(_ value: Int32) {
        precondition(count + 4 <= bytes.count, "jute record overruns its \(bytes.count) bytes")
        bytes.storeBytes(of: value.bigEndian, toByteOffset: count, as: Int32.self)
        count += 4
    }

    @inline(__always)
    mutating func int64(_ value: Int64) {
        precondition(count + 8 <= bytes.count, "jute record overruns its \(bytes.count) bytes")
        bytes.storeBytes(of: value.bigEndian, toByteOffset: count, as: Int64.self)
        count += 8
    }

    /// A jute buffer: length (-1 for null) and bytes.
    @inline(__always)
    mutating func buffer(_ value: UnsafeRawBufferPointer?) {
        guard let value else { return int32(-1) }
        int32(Int32(value.count))
        precondition(count + value.count <= bytes.count, "jute record overruns its \(bytes.count) bytes")
        if let source = value.baseAddress, !value.isEmpty {
            (bytes.baseAddress! + count).copyMemory(from: source, byteCount: value.count)
        }
        count += value.count
    }
}

extension ByteBuffer {
    /// Writes a record of exactly `byteCount` bytes in one access (see JuteRawWriter).
    @inline(__always)
    mutating func writeJuteRecord(byteCount: Int, _ body: (inout JuteRawWriter) -> Void) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: byteCount) { raw in
            var writer = JuteRawWriter(UnsafeMutableRawBufferPointer(rebasing: raw[0..<byteCount]))
            body(&writer)
            precondition(writer.count == byteCount, "jute record of \(writer.count) bytes, \(byteCount) reserved")
            return byteCount
        }
    }
}

/// Jute's BinaryInputArchive / BinaryOutputArchive: big-endian ints, 1-byte booleans,
/// int32-length-prefixed buffers and strings (-1 = null), int32-count-prefixed vectors.
extension ByteBuffer {
    @inlinable
    public mutating func writeJuteInt(_ value: Int32) { writeInteger(value, endianness: .big) }
    @inlinable
    public mutating func writeJuteLong(_ value: Int64) { writeInteger(value, endianness: .big) }
    @inlinable
    public mutating func writeJuteBool(_ value: Bool) { writeInteger(UInt8(value ? 1 : 0)) }

    public mutating func writeJuteString(_ value: String?) {
        guard let value else {
            writeJuteInt(-1)
            return
        }
        let lengthIndex = writerIndex
        writeJuteInt(0)
        var written = 0
        // Jute encodes a Java string one UTF-16 unit at a time, so characters beyond the BMP go
        // out as two 3-byte surrogate sequences (CESU-8), not as 4-byte UTF-8.
        let beyondBMP = value.utf8.withContiguousStorageIfAvailable { $0.contains { $0 >= 0xF0 } }
            ?? value.utf8.contains { $0 >= 0xF0 }
        if beyondBMP {
            for unit in value.utf16 {
                switch unit {
                case 0..<0x80:
                    written += writeInteger(UInt8(unit))
                case 0x80..<0x800:
                    written += writeInteger(UInt8(0xC0 | (unit >> 6)))
                    written += writeInteger(UInt8(0x80 | (unit & 0x3F)))
                default:
                    written += writeInteger(UInt8(0xE0 | (unit >> 12)))
                    written += writeInteger(UInt8(0x80 | ((unit >> 6) & 0x3F)))
                    written += writeInteger(UInt8(0x80 | (unit & 0x3F)))
                }
            }
        } else {
            written = writeString(value)
        }
        setInteger(Int32(written), at: lengthIndex, endianness: .big)
    }

    public mutating func writeJuteBuffer(_ value: [UInt8]?) {
        guard let value else {
            writeJuteInt(-1)
            return
        }
        writeJuteInt(Int32(value.count))
        writeBytes(value)
    }

    /// A jute buffer from bytes in place (nil: a null buffer).
    public mutating func writeJuteBuffer(bytes value: UnsafeRawBufferPointer?) {
        guard let value else {
            writeJuteInt(-1)
            return
        }
        writeJuteInt(Int32(value.count))
        writeBytes(value)
    }

    public mutating func writeJuteStringVector(_ values: [String]?) {
        guard let values else {
            writeJuteInt(-1)
            return
        }
        writeJuteInt(Int32(values.count))
        for value in values { writeJuteString(value) }
    }

    public mutating func readJuteInt(_ field: String) throws -> Int32 {
        guard let value = readInteger(endianness: .big, as: Int32.self) else {
            throw JuteDecodingError.truncated(field: field)
        }
        return value
    }

    public mutating func readJuteLong(_ field: String) throws -> Int64 {
        guard let value = readInteger(endianness: .big, as: Int64.self) else {
            throw JuteDecodingError.truncated(field: field)
        }
        return value
    }

    public mutating func readJuteBool(_ field: String) throws -> Bool {
        guard let value = readInteger(as: UInt8.self) else { throw JuteDecodingError.truncated(field: field) }
        return value != 0
    }

    /// Reads a length and checks it against what is left, so a hostile length never allocates.
    private mutating func readJuteLength(_ field: String) throws -> Int? {
        let length = try readJuteInt(field)
        if length == -1 { return nil }
        guard length >= 0, Int(length) <= readableBytes else {
            throw JuteDecodingError.lengthOutOfRange(field: field, length: length)
        }
        return Int(length)
    }

    static func collapsingEncodedSurrogates(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0xED, index + 2 < bytes.count, (0xA0...0xBF).contains(bytes[index + 1]),
                (0x80...0xBF).contains(bytes[index + 2]) {
                output.append(contentsOf: [0xEF, 0xBF, 0xBD])
                index += 3
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return output
    }

    public mutating func readJuteString(_ field: String) throws -> String? {
        guard let length = try readJuteLength(field) else { return nil }
        guard var bytes = readBytes(length: length) else { throw JuteDecodingError.truncated(field: field) }
        // Java decodes with replacement characters; we do the same so odd bytes stay a wire matter.
        // Java's decoder turns each 3-byte encoded surrogate (0xED 0xA0-0xBF ..) into one U+FFFD,
        // where Swift would give one per byte: make them one replacement each first.
        if bytes.contains(0xED) { bytes = Self.collapsingEncodedSurrogates(bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A string that must be present (a null is read as "" as Java's readString tolerates).
    public mutating func readJuteNonNullString(_ field: String) throws -> String {
        try readJuteString(field) ?? ""
    }

    public mutating func readJuteBuffer(_ field: String) throws -> [UInt8]? {
        guard let length = try readJuteLength(field) else { return nil }
        guard let bytes = readBytes(length: length) else { throw JuteDecodingError.truncated(field: field) }
        return bytes
    }

    /// A jute buffer left where it is: the slice shares this buffer's storage (nil for a null
    /// buffer), so whoever needs the bytes copies them out on its own thread.
    public mutating func readJuteBufferSlice(_ field: String) throws -> ByteBuffer? {
        guard let length = try readJuteLength(field) else { return nil }
        guard let slice = readSlice(length: length) else { throw JuteDecodingError.truncated(field: field) }
        return slice
    }

    /// Reads a vector count; each element takes at least `minimumElementBytes`, which bounds the count.
    public mutating func readJuteVectorCount(_ field: String, minimumElementBytes: Int) throws -> Int? {
        let count = try readJuteInt(field)
        if count == -1 { return nil }
        guard count >= 0, Int(count) * max(1, minimumElementBytes) <= readableBytes else {
            throw JuteDecodingError.lengthOutOfRange(field: field, length: count)
        }
        return Int(count)
    }

    public mutating func readJuteStringVector(_ field: String) throws -> [String]? {
        guard let count = try readJuteVectorCount(field, minimumElementBytes: 4) else { return nil }
        var values: [String] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try readJuteNonNullString(field)) }
        return values
    }
}

/// A jute record: fields in declared order, no tags.
public protocol JuteRecord: Sendable {
    func encode(into buffer: inout ByteBuffer)
    init(from buffer: inout ByteBuffer) throws
}

extension JuteRecord {
    public func encodedBytes() -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        encode(into: &buffer)
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    public static func decode(bytes: [UInt8]) throws -> Self {
        var buffer = ByteBufferAllocator().buffer(bytes: bytes)
        return try Self(from: &buffer)
    }
}
