import ZKBase
import ZKStorage

/// What `truncate --after ZXID` will do, shown before anything changes.
public struct TruncatePlan: Sendable {
    public var dataDirectory: String
    public var after: Int64
    /// The records it removes (nil: none).
    public var removed: RecordRange?
    public var kept: RecordRange?
    /// Snapshots that hold txns after the cut (they would describe state the log no longer has).
    public var snapshots: [SnapshotRemoval]
    public var backup: Backup

    public var isEmpty: Bool { removed == nil && snapshots.isEmpty }

    public var text: String {
        var lines = ["truncate \(dataDirectory) after \(ZxidMath.hex(after))"]
        if isEmpty {
            lines.append("  nothing to do: the log holds no record after \(ZxidMath.hex(after)) and no snapshot goes past it")
            return lines.joined(separator: "\n")
        }
        if let removed { lines.append("  remove \(removed.text) (kept in \(backup.recordsFile))") }
        for removal in snapshots { lines.append("  move \(removal.snapshot.name) to \(backup.relativePath)/: \(removal.reason)") }
        lines.append("  keep " + (kept?.text ?? "no log records"))
        return lines.joined(separator: "\n")
    }

    public var json: JSONValue {
        .fields(
            ("dataDirectory", .string(dataDirectory)), ("after", .zxid(after)),
            ("remove", removed?.json ?? .null), ("keep", kept?.json ?? .null),
            ("moveSnapshots", .array(snapshots.map(\.json))), ("backup", .string(backup.relativePath)))
    }
}

/// `paddock data truncate DIR --after ZXID`: removes every txn after a zxid (a diverged
/// follower's tail, a bad tail), and the snapshots that hold any of them. Records go to the
/// backup's records file (fsynced) and snapshots are moved there before the log is cut.
public enum DataTruncate {
    public static func plan(_ directory: ToolDataDirectory, after: Int64, nowMs: Int64) throws(ToolError) -> TruncatePlan {
        precondition(directory.isLocked, "truncate needs the data directory's lock")
        let log = try directory.requireLog()
        guard let summary = try directory.logSummary() else { preconditionFailure("log without a summary") }
        guard after >= summary.anchor.zxid else {
            throw .usage("cannot truncate after \(ZxidMath.hex(after)): the log was purged through \(ZxidMath.hex(summary.anchor.zxid))")
        }
        let snapshots = directory.snapshots().compactMap { snapshot -> SnapshotRemoval? in
            if let end = snapshot.endZxid, end > after {
                return SnapshotRemoval(snapshot: snapshot, reason: "it holds txns after \(ZxidMath.hex(after)) "
                    + "(zxids \(ZxidMath.hex(snapshot.startZxid))..\(ZxidMath.hex(end)))")
            }
            if !snapshot.isValid, snapshot.startZxid > after {
                return SnapshotRemoval(snapshot: snapshot, reason: "it starts after \(ZxidMath.hex(after)) (and is invalid)")
            }
            return nil
        }
        return TruncatePlan(
            dataDirectory: directory.path, after: after, removed: try RecordRange.of(log, after: after),
            kept: try RecordRange.of(log, after: summary.anchor.zxid, through: after), snapshots: snapshots,
            backup: Backup.choose(in: directory, command: "truncate", nowMs: nowMs))
    }

    public static func apply(_ plan: TruncatePlan, _ directory: ToolDataDirectory, nowMs: Int64) throws(ToolError) -> ChangeReport {
        let log = try directory.requireLog()
        guard !plan.isEmpty else {
            return ChangeReport(lines: ["nothing to truncate"], fields: [("changed", .bool(false))], status: .healthy)
        }
        try plan.backup.create()
        let saved = plan.removed == nil ? nil : try plan.backup.saveRecords(log, after: plan.after)
        guard saved == plan.removed else { throw .io("the log changed while truncating (another writer?); nothing removed") }
        for removal in plan.snapshots { try plan.backup.moveIn(removal.snapshot) }
        let removed: [RawLogRecord]
        do {
            removed = try log.removeRecords(after: plan.after)
        } catch {
            throw .io("removing records after \(ZxidMath.hex(plan.after)): \(error) (backup in \(plan.backup.relativePath))")
        }
        guard removed.count == (plan.removed?.count ?? 0) else {
            throw .io("removed \(removed.count) records, expected \(plan.removed?.count ?? 0); backup in \(plan.backup.relativePath)")
        }
        try plan.backup.writeManifest(ChangeManifest.lines(
            command: "paddock data truncate --after \(ZxidMath.hex(plan.after))", directory: directory.path, nowMs: nowMs,
            records: plan.removed, snapshots: plan.snapshots, backup: plan.backup))
        let lastZxid = log.lastZxid
        var lines = ["truncated \(directory.path) after \(ZxidMath.hex(plan.after))"]
        if let removed = plan.removed { lines.append("  removed \(removed.text) -> \(plan.backup.recordsFile)") }
        for removal in plan.snapshots { lines.append("  moved \(removal.snapshot.name) -> \(plan.backup.relativePath)/") }
        lines.append("  the log now ends at \(ZxidMath.hex(lastZxid))")
        return ChangeReport(
            lines: lines,
            fields: [
                ("changed", .bool(true)), ("removed", plan.removed?.json ?? .null),
                ("movedSnapshots", .array(plan.snapshots.map { .string($0.snapshot.name) })),
                ("backup", .string(plan.backup.relativePath)), ("lastZxid", .zxid(lastZxid)),
            ],
            status: .healthy)
    }
}

/// The MANIFEST.txt of a backup: what was removed, from where, and how to look at it.
enum ChangeManifest {
    static func lines(
        command: String, directory: String, nowMs: Int64, records: RecordRange?, snapshots: [SnapshotRemoval],
        backup: Backup, extra: [String] = []
    ) -> [String] {
        var lines = [command, "data directory: \(directory)", "time: \(ToolFormat.time(ms: nowMs))"]
        if let records {
            lines.append("removed \(records.text) -> \(Backup.recordsFileName) "
                + "(show them with: paddock data dump \(backup.path)/\(Backup.recordsFileName))")
        }
        for removal in snapshots { lines.append("moved \(removal.snapshot.name) here: \(removal.reason)") }
        return lines + extra
    }
}
