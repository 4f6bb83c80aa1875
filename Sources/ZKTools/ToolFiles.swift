import Glibc
import ZKFormat

/// Big-endian integers for the records file (the on-disk formats are all big-endian).
enum BigEndianBytes {
    static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    static func read<T: FixedWidthInteger>(_ type: T.Type, from buffer: UnsafeRawBufferPointer, at offset: Int) -> T {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= buffer.count, "read past the end of a buffer")
        return T(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    static func hex<T: FixedWidthInteger>(_ value: T) -> String { "0x" + String(value, radix: 16) }
}

/// POSIX file helpers for the tools: errno becomes a ToolError naming the path.
enum ToolFiles {
    static func error(_ operation: String, _ path: String) -> ToolError {
        .io("\(operation) \(path): \(String(cString: strerror(errno)))")
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func name(_ path: String) -> String {
        path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
    }

    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws(ToolError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw error("write", path)
            }
            offset += written
        }
    }

    static func syncDirectory(_ path: String) throws(ToolError) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw error("open directory", path) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw error("fsync directory", path) }
    }

    /// Creates `path` (and missing parents), fsyncing each parent it changed.
    static func makeDirectory(_ path: String) throws(ToolError) {
        if isDirectory(path) { return }
        let parentPath = parent(path)
        if parentPath != path && !isDirectory(parentPath) { try makeDirectory(parentPath) }
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw error("mkdir", path) }
        try syncDirectory(parentPath)
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Size in bytes, nil when the file does not exist.
    static func size(_ path: String) -> Int? {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : nil
    }

    /// Names in a directory, sorted, without "." and ".."; empty when it cannot be read.
    static func names(in directory: String) -> [String] {
        PosixFile.names(in: directory).filter { $0 != "." && $0 != ".." }.sorted()
    }

    /// rename(2); both directories are fsynced afterwards so the move is durable.
    static func move(_ from: String, to: String) throws(ToolError) {
        guard !exists(to) else { throw .io("move \(from): \(to) already exists") }
        guard rename(from, to) == 0 else { throw error("rename \(from) to", to) }
        try syncDirectory(parent(to))
        if parent(from) != parent(to) { try syncDirectory(parent(from)) }
    }

    static func readWhole(_ path: String) throws(ToolError) -> [UInt8] {
        let file = try BufferedFile(path: path)
        return try file.read(at: 0, count: file.size)
    }
}

/// A read-only file read with pread at given offsets.
final class BufferedFile {
    let path: String
    let size: Int
    private let descriptor: Int32

    init(path: String) throws(ToolError) {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ToolFiles.error("open", path) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let failure = ToolFiles.error("stat", path)
            close(descriptor)
            throw failure
        }
        size = Int(info.st_size)
    }

    deinit { close(descriptor) }

    /// Exactly `count` bytes at `offset` (fewer only past the end of the file).
    func read(at offset: Int, count: Int) throws(ToolError) -> [UInt8] {
        precondition(offset >= 0 && count >= 0, "negative read")
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if got < 0 {
                if errno == EINTR { continue }
                throw ToolFiles.error("read", path)
            }
            if got == 0 { break }
            done += got
        }
        return Array(bytes.prefix(done))
    }
}
