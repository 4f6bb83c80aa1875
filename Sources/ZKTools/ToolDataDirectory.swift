import ZKBase
import ZKFormat
import ZKStorage

/// A data directory as the tools open it: read-only (no lock, the LMDB log opened MDB_RDONLY,
/// safe next to a live server) or for a change (`paddock.lock` taken, the log opened for
/// writing). `log` is nil when the directory has no `log/data.mdb` yet.
public final class ToolDataDirectory {
    public let directory: DataDirectory
    public let log: LMDBTransactionLog?
    public let isLocked: Bool

    public var path: String { directory.dataDirectory }
    public var snapshotDirectory: String { directory.snapshotDirectory }
    public var logDirectory: String { directory.logDirectory }
    public var backupDirectory: String { directory.dataDirectory + "/backup" }

    private init(directory: DataDirectory, log: LMDBTransactionLog?, isLocked: Bool) {
        self.directory = directory
        self.log = log
        self.isLocked = isLocked
    }

    deinit { close() }

    /// Opens without the lock; the log read-only (LMDB readers work next to a live server).
    public static func openReadOnly(_ path: String, dataLogDirectory: String? = nil) throws(ToolError) -> ToolDataDirectory {
        try open(path, dataLogDirectory: dataLogDirectory, lock: false)
    }

    /// Takes `paddock.lock` (`.locked` when a server holds it) and opens the log for writing.
    public static func openForChange(_ path: String, dataLogDirectory: String? = nil) throws(ToolError) -> ToolDataDirectory {
        try open(path, dataLogDirectory: dataLogDirectory, lock: true)
    }

    /// `openReadOnly` / `openForChange` reading a damaged commit journal up to the damage
    /// (`repair`): read-only shows what would be kept; for change, folds it and starts afresh.
    public static func openSalvagingJournal(_ path: String, dataLogDirectory: String? = nil, forChange: Bool) throws(ToolError) -> ToolDataDirectory {
        try open(path, dataLogDirectory: dataLogDirectory, lock: forChange, salvagingJournal: true)
    }

    private static func open(_ path: String, dataLogDirectory: String?, lock: Bool, salvagingJournal: Bool = false) throws(ToolError) -> ToolDataDirectory {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        let directory: DataDirectory
        do {
            directory = try DataDirectory.open(
                dataDirectory: trimmed, dataLogDirectory: dataLogDirectory, createIfMissing: false, lock: lock)
        } catch {
            throw toolError(error)
        }
        var log: LMDBTransactionLog?
        if ToolFiles.exists(directory.logDirectory + "/data.mdb") {
            do {
                var configuration = LMDBConfiguration(readOnly: !lock)
                configuration.salvagesDamagedJournal = salvagingJournal
                log = try LMDBTransactionLog(directory: directory.logDirectory, configuration: configuration)
            } catch {
                directory.release()
                throw .io("cannot open the transaction log in \(directory.logDirectory): \(error)")
            }
        }
        return ToolDataDirectory(directory: directory, log: log, isLocked: lock)
    }

    static func toolError(_ error: DataDirectoryError) -> ToolError {
        switch error.kind {
        case .locked(let pid):
            let holder = pid.map { "process \($0)" } ?? "another process"
            return ToolError(.locked(pid: pid), "\(ToolFiles.parent(error.path)) is in use: \(error.path) is held by \(holder). "
                + "Stop the server first; commands that change a data directory need it to themselves.")
        case .missing, .notADataDirectory, .unsupportedVersion:
            return .usage(error.description)
        case .io:
            return .io(error.description)
        }
    }

    /// The log, or a usage error saying there is none.
    public func requireLog() throws(ToolError) -> LMDBTransactionLog {
        guard let log else { throw .usage("\(path) has no transaction log (\(logDirectory)/data.mdb does not exist)") }
        return log
    }

    /// Closes the log and releases the lock (idempotent).
    public func close() {
        log?.close()
        directory.release()
    }

