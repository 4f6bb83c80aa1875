import ZKFormat

/// File names in an Apache ZooKeeper `version-2` directory (`persistence/Util.java`,
/// `SnapStream.java`): `snapshot.<hex zxid>` with an optional `.gz` or `.snappy` suffix that
/// selects the stream mode, and `log.<hex zxid of the first txn>`. The hex is Java's
/// `Long.toHexString` (lowercase, no padding); parsing also takes padded or uppercase digits,
/// as `Long.parseLong(_, 16)` does.
public enum ZooKeeperFiles {
    public static let versionDirectoryName = "version-2"

    /// How a snapshot's bytes are stored, chosen by the file name's last suffix.
    public enum Compression: String, Sendable, Equatable {
        case none
        case gzip = "gz"
        case snappy
    }

    public struct SnapshotFile: Sendable, Equatable {
        public var path: String
        public var zxid: Int64
        public var compression: Compression
    }

    public struct LogFile: Sendable, Equatable {
        public var path: String
        /// The zxid in the name: the first txn the file was started for.
        public var zxid: Int64
    }

    /// `snapshot.<hex>[.gz|.snappy]` → zxid and compression; nil for any other name.
    public static func parseSnapshotName(_ name: String) -> (zxid: Int64, compression: Compression)? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3, parts[0] == "snapshot", let zxid = parseHex(parts[1]) else { return nil }
        if parts.count == 2 { return (zxid, .none) }
        switch parts[2] {
        case "gz": return (zxid, .gzip)
        case "snappy": return (zxid, .snappy)
        default: return nil
        }
    }

    /// `log.<hex>` → zxid; nil for any other name.
    public static func parseLogName(_ name: String) -> Int64? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == "log" else { return nil }
        return parseHex(parts[1])
    }

    /// The name ZooKeeper gives a snapshot at `zxid` (`FileTxnSnapLog.save`).
    public static func snapshotName(zxid: Int64, compression: Compression = .none) -> String {
        let base = "snapshot." + String(UInt64(bitPattern: zxid), radix: 16)
        return compression == .none ? base : base + "." + compression.rawValue
    }

    public static func logName(zxid: Int64) -> String { "log." + String(UInt64(bitPattern: zxid), radix: 16) }

    static func parseHex(_ digits: Substring) -> Int64? {
        guard !digits.isEmpty, digits.count <= 16, let value = UInt64(digits, radix: 16) else { return nil }
        let zxid = Int64(bitPattern: value)
        return zxid >= 0 ? zxid : nil
    }

    /// The directory holding the files: `directory/version-2` when it exists, else `directory`
    /// itself (so both a ZooKeeper `dataDir` and its `version-2` are accepted).
    public static func resolveVersionDirectory(_ directory: String) throws(ZooKeeperMigrationError) -> String {
        let trimmed = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        guard ZooKeeperPosix.isDirectory(trimmed) else {
            throw ZooKeeperMigrationError(.usage, "\(directory) is not a directory")
        }
        let nested = trimmed + "/" + versionDirectoryName
        return ZooKeeperPosix.isDirectory(nested) ? nested : trimmed
    }

    /// ZooKeeper's dataDir for its `version-2` directory (where `myid` lives); a directory not
    /// named version-2 is its own dataDir.
    public static func dataDirectory(ofVersionDirectory directory: String) -> String {
        guard directory.hasSuffix("/" + versionDirectoryName) else { return directory }
        let parent = String(directory.dropLast(versionDirectoryName.count + 1))
        return parent.isEmpty ? "/" : parent
    }

    /// An epoch file (`acceptedEpoch`, `currentEpoch`) in a version-2 directory; nil when absent.
    public static func epoch(_ name: String, in directory: String) throws(ZooKeeperMigrationError) -> Int64? {
        do {
            return try ZabEpochFiles.read(directory: directory, name: name)
        } catch {
            throw ZooKeeperMigrationError(.corrupt, "\(error)")
        }
    }

    /// Snapshots in `directory`, newest (highest zxid) first.
    public static func snapshots(in directory: String) -> [SnapshotFile] {
        (ZooKeeperPosix.names(in: directory) ?? []).compactMap { name -> SnapshotFile? in
            guard let parsed = parseSnapshotName(name) else { return nil }
            return SnapshotFile(path: directory + "/" + name, zxid: parsed.zxid, compression: parsed.compression)
        }.sorted { ($0.zxid, $0.path) > ($1.zxid, $1.path) }
    }

    /// Logs in `directory`, oldest first.
    public static func logs(in directory: String) -> [LogFile] {
        (ZooKeeperPosix.names(in: directory) ?? []).compactMap { name -> LogFile? in
            parseLogName(name).map { LogFile(path: directory + "/" + name, zxid: $0) }
        }.sorted { $0.zxid < $1.zxid }
    }

    /// The logs that can hold txns after `snapshotZxid` (`FileTxnLog.getLogFiles`): the newest
    /// log started at or before it, and every later one. Older logs are not read at all.
    public static func logsNeeded(_ logs: [LogFile], after snapshotZxid: Int64) -> [LogFile] {
        var startZxid: Int64 = 0
        for log in logs where log.zxid <= snapshotZxid { startZxid = max(startZxid, log.zxid) }
        return logs.filter { $0.zxid >= startZxid }
    }
}
