#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ZKBase
import ZKFormat
import ZKStorage
import ZKTree
import ZKWire

/// A file passed over, and why.
public struct ZooKeeperSkippedFile: Sendable, Equatable {
    public var path: String
    public var reason: String
}

/// What `paddock data import-zk` read and wrote.
public struct ZooKeeperImportReport: Sendable {
    public var snapshotDirectory = ""
    public var logDirectory = ""
    /// The snapshot the tree started from; nil when the directory had none (empty tree).
    public var snapshotUsed: String?
    public var snapshotZxid: Int64 = 0
    /// Newer snapshots that did not deserialize, newest first.
    public var skippedSnapshots: [ZooKeeperSkippedFile] = []
    public var logFilesRead: [String] = []
    /// Torn tails and header-less files, ignored as ZooKeeper ignores them.
    public var logNotes: [String] = []
    /// Txns with zxid > the snapshot's, applied in order.
    public var txnsReplayed = 0
    /// Txns at or before the snapshot's zxid (the logs hold them too), not applied.
    public var txnsSkipped = 0
    /// Times the tree's ZooKeeper digest was compared with one ZooKeeper recorded.
    public var digestsChecked = 0
    public var lastZxid: Int64 = 0
    /// The newest zxid ZooKeeper's own tree held (the snapshot's digest zxid, the end of its
    /// fuzzy window, else the snapshot's zxid): every txn through it was committed. Txns after
    /// it may be a proposal no quorum accepted, so they stay txns in the Paddock log, where an
    /// ensemble's leader can still truncate them, as ZooKeeper's log keeps them.
    public var committedZxid: Int64 = 0
    /// Txns after `committedZxid`, written as Paddock log records (not folded into the snapshot).
    public var txnsLogged = 0
    /// ZooKeeper's `acceptedEpoch` and `currentEpoch` (nil when the directory has none: a
    /// standalone ZooKeeper never writes them), carried into the Paddock data directory.
    public var acceptedEpoch: Int64?
    public var currentEpoch: Int64?
    /// `myid` copied from ZooKeeper's dataDir (nil when there was none or the target had one).
    public var myidCopied: String?
    public var znodes = 0
    public var sessions = 0
    public var ephemerals = 0
    public var containers = 0
    public var ttlNodes = 0
    public var digest: UInt64 = 0
    /// The Paddock snapshot written (nil for a dry load).
    public var paddockSnapshot: String?
    public var elapsedMs: Int64 = 0
}

public struct ZooKeeperImportOptions: Sendable {
    public var zookeeperDirectory: String
    public var zookeeperLogDirectory: String?
    public var dataDirectory: String
    public var dataLogDirectory: String?
    public var force = false
    /// Import into ZooKeeper's own dataDir (a server started on it with the same zoo.cfg): its
    /// `myid` and `version-2/` stay where they are beside the Paddock files.
    public var inPlace = false
    public var checkDigests = true
    public var snapshotLevel: Int32 = SnapshotWriter.defaultLevel

    public init(zookeeperDirectory: String, zookeeperLogDirectory: String? = nil, dataDirectory: String,
                dataLogDirectory: String? = nil, force: Bool = false, checkDigests: Bool = true) {
        self.zookeeperDirectory = zookeeperDirectory
        self.zookeeperLogDirectory = zookeeperLogDirectory
        self.dataDirectory = dataDirectory
        self.dataLogDirectory = dataLogDirectory
        self.force = force
        self.checkDigests = checkDigests
    }
}

/// `paddock data import-zk`: rebuilds ZooKeeper's tree as ZooKeeper's own startup would
/// (`FileTxnSnapLog.restore`) and stores it as a Paddock data directory.
///
/// 1. The newest snapshot that deserializes, older ones tried in turn (`FileSnap.deserialize`).
/// 2. Every txn with zxid > the snapshot's from the logs that can hold them
///    (`FileTxnLog.getLogFiles`), applied with `DataTree.apply`, which is idempotent as
///    ZooKeeper's `processTxn` is (the snapshot is fuzzy). Each log file ends at a zero length,
///    its end, or a torn entry; a bad Adler32 is an error naming the file and offset.
/// 3. Checks ZooKeeper does not make (it would start anyway): zxids after the snapshot follow
///    each other without a gap, and the tree's digest equals every digest ZooKeeper recorded
///    once the snapshot's fuzzy window has closed (the snapshot's own digest, then each txn's).
/// 4. One Paddock snapshot at the newest zxid ZooKeeper's tree held (committed), and a log
///    anchored there holding the txns after it (ZooKeeper's log may end in a proposal no quorum
///    accepted; a leader must still be able to truncate it). Sessions keep ids and timeouts.
/// 5. The member's ZAB state besides its history: `acceptedEpoch` and `currentEpoch` (a member
///    that forgot them could follow a deposed leader) and `myid`.
public enum ZooKeeperImport {
    /// Loads the tree without writing anything.
    public static func load(
        zookeeperDirectory: String, logDirectory: String? = nil, checkDigests: Bool = true
    ) throws(ZooKeeperMigrationError) -> (tree: DataTree, report: ZooKeeperImportReport) {
        let loaded = try loadHistory(zookeeperDirectory: zookeeperDirectory, logDirectory: logDirectory, checkDigests: checkDigests)
        return (loaded.tree, loaded.report)
    }

