#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin POSIX wrappers: retry EINTR and short transfers, turn errno into a `SnapshotError.io`.
public enum PosixFile {
    static func errorText(_ operation: String, _ target: String) -> String {
        "\(operation) \(target): \(String(cString: strerror(errno)))"
    }

    static func openForWriting(_ path: String) throws(SnapshotError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SnapshotError(path: path, kind: .io(errorText("open", path))) }
        return fd
    }

    static func openForReading(_ path: String) throws(SnapshotError) -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SnapshotError(path: path, kind: .io(errorText("open", path))) }
        return fd
    }

    public static func size(_ fd: Int32, path: String) throws(SnapshotError) -> Int {
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw SnapshotError(path: path, kind: .io(errorText("fstat", path))) }
        return Int(status.st_size)
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(SnapshotError) {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw SnapshotError(path: path, kind: .io(errorText("write", path)))
            }
            offset += written
        }
    }

    /// Writes all of `bytes` at `offset` (pwrite), retrying EINTR and short writes.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws(SnapshotError) {
        var done = 0
        while done < bytes.count {
            let written = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if written < 0 {
                if errno == EINTR { continue }
                throw SnapshotError(path: path, kind: .io(errorText("write", path)))
            }
            done += written
        }
    }

    /// Makes the file's data durable (fdatasync: no metadata a read does not need).
    public static func syncData(_ fd: Int32, path: String) throws(SnapshotError) {
        while fdatasync(fd) != 0 {
            if errno == EINTR { continue }
            throw SnapshotError(path: path, kind: .io(errorText("fdatasync", path)))
        }
    }

    /// Opens an existing file with `flags` (O_CLOEXEC added).
    public static func openExisting(_ path: String, flags: Int32) throws(SnapshotError) -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SnapshotError(path: path, kind: .io(errorText("open", path))) }
        return fd
    }

    /// Reads exactly `buffer.count` bytes at `offset`; a short file is the caller's `truncated`.
    public static func readAll(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String) throws(SnapshotError) -> Int {
        var done = 0
        while done < buffer.count {
            let count = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if count < 0 {
                if errno == EINTR { continue }
                throw SnapshotError(path: path, kind: .io(errorText("read", path)))
            }
            if count == 0 { break }
            done += count
        }
        return done
    }

    static func sync(_ fd: Int32, path: String) throws(SnapshotError) {
        while fsync(fd) != 0 {
            if errno == EINTR { continue }
            throw SnapshotError(path: path, kind: .io(errorText("fsync", path)))
        }
    }

    /// Makes a rename in `directory` durable.
    public static func syncDirectory(_ directory: String, reportingAs path: String) throws(SnapshotError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SnapshotError(path: path, kind: .io(errorText("open", directory))) }
        defer { close(fd) }
        try sync(fd, path: directory)
    }

    public static func move(_ from: String, _ to: String) throws(SnapshotError) {
        guard rename(from, to) == 0 else {
            throw SnapshotError(path: to, kind: .io(errorText("rename \(from) to", to)))
        }
    }

    /// Removes a file and makes the removal durable (the directory is fsynced).
    public static func removeDurably(_ path: String, directory: String) throws(SnapshotError) {
        guard unlink(path) == 0 || errno == ENOENT else {
            throw SnapshotError(path: path, kind: .io(errorText("unlink", path)))
        }
        try syncDirectory(directory, reportingAs: path)
    }

    /// Names in `directory` ("." and ".." included), in directory order; empty when it cannot be read.
    public static func names(in directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            names.append(name)
        }
        return names
    }
}
