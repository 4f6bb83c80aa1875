import ZKBase

/// The uncompressed stream of a snapshot body, read from the file in fixed-size chunks and
/// inflated (or copied) into whatever buffer the caller offers.
final class SnapshotBodySource {
    static let inputBufferBytes = 256 * 1024

    private let fd: Int32
    private let path: String
    /// File offset of the next body byte not yet read.
    private var fileOffset: Int
    /// File offset where the body ends (the trailer starts).
    private let bodyEnd: Int
    private let inflater: Inflater?
    private let input: UnsafeMutableRawBufferPointer
    private var inputStart = 0
    private var inputEnd = 0
    private var ended = false
    /// CRC32C of the file so far: seeded with the header's, then every body byte read.
    private(set) var fileCRC: UInt32

    init(fd: Int32, path: String, bodyStart: Int, bodyEnd: Int, compressed: Bool, headerCRC: UInt32) {
        precondition(bodyStart <= bodyEnd)
        fileCRC = headerCRC
        self.fd = fd
        self.path = path
        fileOffset = bodyStart
        self.bodyEnd = bodyEnd
        inflater = compressed ? Inflater() : nil
        input = .allocate(byteCount: compressed ? Self.inputBufferBytes : 0, alignment: 16)
    }

    deinit { input.deallocate() }

    private func corrupt(_ reason: String) -> SnapshotError {
        SnapshotError(path: path, kind: .corruptStream(reason))
    }

    /// Up to `destination.count` more stream bytes; 0 only at the end of the stream, which for
    /// zlib also means the zlib stream ended exactly where the trailer starts.
    func read(into destination: UnsafeMutableRawBufferPointer) throws(SnapshotError) -> Int {
        precondition(destination.count > 0, "read needs room")
        if ended { return 0 }
        guard let inflater else { return try readUncompressed(into: destination) }
        while true {
            if inputStart == inputEnd && fileOffset < bodyEnd { try refill() }
            let available = UnsafeRawBufferPointer(rebasing: input[inputStart..<inputEnd])
            switch inflater.step(input: available, output: destination) {
            case .failure(let message):
                throw corrupt("zlib: \(message)")
            case .streamEnd(let consumed, let produced):
                inputStart += consumed
                ended = true
                let leftover = (inputEnd - inputStart) + (bodyEnd - fileOffset)
                guard leftover == 0 else { throw corrupt("\(leftover) bytes between the end of the zlib stream and the trailer") }
                return produced
            case .progress(let consumed, let produced):
                inputStart += consumed
                if produced > 0 { return produced }
                if consumed == 0 && inputStart == inputEnd && fileOffset == bodyEnd {
                    throw corrupt("zlib stream is cut short before its end marker")
                }
                if consumed == 0 && inputStart < inputEnd { throw corrupt("zlib made no progress") }
            }
        }
    }

    private func readUncompressed(into destination: UnsafeMutableRawBufferPointer) throws(SnapshotError) -> Int {
        let count = min(destination.count, bodyEnd - fileOffset)
        if count == 0 {
            ended = true
            return 0
        }
        let target = UnsafeMutableRawBufferPointer(rebasing: destination[..<count])
        guard try PosixFile.readAll(fd, into: target, at: fileOffset, path: path) == count else {
            throw SnapshotError(path: path, kind: .truncated)
        }
        fileCRC = CRC32C.checksum(UnsafeRawBufferPointer(target), seed: fileCRC)
        fileOffset += count
        return count
    }

    private func refill() throws(SnapshotError) {
        let count = min(input.count, bodyEnd - fileOffset)
        let target = UnsafeMutableRawBufferPointer(rebasing: input[..<count])
        guard try PosixFile.readAll(fd, into: target, at: fileOffset, path: path) == count else {
            throw SnapshotError(path: path, kind: .truncated)
        }
        fileCRC = CRC32C.checksum(UnsafeRawBufferPointer(target), seed: fileCRC)
        fileOffset += count
        inputStart = 0
        inputEnd = count
    }
}
