#if canImport(Glibc)
import Glibc
#endif
import ZKBase
import ZKFormat
import ZKStorage
import ZKTree
import ZKWire

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
    /// An ensemble member's export: the log file holding the txns after the snapshot, their
    /// number, the epochs written beside them, and `myid` when it was copied.
    public var logFile: String? = nil
    public var txnsInLog = 0
    public var acceptedEpoch: Int64? = nil
    public var currentEpoch: Int64? = nil
    public var myidCopied: String? = nil
    /// An export into the data directory itself hands it to ZooKeeper: Paddock's own files
    /// (paddock-version, snapshots/, log/) were moved here, so a server started on the
    /// directory again imports ZooKeeper's files instead of resuming a stale history.
    public var paddockFilesMovedTo: String? = nil
}

/// `paddock data export-zk`: recovers a Paddock data directory exactly as the server would
/// (read-only: no lock, LMDB opened MDB_RDONLY, so it can run next to a live server) and writes
/// it where Apache ZooKeeper 3.8 starts from.
///
/// - A standalone server's directory: the whole tree as `<ZKDIR>/version-2/snapshot.<hex last
///   zxid>`, which ZooKeeper loads with no log.
/// - An ensemble member's (it has `acceptedEpoch`): what the member recovers as committed (its
///   snapshot and the snapshot's fuzzy window) as the snapshot, every later txn of its log as
///   `log.<hex first zxid>` (they may be proposals no quorum accepted: ZooKeeper must still be
///   able to truncate them, which it cannot do below a snapshot), and its `acceptedEpoch`,
///   `currentEpoch` and `myid` (a member that forgot its epochs could follow a deposed leader;
///   ZooKeeper refuses to start when currentEpoch is older than its last zxid).
public enum ZooKeeperExport {
    static let epochNames = [ZabEpochFiles.acceptedEpochName, ZabEpochFiles.currentEpochName]