    /// Every snapshot file, newest first, each checked against the validity rule.
    public func snapshots() -> [SnapshotInfo] {
        SnapshotFiles.list(directory: snapshotDirectory).map { SnapshotInfo.inspect(path: $0.path) }
    }

    /// Files in `snapshots/` that are not snapshots (temp files of an interrupted write, strays).
    public func otherSnapshotDirectoryFiles() -> [String] {
        // An ensemble member's ZAB epoch files (FORMAT.md section 1) live there too and are expected.
        let epochFiles: Set<String> = [ZabEpochFiles.acceptedEpochName, ZabEpochFiles.currentEpochName]
        return ToolFiles.names(in: snapshotDirectory).filter { SnapshotFiles.zxid(fromName: $0) == nil && !epochFiles.contains($0) }
    }

    /// Backup directories made by earlier changes, oldest first (relative to the data dir).
    public func backups() -> [String] {
        ToolFiles.names(in: backupDirectory).filter { ToolFiles.isDirectory(backupDirectory + "/" + $0) }.map { "backup/" + $0 }
    }

    /// Counts, range, anchor and size of the log (`nil` without a log).
    public func logSummary() throws(ToolError) -> LogSummary? {
        guard let log else { return nil }
        do {
            let statistics = try log.statistics
            let anchor = try log.purgeAnchor
            return LogSummary(
                path: logDirectory + "/data.mdb", fileBytes: ToolFiles.size(logDirectory + "/data.mdb") ?? 0,
                recordCount: statistics.recordCount, firstZxid: statistics.firstZxid, lastZxid: statistics.lastZxid,
                anchor: anchor, format: log.storedFormatVersion, journal: log.journalReport.present ? log.journalReport : nil)
        } catch {
            throw .io("reading the log in \(logDirectory): \(error)")
        }
    }
}

/// The transaction log at a glance.
public struct LogSummary: Sendable, Equatable {
    public var path: String
    public var fileBytes: Int
    public var recordCount: Int
    public var firstZxid: Int64?
    /// Newest record, else the anchor's zxid, else 0.
    public var lastZxid: Int64
    public var anchor: LogChainLink
    /// The log's format (1: no journal; 2: with the commit journal).
    public var format: UInt32 = LMDBTransactionLog.formatVersion
    /// What the commit journal held when the tool opened the log (nil: none).
    public var journal: JournalOpenReport?

    /// One line on the commit journal, nil without one.
    public var journalText: String? {
        guard let journal else { return nil }
        let torn = journal.tornAt.map { ", torn frame at offset \($0) (the last write before a crash; ignored)" } ?? ""
        let size = journal.capacityBytes % (1 << 20) == 0 ? "\(journal.capacityBytes >> 20) MiB" : "\(journal.capacityBytes >> 10) KiB"
        return "\(size), lap \(journal.lapSequence): \(journal.frames) frames, "
            + "\(journal.recordsPastLog) records not yet in data.mdb\(torn)"
    }

    /// `0x1..0x5` or `none`.
    public var rangeText: String {
        guard let firstZxid else { return "none" }
        return "\(ZxidMath.hex(firstZxid))..\(ZxidMath.hex(lastZxid))"
    }

    public var json: JSONValue {
        .fields(
            ("path", .string(path)), ("fileBytes", .int(fileBytes)), ("records", .int(recordCount)),
            ("firstZxid", firstZxid.map(JSONValue.zxid) ?? .null), ("lastZxid", .zxid(lastZxid)),
            ("purgedThroughZxid", .zxid(anchor.zxid)))
            .adding(journal.map { journal in
                ("journal", .fields(
                    ("lap", .int(Int64(journal.lapSequence))), ("frames", .int(journal.frames)),
                    ("recordsPastLog", .int(journal.recordsPastLog)), ("tornAt", journal.tornAt.map { .int($0) } ?? .null),
                    ("capacityBytes", .int(journal.capacityBytes))))
            })
    }
}
