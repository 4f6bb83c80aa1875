import ZKFormat
import ZKBase
import Glibc

/// A Paddock data directory (FORMAT.md section 1):
///
/// ```
/// <dataDir>/paddock-version     "paddock-data-format 1\n"
/// <dataDir>/paddock.lock        flock(LOCK_EX) by the one process that may write; holds its pid
/// <dataDir>/snapshots/          snapshot.<zxid>, .snapshot.<zxid>.<random>.tmp (deleted at open)
/// <dataLogDir>/log/             the LMDB environment (data.mdb, lock.mdb)
/// ```
///
/// `open` takes the lock first (when asked), then checks or writes the version file, then creates
/// the subdirectories. Read-only tools pass `lock: false`: they neither take the lock nor delete
/// leftover temp files. The lock is held until `release()` or deinit; the descriptor is
/// close-on-exec, so child processes never inherit it.
public final class DataDirectory: @unchecked Sendable {
    /// The format this code reads and writes.
    public static let formatVersion = 1
    public static let versionFileName = "paddock-version"
    public static let lockFileName = "paddock.lock"
    /// ZooKeeper's `myid`: the operator writes the member's id into dataDir before the first start,
    /// so an otherwise empty directory holding only it is a new data directory, not a foreign one.
    public static let memberIdFileName = "myid"
    static let versionLinePrefix = "paddock-data-format "

    public let dataDirectory: String
    public let snapshotDirectory: String
    public let logDirectory: String
    /// The flock'ed descriptor, -1 when not held. Guarded by `mutex`.
    private var lockDescriptor: Int32
    private let mutex = NSLockLike()

    private init(dataDirectory: String, snapshotDirectory: String, logDirectory: String, lockDescriptor: Int32) {
        self.dataDirectory = dataDirectory
        self.snapshotDirectory = snapshotDirectory
        self.logDirectory = logDirectory
        self.lockDescriptor = lockDescriptor
    }

    deinit { release() }

    /// True while this instance holds `paddock.lock`.
    public var isLocked: Bool { mutex.withLock { lockDescriptor >= 0 } }

    /// Opens (and with `createIfMissing`, initialises) a data directory. `dataLogDirectory`
    /// defaults to `dataDirectory`; the log lives in its `log/` subdirectory.
    /// `alongsideZooKeeper`: an Apache ZooKeeper dataDir (its `version-2/`) may become a Paddock
    /// data directory too (an import in place: the server started with ZooKeeper's zoo.cfg).
    public static func open(
        dataDirectory: String, dataLogDirectory: String? = nil, createIfMissing: Bool, lock: Bool,
        alongsideZooKeeper: Bool = false
    ) throws(DataDirectoryError) -> DataDirectory {
        let snapshotDirectory = dataDirectory + "/snapshots"
        let logDirectory = (dataLogDirectory ?? dataDirectory) + "/log"
        try ensureDirectory(dataDirectory, create: createIfMissing)
        let descriptor: Int32 = lock ? try acquireLock(dataDirectory) : -1
        let directory = DataDirectory(
            dataDirectory: dataDirectory, snapshotDirectory: snapshotDirectory,
            logDirectory: logDirectory, lockDescriptor: descriptor)
        // From here on a failure releases the lock through deinit.
        try checkVersion(dataDirectory, create: createIfMissing, alongsideZooKeeper: alongsideZooKeeper)
        try ensureDirectory(snapshotDirectory, create: createIfMissing)
        if let dataLogDirectory { try ensureDirectory(dataLogDirectory, create: createIfMissing) }
        try ensureDirectory(logDirectory, create: createIfMissing)
        if lock { try removeTemporarySnapshots(snapshotDirectory) }
        return directory
    }

    /// Releases the lock (idempotent). The pid stays in the file; it is informational only.
    public func release() {
        mutex.withLock {
            guard lockDescriptor >= 0 else { return }
            flock(lockDescriptor, LOCK_UN)
            close(lockDescriptor)
            lockDescriptor = -1
        }
    }

    // MARK: - Steps of open