    /// What a data directory is built from: the tree through `report.committedZxid`, the txns
    /// after it (each with the ZooKeeper digest of the tree after it), and the whole tree.
    struct History {
        var committedTree: DataTree
        var tail: [LoggedTxn]
        var tree: DataTree
        var report: ZooKeeperImportReport
    }

    static func loadHistory(
        zookeeperDirectory: String, logDirectory: String?, checkDigests: Bool
    ) throws(ZooKeeperMigrationError) -> History {
        let started = monotonicMs()
        var report = ZooKeeperImportReport()
        report.snapshotDirectory = try ZooKeeperFiles.resolveVersionDirectory(zookeeperDirectory)
        report.logDirectory = try logDirectory.map { path throws(ZooKeeperMigrationError) in
            try ZooKeeperFiles.resolveVersionDirectory(path)
        } ?? report.snapshotDirectory
        let snapshots = ZooKeeperFiles.snapshots(in: report.snapshotDirectory)
        let logs = ZooKeeperFiles.logs(in: report.logDirectory)
        guard !snapshots.isEmpty || !logs.isEmpty else {
            throw ZooKeeperMigrationError(.usage, "\(report.snapshotDirectory) holds no ZooKeeper snapshot.* or log.* file")
        }
        var (tree, digest) = try loadSnapshot(snapshots, report: &report)
        report.committedZxid = max(report.snapshotZxid, digest?.zxid ?? 0)
        var replay = Replay(tree: tree, lastZxid: report.snapshotZxid, pendingDigest: digest, checkDigests: checkDigests,
                            committedZxid: report.committedZxid)
        if checkDigests, let pending = digest, pending.zxid == report.snapshotZxid {
            try replay.compare(pending.value, at: pending.zxid, source: "the digest in \(report.snapshotUsed ?? "")")
            replay.pendingDigest = nil
        }
        for log in ZooKeeperFiles.logsNeeded(logs, after: report.snapshotZxid) {
            try replayLog(log, replay: &replay, report: &report)
        }
        tree = replay.tree
        report.txnsLogged = replay.tail.count
        report.digestsChecked = replay.digestsChecked
        report.lastZxid = tree.lastProcessedZxid
        report.znodes = tree.nodeCount
        report.sessions = tree.sessions.count
        report.ephemerals = tree.ephemeralCount
        report.containers = tree.containers.count
        report.ttlNodes = tree.ttlNodes.count
        report.digest = ZooKeeperDigest.treeDigest(tree)
        report.acceptedEpoch = try ZooKeeperFiles.epoch(ZabEpochFiles.acceptedEpochName, in: report.snapshotDirectory)
        report.currentEpoch = try ZooKeeperFiles.epoch(ZabEpochFiles.currentEpochName, in: report.snapshotDirectory)
        if let accepted = report.acceptedEpoch, let current = report.currentEpoch,
           current > accepted || Zxid(report.lastZxid).epoch > accepted {
            throw ZooKeeperMigrationError(.inconsistent, "\(report.snapshotDirectory): currentEpoch \(current), acceptedEpoch \(accepted) and the last zxid \(ZxidMath.hex(report.lastZxid)) do not fit (currentEpoch <= acceptedEpoch, and no txn of a later epoch)")
        }
        report.elapsedMs = monotonicMs() - started
        return History(committedTree: replay.committedTree ?? tree, tail: replay.tail, tree: tree, report: report)
    }

