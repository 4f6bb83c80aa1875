import ZKBase

/// A fixed-size buffer in front of a file descriptor: bytes go to the file each time it fills,
/// so writing a snapshot of any size needs only this much memory for its output.
final class OutputBuffer {
    let fd: Int32
    /// For error messages.
    let path: String
    private let storage: UnsafeMutableRawBufferPointer
    private var used = 0
    /// Bytes handed to the file so far, and their CRC32C.
    private(set) var drainedBytes: UInt64 = 0
    private(set) var drainedCRC: UInt32 = 0

    init(fd: Int32, path: String, capacityBytes: Int) {
        precondition(capacityBytes > 0)
        self.fd = fd
        self.path = path
        storage = .allocate(byteCount: capacityBytes, alignment: 16)
    }

    deinit { storage.deallocate() }

    var freeBytes: Int { storage.count - used }

    /// The unused tail, for a producer (deflate) that writes in place and then calls `commit`.
    var freeSpace: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(rebasing: storage[used...]) }

    func commit(_ count: Int) {
        precondition(count >= 0 && count <= freeBytes, "commit beyond the buffer")
        used += count
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws(SnapshotError) {
        var offset = 0
        while offset < bytes.count {
            if freeBytes == 0 { try drain() }
            let count = min(freeBytes, bytes.count - offset)
            freeSpace.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
            used += count
            offset += count
        }
    }

    func append(_ bytes: [UInt8]) throws(SnapshotError) {
        try bytes.withRawBytes { (raw) throws(SnapshotError) in try append(raw) }
    }

    func drain() throws(SnapshotError) {
        guard used > 0 else { return }
        let bytes = UnsafeRawBufferPointer(rebasing: storage[..<used])
        try PosixFile.writeAll(fd, bytes, path: path)
        drainedCRC = CRC32C.checksum(bytes, seed: drainedCRC)
        drainedBytes += UInt64(used)
        used = 0
    }
}
