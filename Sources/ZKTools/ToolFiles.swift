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

    /// A `SnapshotError` from `PosixFile` as the tools report it.
    static func error(_ failure: SnapshotError) -> ToolError { .io("\(failure)") }

    // The helpers below go through `PosixFile`, so a crash test can put a simulated disk under
    // a tool (`paddock data repair`'s power-loss test); nothing else ever sets one.

    /// Writes all of `bytes` at the descriptor's position (a descriptor from `createFile`).
    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws(ToolError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(SnapshotError) in try PosixFile.writeAll(descriptor, raw, path: path) }
        }
        if case .failure(let failure) = result { throw Self.error(failure) }
    }

    /// Creates (or truncates) `path` for writing.
    static func createFile(_ path: String) throws(ToolError) -> Int32 {
        do { return try PosixFile.openForWriting(path) } catch { throw Self.error(error) }
    }

    static func sync(_ descriptor: Int32, path: String) throws(ToolError) {
        do { try PosixFile.sync(descriptor, path: path) } catch { throw Self.error(error) }
    }

    static func close(_ descriptor: Int32) { PosixFile.close(descriptor) }

    /// Writes a whole file, fsyncs it and its directory.
    static func writeDurably(_ path: String, _ bytes: [UInt8]) throws(ToolError) {
        let descriptor = try createFile(path)
        defer { close(descriptor) }
        try writeAll(descriptor, bytes, path: path)
        try sync(descriptor, path: path)
        try syncDirectory(parent(path))
    }

    static func syncDirectory(_ path: String) throws(ToolError) {
        do { try PosixFile.syncDirectory(path, reportingAs: path) } catch { throw Self.error(error) }
    }

    /// Creates `path` (and missing parents), fsyncing each parent it changed.
    static func makeDirectory(_ path: String) throws(ToolError) {
        if isDirectory(path) { return }
        let parentPath = parent(path)
        if parentPath != path && !isDirectory(parentPath) { try makeDirectory(parentPath) }
        do { try PosixFile.makeDirectory(path) } catch { throw Self.error(error) }
        try syncDirectory(parentPath)
    }

    static func isDirectory(_ path: String) -> Bool { PosixFile.isDirectory(path) }

    static func exists(_ path: String) -> Bool { PosixFile.exists(path) }

    /// Size in bytes, nil when the file does not exist.
    static func size(_ path: String) -> Int? { PosixFile.fileSize(path) }

    /// Names in a directory, sorted, without "." and ".."; empty when it cannot be read.
    static func names(in directory: String) -> [String] {
        PosixFile.names(in: directory).filter { $0 != "." && $0 != ".." }.sorted()
    }

    /// rename(2); both directories are fsynced afterwards so the move is durable.
    static func move(_ from: String, to: String) throws(ToolError) {
        guard !exists(to) else { throw .io("move \(from): \(to) already exists") }
        do { try PosixFile.move(from, to) } catch { throw Self.error(error) }
        try syncDirectory(parent(to))
        if parent(from) != parent(to) { try syncDirectory(parent(from)) }
    }

    /// Removes a file (no error when it is already gone); durable after `syncDirectory`.
    static func remove(_ path: String) {
        try? PosixFile.remove(path)
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
        do {
            descriptor = try PosixFile.openForReading(path)
        } catch {
            throw ToolFiles.error(error)
        }
        do {
            size = try PosixFile.size(descriptor, path: path)
        } catch {
            PosixFile.close(descriptor)
            throw ToolFiles.error(error)
        }
    }

    deinit { PosixFile.close(descriptor) }

    /// Exactly `count` bytes at `offset` (fewer only past the end of the file).
    func read(at offset: Int, count: Int) throws(ToolError) -> [UInt8] {
        precondition(offset >= 0 && count >= 0, "negative read")
        var bytes = [UInt8](repeating: 0, count: count)
        let result = bytes.withUnsafeMutableBytes { raw in
            Result { () throws(SnapshotError) in try PosixFile.readAll(descriptor, into: raw, at: offset, path: path) }
        }
        switch result {
        case .success(let done): return Array(bytes.prefix(done))
        case .failure(let failure): throw ToolFiles.error(failure)
        }
    }
}