    /// Loads, then writes the Paddock data directory (refusing a non-empty one without `force`).
    public static func run(_ options: ZooKeeperImportOptions) throws(ZooKeeperMigrationError) -> ZooKeeperImportReport {
        let started = monotonicMs()
        try checkTarget(options)
        let history = try loadHistory(
            zookeeperDirectory: options.zookeeperDirectory, logDirectory: options.zookeeperLogDirectory,
            checkDigests: options.checkDigests)
        var report = history.report
        let directory = try openTarget(options)
        defer { directory.release() }
        // Snapshot first: a crash before the log is anchored leaves a directory recovery refuses
        // (the log ends before the snapshot), never one that starts from an empty tree.
        var committed = history.committedTree
        committed.finishLoading(lastProcessedZxid: report.committedZxid)
        do {
            report.paddockSnapshot = try SnapshotFiles.write(
                tree: committed, directory: directory.snapshotDirectory, startZxid: report.committedZxid,
                startTimeMs: wallClockMs(), level: options.snapshotLevel)
        } catch {
            throw ZooKeeperMigrationError(.io, "writing the Paddock snapshot: \(error)")
        }
        do {
            let log = try LMDBTransactionLog(directory: directory.logDirectory)
            defer { log.close() }
            try log.anchorEmptyLog(after: report.committedZxid)
            var start = 0
            while start < history.tail.count {
                let end = min(start + 10_000, history.tail.count)
                try log.append(Array(history.tail[start..<end]))
                start = end
            }
        } catch {
            throw ZooKeeperMigrationError(.io, "writing the Paddock log after \(ZxidMath.hex(report.committedZxid)): \(error)")
        }
        try carryMemberState(options, directory: directory, report: &report)
        report.elapsedMs = monotonicMs() - started
        return report
    }

    /// The epochs go where a Paddock member keeps them (beside its snapshots); `myid` to the
    /// data directory unless it has one. Written after the log: a member whose epochs exist
    /// has its whole history.
    private static func carryMemberState(
        _ options: ZooKeeperImportOptions, directory: DataDirectory, report: inout ZooKeeperImportReport
    ) throws(ZooKeeperMigrationError) {
        do {
            if let accepted = report.acceptedEpoch {
                try ZabEpochFiles.write(directory: directory.snapshotDirectory, name: ZabEpochFiles.acceptedEpochName, value: accepted)
            }
            if let current = report.currentEpoch {
                try ZabEpochFiles.write(directory: directory.snapshotDirectory, name: ZabEpochFiles.currentEpochName, value: current)
            }
        } catch {
            throw ZooKeeperMigrationError(.io, "writing the epochs: \(error)")
        }
        let source = ZooKeeperFiles.dataDirectory(ofVersionDirectory: report.snapshotDirectory) + "/myid"
        let target = options.dataDirectory + "/myid"
        guard ZooKeeperPosix.exists(source), !ZooKeeperPosix.exists(target) else { return }
        try ZooKeeperPosix.copyDurably(source, to: target)
        report.myidCopied = target
    }

    // MARK: - Snapshot

    private static func loadSnapshot(
        _ snapshots: [ZooKeeperFiles.SnapshotFile], report: inout ZooKeeperImportReport
    ) throws(ZooKeeperMigrationError) -> (DataTree, ZooKeeperSnapshotDigest?) {
        for file in snapshots {
            do {
                let snapshot = try ZooKeeperSnapshotReader.read(file)
                report.snapshotUsed = file.path
                report.snapshotZxid = file.zxid
                // ZooKeeper ignores a digest older than the snapshot's zxid or at zxid 0.
                let digest = snapshot.digest.flatMap { $0.zxid > 0 && $0.zxid >= file.zxid && $0.version == ZooKeeperDigest.version ? $0 : nil }
                return (snapshot.tree, digest)
            } catch where error.kind == .corrupt {
                report.skippedSnapshots.append(ZooKeeperSkippedFile(path: file.path, reason: error.message))
            }
        }
        if !snapshots.isEmpty {
            let reasons = report.skippedSnapshots.map { "  \($0.reason)" }.joined(separator: "\n")
            throw ZooKeeperMigrationError(.corrupt, "no ZooKeeper snapshot in \(report.snapshotDirectory) deserializes:\n\(reasons)")
        }
        // No snapshot at all: ZooKeeper's initial tree, every txn from the logs.
        report.logNotes.append("no snapshot: started from an empty tree and replayed the logs from their first txn")
        return (DataTree(), nil)
    }

    // MARK: - Log replay

    struct Replay {
        var tree: DataTree
        var lastZxid: Int64
        /// The snapshot's digest until replay reaches its zxid (the end of the fuzzy window).
        var pendingDigest: ZooKeeperSnapshotDigest?
        var checkDigests: Bool
        var committedZxid: Int64
        /// The tree as it was through `committedZxid`, kept once a later txn is applied.
        var committedTree: DataTree? = nil
        var tail: [LoggedTxn] = []
        var digestsChecked = 0

        mutating func compare(_ expected: UInt64, at zxid: Int64, source: String) throws(ZooKeeperMigrationError) {
            let actual = ZooKeeperDigest.treeDigest(tree)
            digestsChecked += 1
            guard actual == expected else {
                throw ZooKeeperMigrationError(.inconsistent, "tree digest after zxid \(ZxidMath.hex(zxid)) is \(actual), \(source) says \(expected): replay differs from ZooKeeper's tree (pass --no-digest-check to import anyway)")
            }
        }

