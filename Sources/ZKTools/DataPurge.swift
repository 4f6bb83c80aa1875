import Glibc
import ZKBase
import ZKStorage

/// What `purge --keep N` will do.
public struct PurgePlan: Sendable {
    public var dataDirectory: String
    public var keep: Int
    public var kept: [SnapshotInfo]
    public var snapshots: [SnapshotRemoval]
    /// Records with zxid ≤ this go (the oldest kept snapshot's start zxid).
    public var through: Int64?
    public var removed: RecordRange?
    /// nil with `--no-backup`: removed files and records are deleted.
    public var backup: Backup?

    public var isEmpty: Bool { removed == nil && snapshots.isEmpty }

    public var text: String {
        var lines = ["purge \(dataDirectory) keeping \(keep) snapshot\(keep == 1 ? "" : "s")"]
        lines.append("  keep " + (kept.isEmpty ? "no snapshot (none is valid): nothing can be purged" : kept.map(\.name).joined(separator: ", ")))
        if isEmpty {
            lines.append("  nothing to purge")
            return lines.joined(separator: "\n")
        }
        for removal in snapshots {
            let action = backup.map { "move \(removal.snapshot.name) to \($0.relativePath)/" } ?? "delete \(removal.snapshot.name)"
            lines.append("  \(action): \(removal.reason)")
        }
        if let removed, let through {
            let kept = backup.map { " (kept in \($0.recordsFile))" } ?? " (deleted, no backup)"
            lines.append("  remove \(removed.text): no kept snapshot needs txns through \(ZxidMath.hex(through))\(kept)")
        }
        return lines.joined(separator: "\n")
    }

    public var json: JSONValue {
        .fields(
            ("dataDirectory", .string(dataDirectory)), ("keep", .int(keep)), ("kept", .array(kept.map { .string($0.name) })),
            ("removeSnapshots", .array(snapshots.map(\.json))), ("purgeThrough", through.map(JSONValue.zxid) ?? .null),
            ("remove", removed?.json ?? .null), ("backup", .optional(backup?.relativePath)))
    }
}

/// `paddock data purge DIR --keep N`, like ZooKeeper's PurgeTxnLog: keeps the newest N valid
/// snapshots, removes older snapshot files and every log record with zxid ≤ the oldest kept
/// snapshot's start zxid (FORMAT.md section 6: the `anchor` is written in the same LMDB
/// transaction). Invalid snapshots newer than the oldest kept one are left to `repair`.
public enum DataPurge {
    public static func plan(_ directory: ToolDataDirectory, keep: Int, backup: Bool, nowMs: Int64) throws(ToolError) -> PurgePlan {
        precondition(directory.isLocked, "purge needs the data directory's lock")
        guard keep >= 1 else { throw .usage("--keep must be at least 1") }
        let log = try directory.requireLog()
        guard let summary = try directory.logSummary() else { preconditionFailure("log without a summary") }
        let snapshots = directory.snapshots()
        let kept = Array(snapshots.filter(\.isValid).prefix(keep))
        var plan = PurgePlan(
            dataDirectory: directory.path, keep: keep, kept: kept, snapshots: [], through: nil, removed: nil,
            backup: backup ? Backup.choose(in: directory, command: "purge", nowMs: nowMs) : nil)
        guard let oldest = kept.last else { return plan }
        plan.snapshots = snapshots.filter { $0.startZxid < oldest.startZxid }.map { snapshot in
            SnapshotRemoval(snapshot: snapshot, reason: snapshot.isValid
                ? "older than the oldest kept snapshot" : "older than the oldest kept snapshot (and invalid)")
        }
        if oldest.startZxid > summary.anchor.zxid {
            plan.removed = try RecordRange.of(log, after: summary.anchor.zxid, through: oldest.startZxid)
            if plan.removed != nil { plan.through = oldest.startZxid }
        }
        return plan
    }

    public static func apply(_ plan: PurgePlan, _ directory: ToolDataDirectory, nowMs: Int64) throws(ToolError) -> ChangeReport {
        let log = try directory.requireLog()
        guard !plan.isEmpty else {
            return ChangeReport(lines: ["nothing to purge"], fields: [("changed", .bool(false))], status: .healthy)
        }
        if let backup = plan.backup {
            try backup.create()
            if let through = plan.through {
                let anchor = (try? log.purgeAnchor.zxid) ?? 0
                let saved = try backup.saveRecords(log, after: anchor, through: through)
                guard saved == plan.removed else { throw .io("the log changed while purging (another writer?); nothing removed") }
            }
        }
        for removal in plan.snapshots {
            if let backup = plan.backup {
                try backup.moveIn(removal.snapshot)
            } else {
                guard unlink(removal.snapshot.path) == 0 else { throw ToolFiles.error("unlink", removal.snapshot.path) }
                try ToolFiles.syncDirectory(directory.snapshotDirectory)
            }
        }
        if let through = plan.through {
            do {
                try log.purge(through: through)
            } catch {
                throw .io("purging the log through \(ZxidMath.hex(through)): \(error)")
            }
        }
        if let backup = plan.backup {
            try backup.writeManifest(ChangeManifest.lines(
                command: "paddock data purge --keep \(plan.keep)", directory: directory.path, nowMs: nowMs,
                records: plan.removed, snapshots: plan.snapshots, backup: backup))
        }
        var lines = ["purged \(directory.path), keeping \(plan.kept.map(\.name).joined(separator: ", "))"]
        let destination = plan.backup.map { " -> \($0.relativePath)/" } ?? " (deleted)"
        if let removed = plan.removed { lines.append("  removed \(removed.text)\(destination)") }
        for removal in plan.snapshots { lines.append("  removed \(removal.snapshot.name)\(destination)") }
        return ChangeReport(
            lines: lines,
            fields: [
                ("changed", .bool(true)), ("removed", plan.removed?.json ?? .null),
                ("removedSnapshots", .array(plan.snapshots.map { .string($0.snapshot.name) })),
                ("backup", .optional(plan.backup?.relativePath)),
            ],
            status: .healthy)
    }
}
