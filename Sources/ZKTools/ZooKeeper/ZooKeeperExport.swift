import ZKBase
import ZKFormat
import ZKStorage
import ZKTree

public struct ZooKeeperExportOptions: Sendable {
    public var dataDirectory: String
    public var dataLogDirectory: String?
    /// ZooKeeper's `dataDir`: the snapshot goes to its `version-2`.
    public var zookeeperDirectory: String
    public var compression: ZooKeeperFiles.Compression = .none
    public var includeDigest = true
    public var force = false

    public init(dataDirectory: String, dataLogDirectory: String? = nil, zookeeperDirectory: String,
                compression: ZooKeeperFiles.Compression = .none, force: Bool = false) {
        self.dataDirectory = dataDirectory
        self.dataLogDirectory = dataLogDirectory
        self.zookeeperDirectory = zookeeperDirectory
        self.compression = compression
        self.force = force
    }
}

/// What `paddock data export-zk` wrote.
public struct ZooKeeperExportReport: Sendable {
    public var snapshot: ZooKeeperSnapshotWriteReport
    /// The Paddock snapshot recovery started from, and the txns replayed after it.
    public var recoveredFrom: String?
    public var txnsReplayed: Int
    /// ZooKeeper files that were in the target and were moved aside (with --force).
    public var movedAside: [String]
    public var movedTo: String?
    public var elapsedMs: Int64
}

/// `paddock data export-zk`: recovers a Paddock data directory exactly as the server would
/// (read-only: no lock, LMDB opened MDB_RDONLY, so it can run next to a live server) and writes
/// the tree as `<ZKDIR>/version-2/snapshot.<hex last zxid>`, which Apache ZooKeeper 3.8 loads
/// with no log. ZooKeeper needs nothing else to start standalone; a quorum member creates its
/// `currentEpoch`/`acceptedEpoch` from the snapshot's zxid when they are missing.
public enum ZooKeeperExport {
    public static func run(_ options: ZooKeeperExportOptions) throws(ZooKeeperMigrationError) -> ZooKeeperExportReport {
        let started = ZooKeeperImport.monotonicMs()
        let (tree, recovery) = try recover(options)
        let versionDirectory = options.zookeeperDirectory + "/" + ZooKeeperFiles.versionDirectoryName
        try ZooKeeperPosix.makeDirectories(versionDirectory)
        let existing = (ZooKeeperPosix.names(in: versionDirectory) ?? []).filter {
            ZooKeeperFiles.parseLogName($0) != nil || $0.hasPrefix("snapshot.")
        }.sorted()
        var movedTo: String?
        if !existing.isEmpty {
            guard options.force else {
                throw ZooKeeperMigrationError(.usage, "\(versionDirectory) already holds ZooKeeper data (\(existing.prefix(5).joined(separator: ", "))); ZooKeeper would replay its logs over the export. Use an empty directory, or pass --force to move those files aside")
            }
            let aside = versionDirectory + "/before-paddock-export-\(ZooKeeperImport.wallClockMs())"
            try ZooKeeperPosix.makeDirectories(aside)
            for name in existing { try ZooKeeperPosix.rename(versionDirectory + "/" + name, to: aside + "/" + name) }
            try ZooKeeperPosix.syncDirectory(versionDirectory)
            movedTo = aside
        }
        let snapshot = try ZooKeeperSnapshotWriter.write(
            tree: tree, zxid: tree.lastProcessedZxid, directory: versionDirectory,
            compression: options.compression, includeDigest: options.includeDigest)
        return ZooKeeperExportReport(
            snapshot: snapshot, recoveredFrom: recovery.snapshotPath, txnsReplayed: recovery.txnsReplayed,
            movedAside: existing, movedTo: movedTo, elapsedMs: ZooKeeperImport.monotonicMs() - started)
    }

    /// The server's own recovery, read-only.
    static func recover(_ options: ZooKeeperExportOptions) throws(ZooKeeperMigrationError) -> (DataTree, RecoveryReport) {
        let directory: DataDirectory
        do {
            directory = try DataDirectory.open(
                dataDirectory: options.dataDirectory, dataLogDirectory: options.dataLogDirectory,
                createIfMissing: false, lock: false)
        } catch {
            throw ZooKeeperMigrationError(.usage, "\(error)")
        }
        let log: LMDBTransactionLog
        do {
            log = try LMDBTransactionLog(directory: directory.logDirectory, configuration: LMDBConfiguration(readOnly: true))
        } catch {
            throw ZooKeeperMigrationError(.io, "opening the Paddock log read-only: \(error)")
        }
        defer { log.close() }
        do {
            return try Recovery.recover(snapshotDirectory: directory.snapshotDirectory, log: log)
        } catch {
            throw ZooKeeperMigrationError(.inconsistent, "recovering \(options.dataDirectory): \(error)")
        }
    }
}
