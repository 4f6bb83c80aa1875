/// Why a raw snappy block could not be decompressed.
struct SnappyError: Error {
    var reason: String
}

/// Raw snappy block decompression (google/snappy `format_description.txt`): a varint of the
/// uncompressed length, then literals and back-references (copies) with 1, 2 or 4-byte offsets.
/// Every length and offset is checked against the input and the output produced so far.
enum Snappy {
    /// A block never legitimately expands beyond this (snappy-java blocks are 32 KiB).
    static let uncompressedBytesMax = 256 << 20

    static func decompress(_ input: ArraySlice<UInt8>) throws(SnappyError) -> [UInt8] {
        var index = input.startIndex
        let end = input.endIndex
        var expected = 0
        var shift = 0
        while true {
            guard index < end, shift <= 28 else { throw SnappyError(reason: "bad length preamble") }
            let byte = input[index]
            index += 1
            expected |= Int(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        guard expected <= uncompressedBytesMax else { throw SnappyError(reason: "declared length \(expected) too large") }
        var output: [UInt8] = []
        output.reserveCapacity(expected)
        while index < end {
            let tag = input[index]
            index += 1
            if tag & 3 == 0 {
                var length = Int(tag >> 2)
                if length >= 60 {
                    let extra = length - 59
                    guard end - index >= extra else { throw SnappyError(reason: "literal length cut short") }
                    length = 0
                    for position in 0..<extra { length |= Int(input[index + position]) << (8 * position) }
                    index += extra
                }
                length += 1
                guard end - index >= length, output.count + length <= expected else {
                    throw SnappyError(reason: "literal of \(length) bytes overruns the block")
                }
                output.append(contentsOf: input[index..<index + length])
                index += length
                continue
            }
            let length: Int
            var offset: Int
            switch tag & 3 {
            case 1:
                guard index < end else { throw SnappyError(reason: "copy cut short") }
                length = 4 + Int((tag >> 2) & 7)
                offset = Int(tag >> 5) << 8 | Int(input[index])
                index += 1
            case 2:
                guard end - index >= 2 else { throw SnappyError(reason: "copy cut short") }
                length = Int(tag >> 2) + 1
                offset = Int(input[index]) | Int(input[index + 1]) << 8
                index += 2
            default:
                guard end - index >= 4 else { throw SnappyError(reason: "copy cut short") }
                length = Int(tag >> 2) + 1
                offset = 0
                for position in 0..<4 { offset |= Int(input[index + position]) << (8 * position) }
                index += 4
            }
            guard offset > 0, offset <= output.count, output.count + length <= expected else {
                throw SnappyError(reason: "copy of \(length) bytes at offset \(offset) is out of range")
            }
            // Byte by byte: a copy may overlap the bytes it produces (offset < length).
            let from = output.count - offset
            for position in 0..<length { output.append(output[from + position]) }
        }
        guard output.count == expected else {
            throw SnappyError(reason: "block holds \(output.count) bytes, its preamble says \(expected)")
        }
        return output
    }
}
