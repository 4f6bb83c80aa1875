import ZKBase
import ZKStorage
import ZKTree

/// `paddock data status DIR`: what a data directory holds, and the state the server would start
/// with (computed by `Recovery.recover`, the server's own startup path, over a read-only log).
public struct DataStatusReport: Sendable {
    public var dataDirectory: String
    public var log: LogSummary?
    public var snapshots: [SnapshotInfo]
    public var otherSnapshotFiles: [String]
    public var backups: [String]
    public var state: Result<StartupState, StartupFailure>

    /// The tree the server would start with.
    public struct StartupState: Sendable {
        public var lastZxid: Int64
        public var znodes: Int
        public var sessions: Int
        public var ephemerals: Int
        public var digest: UInt64
        /// Snapshot name, nil for the empty tree.
        public var snapshot: String?
        public var txnsReplayed: Int
        public var skippedSnapshots: [String]
    }

    public struct StartupFailure: Error, Sendable {
        public var message: String
    }

    public var status: ToolStatus {
        if case .failure = state { return .problems }
        return snapshots.allSatisfy(\.isValid) ? .healthy : .problems
    }

    public var text: String {
        var lines = ["data directory  \(dataDirectory)"]
        lines.append("format          \(DataDirectory.versionLinePrefixText)\(DataDirectory.formatVersion) (log format \(log?.format ?? LMDBTransactionLog.formatVersion))")
        if let log {
            lines.append("log             \(log.path), \(log.fileBytes) bytes")
            if let journal = log.journalText { lines.append("  journal       " + journal) }
            lines.append("  records       \(log.recordCount), zxids \(log.rangeText)")
            lines.append("  purged        " + (log.anchor.zxid == 0 ? "nothing" : "through \(ZxidMath.hex(log.anchor.zxid))"))
        } else {
            lines.append("log             none")
        }
        let invalid = snapshots.filter { !$0.isValid }.count
        lines.append("snapshots       \(snapshots.count)" + (invalid > 0 ? " (\(invalid) invalid)" : ""))
        lines += snapshots.map { "  \($0.name)  \($0.summaryText)" }
        if !otherSnapshotFiles.isEmpty { lines.append("  other files: \(otherSnapshotFiles.joined(separator: ", "))") }
        lines.append("backups         \(backups.count)" + (backups.isEmpty ? "" : ": \(backups.joined(separator: ", "))"))
        switch state {
        case .success(let state):
            lines.append("last zxid       \(ZxidMath.hex(state.lastZxid))")
            lines.append("state           \(ToolFormat.count(state.znodes, "znode")), \(ToolFormat.count(state.sessions, "session")), "
                + "\(ToolFormat.count(state.ephemerals, "ephemeral")), digest \(ToolFormat.hex(state.digest))")
            lines.append("  from          \(state.snapshot ?? "the empty tree") + \(ToolFormat.count(state.txnsReplayed, "txn"))")
            for skipped in state.skippedSnapshots { lines.append("  skipped       \(skipped)") }
        case .failure(let failure):
            lines.append("last zxid       \(ZxidMath.hex(log?.lastZxid ?? 0)) (log)")
            lines.append("state           cannot be rebuilt: \(failure.message)")
        }
        return lines.joined(separator: "\n")
    }

    public var json: JSONValue {
        var fields: [(String, JSONValue)] = [
            ("dataDirectory", .string(dataDirectory)),
            ("format", .string("\(DataDirectory.versionLinePrefixText)\(DataDirectory.formatVersion)")),
            ("logFormat", .int(Int64(log?.format ?? LMDBTransactionLog.formatVersion))),
            ("log", log?.json ?? .null),
            ("snapshots", .array(snapshots.map(\.json))),
            ("otherSnapshotFiles", .array(otherSnapshotFiles.map { .string($0) })),
            ("backups", .array(backups.map { .string($0) })),
        ]
        switch state {
        case .success(let state):
            fields.append(("lastZxid", .zxid(state.lastZxid)))
            fields.append(("state", .fields(
                ("znodes", .int(state.znodes)), ("sessions", .int(state.sessions)), ("ephemerals", .int(state.ephemerals)),
                ("digest", .hex(state.digest)), ("snapshot", .optional(state.snapshot)),
                ("txnsReplayed", .int(state.txnsReplayed)),
                ("skippedSnapshots", .array(state.skippedSnapshots.map { .string($0) })))))
        case .failure(let failure):
            fields.append(("lastZxid", .zxid(log?.lastZxid ?? 0)))
            fields.append(("state", .fields(("error", .string(failure.message)))))
        }
        fields.append(("status", .int(Int64(status.rawValue))))
        return .fields(fields)
    }
}

extension DataDirectory {
    /// The version line's fixed part ("paddock-data-format ").
    static var versionLinePrefixText: String { "paddock-data-format " }
}

public enum DataStatus {
    public static func inspect(_ directory: ToolDataDirectory) throws(ToolError) -> DataStatusReport {
        let snapshots = directory.snapshots()
        return DataStatusReport(
            dataDirectory: directory.path, log: try directory.logSummary(), snapshots: snapshots,
            otherSnapshotFiles: directory.otherSnapshotDirectoryFiles(), backups: directory.backups(),
            state: startupState(directory))
    }

    /// What `Recovery.recover` (the server's startup) makes of the directory.
    static func startupState(_ directory: ToolDataDirectory) -> Result<DataStatusReport.StartupState, DataStatusReport.StartupFailure> {
        let log: any TransactionLog = directory.log ?? InMemoryTransactionLog()
        do {
            let (tree, report) = try Recovery.recover(snapshotDirectory: directory.snapshotDirectory, log: log)
            return .success(DataStatusReport.StartupState(
                lastZxid: report.lastZxid, znodes: tree.nodeCount, sessions: tree.sessions.count,
                ephemerals: tree.ephemeralCount, digest: tree.digest, snapshot: report.snapshotPath.map(ToolFiles.name),
                txnsReplayed: report.txnsReplayed,
                skippedSnapshots: report.skippedSnapshots.map { ToolFiles.name($0.path) }))
        } catch {
            return .failure(DataStatusReport.StartupFailure(message: error.message))
        }
    }
}