    public static func run(_ options: ZooKeeperExportOptions) throws(ZooKeeperMigrationError) -> ZooKeeperExportReport {
        let started = ZooKeeperImport.monotonicMs()
        // In place, no server may be running on the directory: its lock is held throughout.
        let inPlace = samePath(options.zookeeperDirectory, options.dataDirectory)
        var held: DataDirectory?
        if inPlace {
            do {
                held = try DataDirectory.open(
                    dataDirectory: options.dataDirectory, dataLogDirectory: options.dataLogDirectory,
                    createIfMissing: false, lock: true)
            } catch {
                throw ZooKeeperMigrationError(.usage, "exporting into the data directory itself needs it unused: \(error)")
            }
        }
        defer { held?.release() }
        var (tree, recovery, member) = try recover(options)
        let versionDirectory = options.zookeeperDirectory + "/" + ZooKeeperFiles.versionDirectoryName
        try ZooKeeperPosix.makeDirectories(versionDirectory)
        let existing = (ZooKeeperPosix.names(in: versionDirectory) ?? []).filter {
            ZooKeeperFiles.parseLogName($0) != nil || $0.hasPrefix("snapshot.") || epochNames.contains($0)
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
        var report = ZooKeeperExportReport(
            snapshot: snapshot, recoveredFrom: recovery.snapshotPath, txnsReplayed: recovery.txnsReplayed,
            movedAside: existing, movedTo: movedTo, elapsedMs: 0)
        if let member {
            // Each logged txn with ZooKeeper's digest of the tree after it (the snapshot is
            // written; the tree is free to move on).
            if let first = member.tail.first {
                let writer = ZooKeeperTxnLogWriter(path: versionDirectory + "/" + ZooKeeperFiles.logName(zxid: first.txn.zxid))
                for record in member.tail {
                    _ = tree.apply(record.txn)
                    writer.append(record.txn, digest: ZooKeeperTxnDigest(version: ZooKeeperDigest.version, value: ZooKeeperDigest.treeDigest(tree)))
                }
                try writer.finishDurably()
                report.logFile = writer.path
                report.txnsInLog = member.tail.count
            }
            do {
                try ZabEpochFiles.write(directory: versionDirectory, name: ZabEpochFiles.acceptedEpochName, value: member.acceptedEpoch)
                try ZabEpochFiles.write(directory: versionDirectory, name: ZabEpochFiles.currentEpochName, value: member.currentEpoch)
            } catch {
                throw ZooKeeperMigrationError(.io, "writing the epochs: \(error)")
            }
            report.acceptedEpoch = member.acceptedEpoch
            report.currentEpoch = member.currentEpoch
            let myid = options.zookeeperDirectory + "/myid"
            let source = options.dataDirectory + "/myid"
            if ZooKeeperPosix.exists(source) && !ZooKeeperPosix.exists(myid) {
                try ZooKeeperPosix.copyDurably(source, to: myid)
                report.myidCopied = myid
            }
        }
        if inPlace { report.paddockFilesMovedTo = try handOver(options) }
        report.elapsedMs = ZooKeeperImport.monotonicMs() - started
        return report
    }

    /// Moves Paddock's files out of the way once ZooKeeper's are durable: `paddock-version`
    /// first (from then on the server would import ZooKeeper's files again), then the
    /// snapshots and the log.
    static func handOver(_ options: ZooKeeperExportOptions) throws(ZooKeeperMigrationError) -> String {
        let stamp = ZooKeeperImport.wallClockMs()
        let aside = options.dataDirectory + "/" + DataDirectory.handedOverPrefix + "\(stamp)"
        try ZooKeeperPosix.makeDirectories(aside)
        for name in [DataDirectory.versionFileName, "snapshots"] where ZooKeeperPosix.exists(options.dataDirectory + "/" + name) {
            try ZooKeeperPosix.rename(options.dataDirectory + "/" + name, to: aside + "/" + name)
        }
        let logRoot = options.dataLogDirectory ?? options.dataDirectory
        if ZooKeeperPosix.exists(logRoot + "/log") {
            let logAside = options.dataLogDirectory == nil ? aside : logRoot + "/" + DataDirectory.handedOverPrefix + "\(stamp)"
            try ZooKeeperPosix.makeDirectories(logAside)
            try ZooKeeperPosix.rename(logRoot + "/log", to: logAside + "/log")
            try ZooKeeperPosix.syncDirectory(logRoot)
        }
        try ZooKeeperPosix.syncDirectory(options.dataDirectory)
        return aside
    }

    static func samePath(_ a: String, _ b: String) -> Bool {
        guard let left = realpath(a, nil) else { return false }
        defer { free(left) }
        guard let right = realpath(b, nil) else { return false }
        defer { free(right) }
        return strcmp(left, right) == 0
    }

    /// An ensemble member's state beyond its committed tree.
    struct MemberState {
        var acceptedEpoch: Int64
        var currentEpoch: Int64
        /// Log records after the recovered tree's zxid, not applied to it.
        var tail: [DecodedLogRecord]
    }

    /// The server's own recovery, read-only: a standalone server's whole log, or a member's
    /// committed tree and the rest of its log.
    static func recover(_ options: ZooKeeperExportOptions) throws(ZooKeeperMigrationError) -> (DataTree, RecoveryReport, MemberState?) {
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
        let accepted = try ZooKeeperFiles.epoch(ZabEpochFiles.acceptedEpochName, in: directory.snapshotDirectory)
        let current = try ZooKeeperFiles.epoch(ZabEpochFiles.currentEpochName, in: directory.snapshotDirectory)
        let tree: DataTree
        let report: RecoveryReport
        do {
            (tree, report) = try Recovery.recover(snapshotDirectory: directory.snapshotDirectory, log: log, replayWholeLog: accepted == nil)
        } catch {
            throw ZooKeeperMigrationError(.inconsistent, "recovering \(options.dataDirectory): \(error)")
        }
        guard let accepted else { return (tree, report, nil) }
        var tail: [DecodedLogRecord] = []
        var cursor = tree.lastProcessedZxid
        do {
            while true {
                let records = try log.records(after: cursor, limit: 10_000)
                guard let last = records.last else { break }
                tail += records
                cursor = last.txn.zxid
            }
        } catch {
            throw ZooKeeperMigrationError(.inconsistent, "reading \(options.dataDirectory)'s log after \(ZxidMath.hex(cursor)): \(error)")
        }
        return (tree, report, MemberState(acceptedEpoch: accepted, currentEpoch: current ?? accepted, tail: tail))
    }
}