    static func acquireLock(_ dataDirectory: String) throws(DataDirectoryError) -> Int32 {
        let path = dataDirectory + "/" + lockFileName
        let descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            let holder = readPid(descriptor)
            close(descriptor)
            if code == EWOULDBLOCK { throw DataDirectoryError(kind: .locked(pid: holder), path: path) }
            throw .io(path: path, operation: "flock", errno: code)
        }
        let pidLine = Array("\(getpid())\n".utf8)
        let written = pidLine.withUnsafeBytes { bytes in
            ftruncate(descriptor, 0) == 0 ? pwrite(descriptor, bytes.baseAddress, bytes.count, 0) : -1
        }
        guard written == pidLine.count else {
            let code = errno
            close(descriptor)
            throw .io(path: path, operation: "write pid", errno: code)
        }
        return descriptor
    }

    static func readPid(_ descriptor: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0..<count], as: UTF8.self)
        return Int32(text.split(whereSeparator: { $0 == "\n" || $0 == " " }).first ?? "")
    }

    /// ZooKeeper's own directory in its dataDir.
    public static let zooKeeperVersionDirectoryName = "version-2"
    /// Where `paddock data export-zk` moves Paddock's files when it hands a data directory to
    /// ZooKeeper (`<prefix><wall-clock ms>`).
    public static let handedOverPrefix = "paddock-before-export-"

    /// Names an Apache ZooKeeper dataDir may hold beside a Paddock data directory in it.
    public static func belongsToZooKeeperSide(_ name: String) -> Bool {
        name == memberIdFileName || name == zooKeeperVersionDirectoryName || name.hasPrefix(handedOverPrefix)
    }

    static func checkVersion(_ dataDirectory: String, create: Bool, alongsideZooKeeper: Bool = false) throws(DataDirectoryError) {
        let path = dataDirectory + "/" + versionFileName
        switch try readSmallFile(path) {
        case .some(let contents):
            let line = contents.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
            guard line.hasPrefix(versionLinePrefix), let version = Int(line.dropFirst(versionLinePrefix.count)) else {
                throw DataDirectoryError(kind: .unsupportedVersion(line), path: path)
            }
            guard version == formatVersion else {
                throw DataDirectoryError(kind: .unsupportedVersion(line), path: path)
            }
        case .none:
            let others = try listDirectory(dataDirectory).filter {
                $0 != lockFileName && $0 != memberIdFileName && !(alongsideZooKeeper && belongsToZooKeeperSide($0))
            }
            guard others.isEmpty else {
                throw DataDirectoryError(kind: .notADataDirectory(found: others.sorted()), path: dataDirectory)
            }
            guard create else { throw DataDirectoryError(kind: .missing, path: path) }
            try writeFileDurably(path, contents: versionLinePrefix + "\(formatVersion)\n", directory: dataDirectory)
        }
    }

    static func removeTemporarySnapshots(_ snapshotDirectory: String) throws(DataDirectoryError) {
        for name in try listDirectory(snapshotDirectory) where name.hasPrefix(".snapshot.") && name.hasSuffix(".tmp") {
            let path = snapshotDirectory + "/" + name
            guard unlink(path) == 0 || errno == ENOENT else { throw .io(path: path, operation: "unlink", errno: errno) }
        }
    }

    // MARK: - File helpers (errno in, typed error out)

    static func ensureDirectory(_ path: String, create: Bool) throws(DataDirectoryError) {
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw .io(path: path, operation: "stat", message: "not a directory") }
            return
        }
        guard errno == ENOENT else { throw .io(path: path, operation: "stat", errno: errno) }
        guard create else { throw DataDirectoryError(kind: .missing, path: path) }
        let parent = parentDirectory(path)
        if parent != path { try ensureDirectory(parent, create: true) }
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw .io(path: path, operation: "mkdir", errno: errno) }
        try syncDirectory(parent)
    }

    static func parentDirectory(_ path: String) -> String {
        let trimmed = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    static func readSmallFile(_ path: String) throws(DataDirectoryError) -> String? {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            throw .io(path: path, operation: "open", errno: errno)
        }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count >= 0 else { throw .io(path: path, operation: "read", errno: errno) }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    /// Writes `<path>.tmp`, fsyncs it, renames it over `path`, fsyncs the directory.
    static func writeFileDurably(_ path: String, contents: String, directory: String) throws(DataDirectoryError) {
        let temporary = path + ".tmp"
        let descriptor = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .io(path: temporary, operation: "open", errno: errno) }
        let bytes = Array(contents.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = written == bytes.count && fsync(descriptor) == 0
        let code = errno
        close(descriptor)
        guard synced else { throw .io(path: temporary, operation: "write", errno: code) }
        guard rename(temporary, path) == 0 else { throw .io(path: path, operation: "rename", errno: errno) }
        try syncDirectory(directory)
    }

    static func syncDirectory(_ path: String) throws(DataDirectoryError) {
        let descriptor = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .io(path: path, operation: "open directory", errno: errno) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw .io(path: path, operation: "fsync directory", errno: errno) }
    }

    static func listDirectory(_ path: String) throws(DataDirectoryError) -> [String] {
        guard let stream = opendir(path) else { throw .io(path: path, operation: "opendir", errno: errno) }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

/// An operating error while opening a data directory: what went wrong and on which path.
public struct DataDirectoryError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// Another open file description holds `paddock.lock`; `pid` is what it wrote there.
        case locked(pid: Int32?)
        /// `paddock-version` names a format this build does not read (the line as found).
        case unsupportedVersion(String)
        /// The directory has content but no `paddock-version` (e.g. a ZooKeeper data dir).
        case notADataDirectory(found: [String])
        /// A path does not exist and `createIfMissing` was false.
        case missing
        /// A system call failed.
        case io(String)
    }

    public var kind: Kind
    public var path: String

    public init(kind: Kind, path: String) {
        self.kind = kind
        self.path = path
    }

    static func io(path: String, operation: String, errno code: Int32) -> DataDirectoryError {
        io(path: path, operation: operation, message: "\(String(cString: strerror(code))) (errno \(code))")
    }

    static func io(path: String, operation: String, message: String) -> DataDirectoryError {
        DataDirectoryError(kind: .io("\(operation): \(message)"), path: path)
    }

    public var description: String {
        switch kind {
        case .locked(let pid):
            let holder = pid.map { "process \($0)" } ?? "another process"
            return "data directory is locked by \(holder) (\(path)); is another Paddock running on it?"
        case .unsupportedVersion(let line):
            return "unsupported data directory format '\(line)' in \(path); this Paddock reads "
                + "'\(DataDirectory.versionLinePrefix)\(DataDirectory.formatVersion)' only"
        case .notADataDirectory(let found):
            return "\(path) is not a Paddock data directory: it has no \(DataDirectory.versionFileName) "
                + "but contains \(found.prefix(5).joined(separator: ", "))"
        case .missing:
            return "\(path) does not exist (and creation was not requested)"
        case .io(let message):
            return "\(path): \(message)"
        }
    }
}
