import Glibc
import ZKBase
import ZKStorage

/// What `compact` will do.
public struct CompactPlan: Sendable {
    public var dataDirectory: String
    public var logFile: String
    public var fileBytes: Int
    public var recordCount: Int
    public var backup: Backup

    public var text: String {
        ["compact \(dataDirectory)",
         "  copy \(logFile) (\(fileBytes) bytes, \(recordCount) records) without its free pages (mdb_env_copy2, MDB_CP_COMPACT)",
         "  check that the copy holds the same records, then swap it in",
         "  keep the old data.mdb and lock.mdb in \(backup.relativePath)/"].joined(separator: "\n")
    }

    public var json: JSONValue {
        .fields(
            ("dataDirectory", .string(dataDirectory)), ("logFile", .string(logFile)), ("fileBytes", .int(fileBytes)),
            ("records", .int(recordCount)), ("backup", .string(backup.relativePath)))
    }
}

/// `paddock data compact DIR`: LMDB never shrinks `data.mdb`; a compacting copy leaves out the
/// free pages. The copy is checked (same records, same verify result) before it replaces the
/// file with one rename; the old file stays in the backup.
public enum DataCompact {
    public static func plan(_ directory: ToolDataDirectory, nowMs: Int64) throws(ToolError) -> CompactPlan {
        precondition(directory.isLocked, "compact needs the data directory's lock")
        _ = try directory.requireLog()
        guard let summary = try directory.logSummary() else { preconditionFailure("log without a summary") }
        let dataLogDirectory = ToolFiles.parent(directory.logDirectory)
        return CompactPlan(
            dataDirectory: directory.path, logFile: summary.path, fileBytes: summary.fileBytes, recordCount: summary.recordCount,
            backup: Backup.choose(root: dataLogDirectory + "/backup", base: directory.path, command: "compact", nowMs: nowMs))
    }

    public static func apply(_ plan: CompactPlan, _ directory: ToolDataDirectory, nowMs: Int64) throws(ToolError) -> ChangeReport {
        let log = try directory.requireLog()
        let logDirectory = directory.logDirectory
        let scratch = logDirectory + ".compact-tmp"
        try removeScratch(scratch)
        guard mkdir(scratch, 0o755) == 0 else { throw ToolFiles.error("mkdir", scratch) }
        do {
            try log.environment.copyCompacted(to: scratch)
        } catch {
            throw .io("compacting copy: \(error)")
        }
        try checkCopy(scratch, against: log)
        try plan.backup.create()
        let current = logDirectory + "/data.mdb"
        log.close()
        guard link(current, plan.backup.path + "/data.mdb") == 0 else { throw ToolFiles.error("link \(current) into", plan.backup.path) }
        // One rename replaces the file: at every moment log/data.mdb is a whole environment.
        guard rename(scratch + "/data.mdb", current) == 0 else { throw ToolFiles.error("rename the copy to", current) }
        if ToolFiles.exists(logDirectory + "/lock.mdb") { try ToolFiles.move(logDirectory + "/lock.mdb", to: plan.backup.path + "/lock.mdb") }
        try ToolFiles.syncDirectory(logDirectory)
        try ToolFiles.syncDirectory(plan.backup.path)
        try removeScratch(scratch)
        let after = ToolFiles.size(current) ?? 0
        try plan.backup.writeManifest([
            "paddock data compact", "data directory: \(directory.path)", "time: \(ToolFormat.time(ms: nowMs))",
            "data.mdb here is the log before compaction (\(plan.fileBytes) bytes); the compacted one has \(after) bytes",
        ])
        return ChangeReport(
            lines: ["compacted \(plan.logFile): \(plan.fileBytes) -> \(after) bytes, \(plan.recordCount) records",
                    "  old data.mdb kept in \(plan.backup.relativePath)/"],
            fields: [
                ("changed", .bool(true)), ("bytesBefore", .int(plan.fileBytes)), ("bytesAfter", .int(after)),
                ("records", .int(plan.recordCount)), ("backup", .string(plan.backup.relativePath)),
            ],
            status: .healthy)
    }

    /// The copy must hold what the original holds: count, range, anchor and verify's findings.
    static func checkCopy(_ scratch: String, against log: LMDBTransactionLog) throws(ToolError) {
        do {
            // The copy is data.mdb alone: the log's journal stays in place (and holds nothing
            // LMDB lacks, since this writable open folded it).
            var configuration = LMDBConfiguration(readOnly: true)
            configuration.readsJournal = false
            let copy = try LMDBTransactionLog(directory: scratch, configuration: configuration)
            defer { copy.close() }
            let (original, copied) = (try log.statistics, try copy.statistics)
            let sameShape = original.recordCount == copied.recordCount && original.firstZxid == copied.firstZxid
                && original.lastZxid == copied.lastZxid && original.anchorZxid == copied.anchorZxid
            guard sameShape, try log.purgeAnchor == copy.purgeAnchor,
                log.verify(problemsMax: DataVerify.logProblemsMax) == copy.verify(problemsMax: DataVerify.logProblemsMax)
            else { throw ToolError.io("the compacted copy differs from the log; nothing was changed (copy left in \(scratch))") }
        } catch let error as ToolError {
            throw error
        } catch {
            throw .io("checking the compacted copy in \(scratch): \(error)")
        }
    }

    static func removeScratch(_ scratch: String) throws(ToolError) {
        guard ToolFiles.exists(scratch) else { return }
        for name in ToolFiles.names(in: scratch) where name == "data.mdb" || name == "lock.mdb" {
            guard unlink(scratch + "/" + name) == 0 else { throw ToolFiles.error("unlink", scratch + "/" + name) }
        }
        guard rmdir(scratch) == 0 else { throw ToolFiles.error("rmdir", scratch) }
    }
}
