import Glibc
import ZKBase
import ZKFormat
import ZKTestSupport

/// An in-process disk behind `PosixFile` (set with `PosixFile.$simulated.withValue`) that loses
/// what a power cut loses. A file's writes since its last fsync are volatile: a crash keeps a
/// random subset of them, in order, and tears the last kept one at a 512-byte boundary. Directory
/// changes (create, rename, remove) since the last directory fsync are volatile too: a crash keeps
/// a random prefix of them (a journaling file system applies metadata in order). `crashAt` makes
/// the n-th changing operation fail as the power goes out, and every later one.
///
/// Directories it makes (`makeDirectory`) are directory entries like files; a file whose
/// directory a crash did not keep is gone too. Paths in `realDirectories`, and files named in
/// `realNames` (LMDB's, the lock), are not its own: the real file system answers for them.
final class SimulatedDisk: SimulatedFileSystem, @unchecked Sendable {
    private struct File {
        var durable: [UInt8] = []
        var current: [UInt8] = []
        var unsynced: [(offset: Int, bytes: [UInt8])] = []
    }

    private enum DirectoryChange {
        case link(String, Int)
        case unlink(String)
        case move(String, String, Int)
    }

    private struct Open {
        var inode: Int
        var position: Int
        /// O_DSYNC: each write is durable when it returns.
        var durableWrites = false
    }

    /// The inode number a directory entry of a directory has (no file behind it).
    private static let directoryInode = 0
    /// Directories made here (ever): a file under one a crash did not keep is gone.
    private var madeDirectories: Set<String> = []
    /// A rename is one change (a journaling file system commits it in one transaction); false:
    /// an unlink then a link, which a crash may split (the original model).
    var renamesAreAtomic = false
    var realDirectories: Set<String> = []
    var realNames: Set<String> = []

    private var files: [Int: File] = [:]
    private var durableNames: [String: Int] = [:]
    private var names: [String: Int] = [:]
    private var unsyncedChanges: [DirectoryChange] = []
    private var descriptors: [Int32: Open] = [:]
    private var nextInode = 1
    private var nextDescriptor: Int32 = 1000
    /// Changing operations so far, and the one the power fails at (nil: never).
    private(set) var operations = 0
    var crashAt: Int?
    private(set) var crashed = false

    static let crashMessage = "simulated power loss"

    private func change(_ path: String) throws(SnapshotError) {
        if crashed { throw SnapshotError(path: path, kind: .io(Self.crashMessage)) }
        operations += 1
        if let crashAt, operations >= crashAt {
            crashed = true
            throw SnapshotError(path: path, kind: .io(Self.crashMessage))
        }
    }

    private func descriptor(_ fd: Int32, _ path: String) throws(SnapshotError) -> Open {
        guard let open = descriptors[fd] else { throw SnapshotError(path: path, kind: .io("bad descriptor \(fd)")) }
        return open
    }

    func openForWriting(_ path: String) throws(SnapshotError) -> Int32 {
        try change(path)
        let inode = nextInode
        nextInode += 1
        files[inode] = File()
        names[path] = inode
        unsyncedChanges.append(.link(path, inode))
        nextDescriptor += 1
        descriptors[nextDescriptor] = Open(inode: inode, position: 0)
        return nextDescriptor
    }

    func openExisting(_ path: String, flags: Int32) throws(SnapshotError) -> Int32 {
        if names[path] == nil || flags & O_TRUNC != 0 {
            guard flags & O_CREAT != 0 else { throw SnapshotError(path: path, kind: .io("open \(path): No such file or directory")) }
            let fd = try openForWriting(path)
            descriptors[fd]!.durableWrites = flags & O_DSYNC != 0
            return fd
        }
        let fd = try openForReading(path)
        descriptors[fd]!.durableWrites = flags & O_DSYNC != 0
        return fd
    }

    func exists(_ path: String) -> Bool? {
        if isReal(path) { return nil }
        return names[path] != nil
    }

    func isDirectory(_ path: String) -> Bool? {
        if isReal(path) { return nil }
        return names[path] == Self.directoryInode
    }

    func fileSize(_ path: String) -> Int? {
        if isReal(path) { return nil }
        guard let inode = names[path], inode != Self.directoryInode else { return nil }
        return files[inode]?.current.count ?? 0
    }

    func makeDirectory(_ path: String) throws(SnapshotError) {
        try change(path)
        guard names[path] == nil else { return }
        names[path] = Self.directoryInode
        madeDirectories.insert(path)
        unsyncedChanges.append(.link(path, Self.directoryInode))
    }

    private func isReal(_ path: String) -> Bool {
        realDirectories.contains(path) || realNames.contains(String(path.split(separator: "/").last ?? ""))
    }

    /// A crash point outside the file system (an LMDB commit): counts as an operation; true when
    /// the power fails here (then every later operation fails too).
    func crashPoint() -> Bool {
        (try? change("<crash point>")) == nil
    }

    /// Paths of every file (not directories) there is now.
    func fileNames() -> [String] {
        names.filter { $0.value != Self.directoryInode }.map(\.key).sorted()
    }

