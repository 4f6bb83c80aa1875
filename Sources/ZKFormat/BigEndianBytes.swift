/// Big-endian integer access for the on-disk formats (FORMAT.md: all integers are big-endian).
enum BigEndianBytes {
    @inline(__always)
    static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    @inline(__always)
    static func read<T: FixedWidthInteger>(_ type: T.Type, from buffer: UnsafeRawBufferPointer, at offset: Int) -> T {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= buffer.count, "read past the end of a buffer")
        return T(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    @inline(__always)
    static func write<T: FixedWidthInteger>(_ value: T, into buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= buffer.count, "write past the end of a buffer")
        buffer.storeBytes(of: value.bigEndian, toByteOffset: offset, as: T.self)
    }

    static func hex<T: FixedWidthInteger>(_ value: T) -> String {
        "0x" + String(value, radix: 16)
    }
}
