#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few POSIX calls the ZooKeeper import/export needs, with errno turned into a
/// `ZooKeeperMigrationError.io` that names the path.
enum ZooKeeperPosix {
    static func ioError(_ operation: String, _ path: String, code: Int32 = errno) -> ZooKeeperMigrationError {
        ZooKeeperMigrationError(.io, "\(operation) \(path): \(String(cString: strerror(code))) (errno \(code))")
    }

    static func openForReading(_ path: String) throws(ZooKeeperMigrationError) -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError("open", path) }
        return fd
    }

    static func openForWriting(_ path: String) throws(ZooKeeperMigrationError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ioError("create", path) }
        return fd
    }

    /// Reads up to `buffer.count` bytes; 0 at end of file.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws(ZooKeeperMigrationError) -> Int {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno != EINTR { throw ioError("read", path) }
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(ZooKeeperMigrationError) {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw ioError("write", path)
            }
            offset += written
        }
    }

    static func sync(_ fd: Int32, path: String) throws(ZooKeeperMigrationError) {
        while fsync(fd) != 0 {
            if errno != EINTR { throw ioError("fsync", path) }
        }
    }

    static func syncDirectory(_ directory: String) throws(ZooKeeperMigrationError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError("open directory", directory) }
        defer { close(fd) }
        try sync(fd, path: directory)
    }

    static func rename(_ from: String, to: String) throws(ZooKeeperMigrationError) {
        guard Glibc.rename(from, to) == 0 else { throw ioError("rename \(from) to", to) }
    }

    static func unlink(_ path: String) throws(ZooKeeperMigrationError) {
        guard Glibc.unlink(path) == 0 || errno == ENOENT else { throw ioError("unlink", path) }
    }

    static func fileSize(_ fd: Int32, path: String) throws(ZooKeeperMigrationError) -> Int64 {
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw ioError("fstat", path) }
        return Int64(status.st_size)
    }

    static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
    }

    static func exists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }

    /// Creates `path` and missing parents.
    static func makeDirectories(_ path: String) throws(ZooKeeperMigrationError) {
        if isDirectory(path) { return }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try makeDirectories(String(path[..<slash]))
        }
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw ioError("mkdir", path) }
    }

    /// Names in `directory` without "." and ".."; nil when it cannot be read.
    static func names(in directory: String) -> [String]? {
        guard let handle = opendir(directory) else { return nil }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

extension ZooKeeperPosix {
    /// A small file's bytes (`myid`, an epoch file), at most `limit`.
    static func readSmallFile(_ path: String, limit: Int = 4096) throws(ZooKeeperMigrationError) -> [UInt8] {
        let fd = try openForReading(path)
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: limit)
        var count = 0
        while count < limit {
            let got = try bytes.withUnsafeMutableBytes { buffer in
                Result { () throws(ZooKeeperMigrationError) in
                    try read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[count...]), path: path)
                }
            }.get()
            if got == 0 { break }
            count += got
        }
        return Array(bytes[..<count])
    }

    /// Writes `bytes` to `path` as a whole or not at all: a temporary file, fsync, rename, then
    /// the directory is fsynced.
    static func writeDurably(_ path: String, _ bytes: [UInt8]) throws(ZooKeeperMigrationError) {
        let temporary = path + ".tmp"
        let fd = try openForWriting(temporary)
        do throws(ZooKeeperMigrationError) {
            try bytes.withUnsafeBytes { buffer in
                Result { () throws(ZooKeeperMigrationError) in try writeAll(fd, buffer, path: temporary) }
            }.get()
            try sync(fd, path: temporary)
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        try rename(temporary, to: path)
        let slash = path.lastIndex(of: "/")
        try syncDirectory(slash.map { String(path[..<$0]) } ?? ".")
    }

    static func copyDurably(_ source: String, to target: String) throws(ZooKeeperMigrationError) {
        try writeDurably(target, readSmallFile(source))
    }

    static func closeQuietly(_ fd: Int32) -> Int32 { close(fd) }
}
