#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file system that stands in for the real one under `PosixFile` in tests (a simulated disk
/// whose unsynced writes a crash may lose). Descriptors are its own numbers.
public protocol SimulatedFileSystem: AnyObject, Sendable {
    func openForWriting(_ path: String) throws(SnapshotError) -> Int32
    func openForReading(_ path: String) throws(SnapshotError) -> Int32
    func size(_ fd: Int32, path: String) throws(SnapshotError) -> Int
    func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int?, path: String) throws(SnapshotError)
    func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String) throws(SnapshotError) -> Int
    func sync(_ fd: Int32, path: String) throws(SnapshotError)
    func close(_ fd: Int32)
    func syncDirectory(_ directory: String, reportingAs path: String) throws(SnapshotError)
    func move(_ from: String, _ to: String) throws(SnapshotError)
    func remove(_ path: String) throws(SnapshotError)
    func names(in directory: String) -> [String]
    /// `open(path, flags)` of a file that may exist (O_CREAT honoured; O_DSYNC: each write is
    /// durable when it returns).
    func openExisting(_ path: String, flags: Int32) throws(SnapshotError) -> Int32
    /// Whether the simulated disk holds `path` (a file or a directory it made); nil: not its
    /// path (the real file system answers, e.g. for LMDB's files, which it cannot hold).
    func exists(_ path: String) -> Bool?
    func isDirectory(_ path: String) -> Bool?
    /// Size of the file at `path`; nil: not its path.
    func fileSize(_ path: String) -> Int?
    /// mkdir (durable only after `syncDirectory` of the parent).
    func makeDirectory(_ path: String) throws(SnapshotError)
}

/// Thin POSIX wrappers: retry EINTR and short transfers, turn errno into a `SnapshotError.io`.
///
/// In a task that set `PosixFile.$simulated`, the calls below go to that simulated file system
/// instead (the snapshot files' crash tests); nothing else ever sets it.
public enum PosixFile {
    @TaskLocal public static var simulated: (any SimulatedFileSystem)?

    static func errorText(_ operation: String, _ target: String) -> String {
        "\(operation) \(target): \(String(cString: strerror(errno)))"
    }

    public static func openForWriting(_ path: String) throws(SnapshotError) -> Int32 {
        if let simulated { return try simulated.openForWriting(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SnapshotError(path: path, kind: .io(errorText("open", path))) }
        return fd
    }

    public static func openForReading(_ path: String) throws(SnapshotError) -> Int32 {
        if let simulated { return try simulated.openForReading(path) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SnapshotError(path: path, kind: .io(errorText("open", path))) }
        return fd
    }

    public static func size(_ fd: Int32, path: String) throws(SnapshotError) -> Int {
        if let simulated { return try simulated.size(fd, path: path) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw SnapshotError(path: path, kind: .io(errorText("fstat", path))) }
        return Int(status.st_size)
    }

    /// Writes all of `bytes` at the descriptor's position, retrying EINTR and short writes.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(SnapshotError) {
        if let simulated { return try simulated.write(fd, bytes, at: nil, path: path) }
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
        if let simulated { return try simulated.write(fd, bytes, at: offset, path: path) }
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
        if let simulated { return try simulated.sync(fd, path: path) }
        while fdatasync(fd) != 0 {
            if errno == EINTR { continue }
            throw SnapshotError(path: path, kind: .io(errorText("fdatasync", path)))
        }
    }

    /// Opens an existing file with `flags` (O_CLOEXEC added).
    public static func openExisting(_ path: String, flags: Int32) throws(SnapshotError) -> Int32 {
        if let simulated { return try simulated.openExisting(path, flags: flags) }
        let fd = Glibc.open(path, flags | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SnapshotError(path: path, kind: .io(errorText("open", path))) }
        return fd
    }

    /// Reads exactly `buffer.count` bytes at `offset`; a short file is the caller's `truncated`.
    public static func readAll(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String) throws(SnapshotError) -> Int {
        if let simulated { return try simulated.read(fd, into: buffer, at: offset, path: path) }
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

    /// fsync: the file's data and metadata.
    public static func sync(_ fd: Int32, path: String) throws(SnapshotError) {
        if let simulated { return try simulated.sync(fd, path: path) }
        while fsync(fd) != 0 {
            if errno == EINTR { continue }
            throw SnapshotError(path: path, kind: .io(errorText("fsync", path)))
        }
    }

    /// Makes a rename in `directory` durable.
    public static func syncDirectory(_ directory: String, reportingAs path: String) throws(SnapshotError) {
        if let simulated { return try simulated.syncDirectory(directory, reportingAs: path) }
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SnapshotError(path: path, kind: .io(errorText("open", directory))) }
        defer { _ = Glibc.close(fd) }
        try sync(fd, path: directory)
    }

    public static func move(_ from: String, _ to: String) throws(SnapshotError) {
        if let simulated { return try simulated.move(from, to) }
        guard rename(from, to) == 0 else {
            throw SnapshotError(path: to, kind: .io(errorText("rename \(from) to", to)))
        }
    }

    /// Removes a file and makes the removal durable (the directory is fsynced).
    public static func removeDurably(_ path: String, directory: String) throws(SnapshotError) {
        try remove(path)
        try syncDirectory(directory, reportingAs: path)
    }

    /// Removes a file (no error when it is already gone); durable only after `syncDirectory`.
    public static func remove(_ path: String) throws(SnapshotError) {
        if let simulated { return try simulated.remove(path) }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw SnapshotError(path: path, kind: .io(errorText("unlink", path)))
        }
    }

    /// Whether `path` exists (lstat; a simulated disk answers for the paths it holds).
    public static func exists(_ path: String) -> Bool {
        if let simulated, let answer = simulated.exists(path) { return answer }
        var info = stat()
        return lstat(path, &info) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        if let simulated, let answer = simulated.isDirectory(path) { return answer }
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// Size in bytes of the file at `path`, nil when it does not exist.
    public static func fileSize(_ path: String) -> Int? {
        if let simulated, let answer = simulated.fileSize(path) { return answer }
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : nil
    }

    /// mkdir (an existing directory is not an error); durable only after `syncDirectory` of its parent.
    public static func makeDirectory(_ path: String) throws(SnapshotError) {
        if let simulated { return try simulated.makeDirectory(path) }
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw SnapshotError(path: path, kind: .io(errorText("mkdir", path))) }
    }

    /// Closes a descriptor `PosixFile` opened.
    public static func close(_ fd: Int32) {
        if let simulated { return simulated.close(fd) }
        _ = Glibc.close(fd)
    }

    /// Names in `directory` ("." and ".." included), in directory order; empty when it cannot be read.
    public static func names(in directory: String) -> [String] {
        if let simulated { return simulated.names(in: directory) }
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