    /// The durable bytes of a file (nil: no such file).
    func durableContents(_ path: String) -> [UInt8]? {
        guard let inode = durableNames[path], inode != Self.directoryInode else { return nil }
        return files[inode]?.durable
    }

    /// Replaces a file's bytes, durably (damage made before a test's run).
    func overwriteDurably(_ path: String, _ bytes: [UInt8]) {
        let inode = names[path]!
        files[inode]!.durable = bytes
        files[inode]!.current = bytes
        files[inode]!.unsynced = []
    }

    func openForReading(_ path: String) throws(SnapshotError) -> Int32 {
        guard let inode = names[path] else { throw SnapshotError(path: path, kind: .io("open \(path): No such file or directory")) }
        nextDescriptor += 1
        descriptors[nextDescriptor] = Open(inode: inode, position: 0)
        return nextDescriptor
    }

    func size(_ fd: Int32, path: String) throws(SnapshotError) -> Int {
        files[try descriptor(fd, path).inode]?.current.count ?? 0
    }

    func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int?, path: String) throws(SnapshotError) {
        try change(path)
        var open = try descriptor(fd, path)
        let start = offset ?? open.position
        let data = Array(bytes)
        Self.apply(data, at: start, to: &files[open.inode]!.current)
        if open.durableWrites {
            Self.apply(data, at: start, to: &files[open.inode]!.durable)
        } else {
            files[open.inode]!.unsynced.append((start, data))
        }
        if offset == nil {
            open.position = start + data.count
            descriptors[fd] = open
        }
    }

    func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String) throws(SnapshotError) -> Int {
        let content = files[try descriptor(fd, path).inode]?.current ?? []
        guard offset < content.count else { return 0 }
        let count = min(buffer.count, content.count - offset)
        content.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
        return count
    }

    func sync(_ fd: Int32, path: String) throws(SnapshotError) {
        try change(path)
        let inode = try descriptor(fd, path).inode
        files[inode]!.durable = files[inode]!.current
        files[inode]!.unsynced = []
    }

    func close(_ fd: Int32) { descriptors[fd] = nil }

    func syncDirectory(_ directory: String, reportingAs path: String) throws(SnapshotError) {
        try change(path)
        durableNames = names
        unsyncedChanges = []
    }

    func move(_ from: String, _ to: String) throws(SnapshotError) {
        try change(to)
        guard let inode = names.removeValue(forKey: from) else { throw SnapshotError(path: to, kind: .io("rename \(from): No such file")) }
        names[to] = inode
        if renamesAreAtomic {
            unsyncedChanges.append(.move(from, to, inode))
        } else {
            unsyncedChanges.append(.unlink(from))
            unsyncedChanges.append(.link(to, inode))
        }
    }

    func remove(_ path: String) throws(SnapshotError) {
        try change(path)
        guard names.removeValue(forKey: path) != nil else { return }
        unsyncedChanges.append(.unlink(path))
    }

    func names(in directory: String) -> [String] {
        let prefix = directory + "/"
        return [".", ".."] + names.keys.filter { $0.hasPrefix(prefix) && !$0.dropFirst(prefix.count).contains("/") }
            .map { String($0.dropFirst(prefix.count)) }.sorted()
    }

    /// The power goes out: what reaches the platter is the durable state plus a random part of
    /// what was not synced; the process's view starts over from it.
    func powerLoss(_ random: inout SplitMix64) {
        crashed = true
        let keptChanges = random.below(unsyncedChanges.count + 1)
        for change in unsyncedChanges.prefix(keptChanges) {
            switch change {
            case .link(let path, let inode): durableNames[path] = inode
            case .unlink(let path): durableNames[path] = nil
            case .move(let from, let to, let inode):
                durableNames[from] = nil
                durableNames[to] = inode
            }
        }
        // Entries under a directory the crash did not keep are gone with it.
        for path in durableNames.keys where madeDirectories.contains(ToolFilesPath.parent(path)) {
            var parent = ToolFilesPath.parent(path)
            while madeDirectories.contains(parent) {
                if durableNames[parent] == nil {
                    durableNames[path] = nil
                    break
                }
                parent = ToolFilesPath.parent(parent)
            }
        }
        for inode in files.keys where inode != Self.directoryInode {
            var file = files[inode]!
            var content = file.durable
            let kept = file.unsynced.filter { _ in random.below(2) == 0 }
            for (index, write) in kept.enumerated() {
                var bytes = write.bytes
                if index == kept.count - 1 && random.below(2) == 0 {
                    bytes = Array(bytes.prefix(random.below(bytes.count / 512 + 1) * 512))
                }
                Self.apply(bytes, at: write.offset, to: &content)
            }
            file.durable = content
            file.current = content
            file.unsynced = []
            files[inode] = file
        }
        names = durableNames
        unsyncedChanges = []
        descriptors = [:]
        crashed = false
        crashAt = nil
    }

    private static func apply(_ bytes: [UInt8], at offset: Int, to content: inout [UInt8]) {
        if content.count < offset + bytes.count { content += [UInt8](repeating: 0, count: offset + bytes.count - content.count) }
        content.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
    }
}

enum ToolFilesPath {
    static func name(_ path: String) -> String {
        path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
