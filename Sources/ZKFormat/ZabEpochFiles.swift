#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A member's two ZAB epochs, in ZooKeeper's own files and format (QuorumPeer.writeLongToFile):
/// `acceptedEpoch` (the newest epoch it promised to follow) and `currentEpoch` (the epoch whose
/// history it holds), each the decimal text of a long with no newline. Written as ZooKeeper's
/// AtomicFileWritingIdiom does: `<name>.tmp`, fsync, rename, then the directory is fsynced.
/// FORMAT.md section 1 lists them; `currentEpoch <= acceptedEpoch` always holds.
public enum ZabEpochFiles {
    public static let acceptedEpochName = "acceptedEpoch"
    public static let currentEpochName = "currentEpoch"

    /// The value in `directory/name`, or nil when the file does not exist.
    public static func read(directory: String, name: String) throws(SnapshotError) -> Int64? {
        let path = directory + "/" + name
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw SnapshotError(path: path, kind: .io(PosixFile.errorText("open", path)))
        }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 32)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { buffer in
                pread(fd, buffer.baseAddress! + count, buffer.count - count, off_t(count))
            }
            if got < 0 && errno == EINTR { continue }
            guard got >= 0 else { throw SnapshotError(path: path, kind: .io(PosixFile.errorText("read", path))) }
            if got == 0 { break }
            count += got
        }
        // Java's readLine + Long.parseLong: the first line, which must be a whole long.
        let line = String(decoding: bytes[..<count], as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).first ?? ""
        guard count < bytes.count, let value = Int64(line) else {
            throw SnapshotError(path: path, kind: .corruptHeader("not an epoch: \(line.prefix(32))"))
        }
        return value
    }

    /// Writes `value` durably under `name` (ZooKeeper's AtomicFileWritingIdiom).
    public static func write(directory: String, name: String, value: Int64) throws(SnapshotError) {
        let path = directory + "/" + name
        let temporary = path + ".tmp"
        let fd = try PosixFile.openForWriting(temporary)
        defer { close(fd) }
        let text = Array(String(value).utf8)
        let written = text.withUnsafeBytes { buffer in systemWrite(fd, buffer.baseAddress, buffer.count) }
        guard written == text.count else {
            throw SnapshotError(path: temporary, kind: .io(PosixFile.errorText("write", temporary)))
        }
        try PosixFile.sync(fd, path: temporary)
        try PosixFile.move(temporary, path)
        try PosixFile.syncDirectory(directory, reportingAs: path)
    }
}

/// POSIX write(2) (inside ZabEpochFiles the name `write` is its own method).
private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, bytes, count)
}