        mutating func apply(_ entry: ZooKeeperLogEntry, path: String) throws(ZooKeeperMigrationError) {
            let zxid = entry.txn.zxid
            guard ZxidContinuity.follows(zxid, after: lastZxid) else {
                throw ZooKeeperMigrationError(.inconsistent, "\(path): txn \(ZxidMath.hex(zxid)) at offset \(entry.offset) does not follow \(ZxidMath.hex(lastZxid)): the txns between are missing (a log file lost?)")
            }
            if zxid > committedZxid && committedTree == nil { committedTree = tree }
            _ = tree.apply(entry.txn)
            lastZxid = zxid
            if zxid > committedZxid { tail.append(LoggedTxn(txn: entry.txn, digest: ZooKeeperDigest.treeDigest(tree))) }
            guard checkDigests else { return }
            if let pending = pendingDigest {
                if zxid == pending.zxid {
                    try compare(pending.value, at: zxid, source: "the snapshot's digest")
                    pendingDigest = nil
                } else if zxid > pending.zxid {
                    pendingDigest = nil
                }
                if pendingDigest != nil { return }
            }
            if let digest = entry.digest, digest.version == ZooKeeperDigest.version {
                try compare(digest.value, at: zxid, source: "\(path) at offset \(entry.offset)")
            }
        }
    }

    private static func replayLog(
        _ log: ZooKeeperFiles.LogFile, replay: inout Replay, report: inout ZooKeeperImportReport
    ) throws(ZooKeeperMigrationError) {
        let reader = try ZooKeeperTxnLogReader(path: log.path)
        report.logFilesRead.append(log.path)
        while let entry = try reader.next() {
            if entry.txn.zxid <= report.snapshotZxid {
                report.txnsSkipped += 1
                continue
            }
            try replay.apply(entry, path: log.path)
            report.txnsReplayed += 1
        }
        switch reader.end {
        case .partial(let offset, let reason):
            report.logNotes.append("\(log.path): partial txn at offset \(offset) ignored (\(reason))")
        case .noHeader(let bytes):
            report.logNotes.append("\(log.path): \(bytes) bytes, no complete header: read as empty")
        case .clean, .notYet:
            break
        }
    }

    // MARK: - Target directory

    /// Refuses a target that holds anything, unless `force` (then only a Paddock data
    /// directory is accepted, and its snapshots and log are replaced).
    private static func checkTarget(_ options: ZooKeeperImportOptions) throws(ZooKeeperMigrationError) {
        var found: [String] = []
        if let names = ZooKeeperPosix.names(in: options.dataDirectory) {
            found += names.filter { $0 != "paddock.lock" && !(options.inPlace && DataDirectory.belongsToZooKeeperSide($0)) }
                .map { options.dataDirectory + "/" + $0 }
        } else if ZooKeeperPosix.exists(options.dataDirectory) {
            throw ZooKeeperMigrationError(.usage, "\(options.dataDirectory) exists and is not a readable directory")
        }
        if let logRoot = options.dataLogDirectory, let names = ZooKeeperPosix.names(in: logRoot + "/log") {
            found += names.map { logRoot + "/log/" + $0 }
        }
        if !found.isEmpty && !options.force {
            let shown = found.sorted().prefix(5).joined(separator: ", ")
            throw ZooKeeperMigrationError(.usage, "\(options.dataDirectory) is not empty (\(shown)); import into a new directory, or pass --force to replace the snapshots and log of a Paddock data directory")
        }
    }

    private static func openTarget(_ options: ZooKeeperImportOptions) throws(ZooKeeperMigrationError) -> DataDirectory {
        let directory: DataDirectory
        do {
            directory = try DataDirectory.open(
                dataDirectory: options.dataDirectory, dataLogDirectory: options.dataLogDirectory,
                createIfMissing: true, lock: true, alongsideZooKeeper: options.inPlace)
        } catch {
            if case .io = error.kind { throw ZooKeeperMigrationError(.io, "\(error)") }
            throw ZooKeeperMigrationError(.usage, "\(error)")
        }
        if options.force {
            for name in ZooKeeperPosix.names(in: directory.snapshotDirectory) ?? [] where name.hasPrefix("snapshot.") || name.hasPrefix(".snapshot.") {
                try ZooKeeperPosix.unlink(directory.snapshotDirectory + "/" + name)
            }
            for name in ["data.mdb", "lock.mdb"] { try ZooKeeperPosix.unlink(directory.logDirectory + "/" + name) }
        }
        return directory
    }

    static func monotonicMs() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    static func wallClockMs() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}
