import Glibc
import ZKBase
import ZKStorage

/// What `repair` found and will do, shown before anything changes.
public struct RepairPlan: Sendable {
    public var dataDirectory: String
    /// The damage found (log records in zxid order, then invalid snapshots).
    public var damage: [VerifyProblem]
    /// The log is cut after this zxid (nil: the log is not damaged).
    public var cutAfter: Int64?
    public var removed: RecordRange?
    public var snapshots: [SnapshotRemoval]
    /// Where the server would start after the repair.
    public var outcome: String
    /// Set when repair cannot leave a directory the server starts from: nothing will change.
    public var refusal: String?
    public var backup: Backup

    public var isEmpty: Bool { cutAfter == nil && snapshots.isEmpty }

    public var status: ToolStatus {
        if refusal != nil { return .problems }
        return isEmpty ? .healthy : .problems
    }

    public var text: String {
        var lines = ["repair \(dataDirectory)"]
        if damage.isEmpty { lines.append("damage      none found") }
        lines += damage.enumerated().map { ($0.offset == 0 ? "damage      " : "            ") + $0.element.text }
        if let refusal {
            lines.append("cannot repair: \(refusal)")
            lines.append("nothing was changed")
            return lines.joined(separator: "\n")
        }
        if isEmpty {
            lines.append("nothing to repair; \(outcome)")
            return lines.joined(separator: "\n")
        }
        if let cutAfter {
            let what = removed.map { "remove \($0.text) (kept in \(backup.recordsFile))" } ?? "no record follows it"
            lines.append("plan        cut the log after \(ZxidMath.hex(cutAfter)): \(what)")
        }
        for (index, removal) in snapshots.enumerated() {
            let lead = index == 0 && cutAfter == nil ? "plan        " : "            "
            lines.append(lead + "move \(removal.snapshot.name) to \(backup.relativePath)/: \(removal.reason)")
        }
        var lost: [String] = []
        if let removed { lost.append("log records \(ZxidMath.hex(removed.first))..\(ZxidMath.hex(removed.last)) (\(removed.count))") }
        if !snapshots.isEmpty { lost.append("snapshots " + snapshots.map(\.snapshot.name).joined(separator: ", ")) }
        lines.append("lost        " + lost.joined(separator: "; ") + " (all kept in the backup)")
        lines.append("after       \(outcome)")
        return lines.joined(separator: "\n")
    }

    public var json: JSONValue {
        .fields(
            ("dataDirectory", .string(dataDirectory)), ("damage", .array(damage.map(\.json))),
            ("cutAfter", cutAfter.map(JSONValue.zxid) ?? .null), ("remove", removed?.json ?? .null),
            ("moveSnapshots", .array(snapshots.map(\.json))), ("after", .string(outcome)),
            ("refusal", .optional(refusal)), ("backup", .string(backup.relativePath)))
    }
}

/// `paddock data repair DIR`: cuts the log back to the last record before the first damaged
/// one (an invalid record, a broken CRC link, a gap) and moves corrupt snapshots — and the
/// snapshots that hold txns the cut removes, or that the log no longer has (the journal stage
/// dropped a damaged journal's frames after its damage) — into the backup. Nothing else is touched. It
/// refuses (changing nothing) when the result would still not start: e.g. when what is left no
/// longer reaches back to a usable snapshot, or the records are intact but a replay disagrees
/// with their digests (not damage a cut can fix; see `truncate`).
public enum DataRepair {
    public static func plan(_ directory: ToolDataDirectory, nowMs: Int64) throws(ToolError) -> RepairPlan {
        precondition(directory.isLocked, "repair needs the data directory's lock")
        let log = try directory.requireLog()
        guard let summary = try directory.logSummary() else { preconditionFailure("log without a summary") }
        let snapshots = directory.snapshots()
        let logProblems = log.verify(problemsMax: DataVerify.logProblemsMax)
        var plan = RepairPlan(
            dataDirectory: directory.path,
            damage: logProblems.map { VerifyProblem(area: .log, zxid: $0.zxid, message: $0.description) }
                + snapshots.filter { !$0.isValid }.map {
                    VerifyProblem(area: .snapshot, file: $0.name, message: "\($0.name): \($0.problem ?? "")")
                },
            cutAfter: nil, removed: nil, snapshots: [], outcome: "", refusal: nil,
            backup: Backup.choose(in: directory, command: "repair", nowMs: nowMs))
        if let first = logProblems.first {
            switch first.kind {
            case .unreadable(let message):
                plan.refusal = "LMDB cannot read the log (\(message)); restore this data directory from another server"
                return plan
            case .invalidKey:
                plan.refusal = "the log holds a key that is not a zxid (not written by Paddock); inspect it with `paddock data dump`"
                return plan
            case .invalidRecord, .discontinuity, .tooManyProblems:
                plan.cutAfter = try predecessor(of: first, log: log, anchor: summary.anchor.zxid)
            }
        }
        plan.snapshots = removals(snapshots, cutAfter: plan.cutAfter, logLast: summary.lastZxid)
        if let cutAfter = plan.cutAfter { plan.removed = try RecordRange.of(log, after: cutAfter) }
        predict(&plan, log: log, summary: summary, snapshots: snapshots)
        return plan
    }

    /// The last record before the damage (or the anchor when the damage is the first record).
    static func predecessor(of problem: LogProblem, log: LMDBTransactionLog, anchor: Int64) throws(ToolError) -> Int64 {
        if case .discontinuity(let previous) = problem.kind { return previous }
        guard problem.zxid > anchor else { return anchor }
        do {
            return try log.rawRecords(after: problem.zxid - 1, limit: 1).previous.zxid
        } catch {
            throw .io("reading the log before \(ZxidMath.hex(problem.zxid)): \(error)")
        }
    }

    /// `logLast`: the log's last zxid now. A snapshot ending past it holds txns the log no longer
    /// has (the records a damaged commit journal lost after its damage, which repair's journal
    /// stage dropped): no start can replay up to it, so it is set aside like one the cut empties.
    static func removals(_ snapshots: [SnapshotInfo], cutAfter: Int64?, logLast: Int64) -> [SnapshotRemoval] {
        snapshots.compactMap { snapshot in
            if !snapshot.isValid { return SnapshotRemoval(snapshot: snapshot, reason: "corrupt (\(snapshot.problem ?? ""))") }
            if let cutAfter, let end = snapshot.endZxid, end > cutAfter {
                return SnapshotRemoval(snapshot: snapshot, reason: "it holds txns after \(ZxidMath.hex(cutAfter)) "
                    + "(zxids \(ZxidMath.hex(snapshot.startZxid))..\(ZxidMath.hex(end))), which the cut removes")
            }
            if let end = snapshot.endZxid, end > logLast {
                return SnapshotRemoval(snapshot: snapshot, reason: "it holds txns after \(ZxidMath.hex(logLast)), the log's last "
                    + "(zxids \(ZxidMath.hex(snapshot.startZxid))..\(ZxidMath.hex(end))), which the log no longer has")
            }
            return nil
        }
    }

    /// Replays what recovery would after the repair (the newest remaining valid snapshot, or
    /// the empty tree, then the kept log with digest checks); refuses the plan if that fails.
    static func predict(_ plan: inout RepairPlan, log: LMDBTransactionLog, summary: LogSummary, snapshots: [SnapshotInfo]) {
        var after = summary
        if let cutAfter = plan.cutAfter {
            after.lastZxid = max(cutAfter, summary.anchor.zxid)
            if let first = summary.firstZxid, first > cutAfter { after.firstZxid = nil }
        }
        let moved = Set(plan.snapshots.map(\.snapshot.name))
        let remaining = snapshots.filter { $0.isValid && !moved.contains($0.name) }
        let start: SnapshotInfo?
        if let newest = remaining.first {
            if let reason = StateReplay.coverageProblem(newest, log: after) {
                plan.refusal = "after the repair the newest valid snapshot \(newest.name) could not be used: \(reason); "
                    + "restore this data directory from another server"
                return
            }
            start = newest
        } else if after.anchor.zxid != 0 {
            plan.refusal = "after the repair no valid snapshot would remain and the log was purged through "
                + "\(ZxidMath.hex(after.anchor.zxid)): the state cannot be rebuilt; restore this data directory from another server"
            return
        } else {
            start = nil
        }
        do {
            let state = try StateReplay.replay(log: log, from: start, through: after.lastZxid)
            plan.outcome = "the server would start from \(state.originText), last zxid \(ZxidMath.hex(state.lastZxid))"
        } catch {
            plan.refusal = "a replay of what would remain fails: \(error.description)"
            if case .digestMismatch(let zxid, _, _) = error, let before = try? log.rawRecords(after: zxid - 1, limit: 1).previous.zxid {
                plan.refusal! += "; the records are intact, so this is not damage repair cuts. If txn \(ZxidMath.hex(zxid)) is wrong, "
                    + "`paddock data truncate \(plan.dataDirectory) --after \(ZxidMath.hex(before))` removes it and what follows"
            }
        }
    }

    public static func apply(_ plan: RepairPlan, _ directory: ToolDataDirectory, nowMs: Int64) throws(ToolError) -> ChangeReport {
        precondition(plan.refusal == nil, "a refused repair plan cannot be applied")
        let log = try directory.requireLog()
        guard !plan.isEmpty else {
            return ChangeReport(lines: ["nothing to repair"], fields: [("changed", .bool(false))], status: .healthy)
        }
        try plan.backup.create()
        if let cutAfter = plan.cutAfter, plan.removed != nil {
            let saved = try plan.backup.saveRecords(log, after: cutAfter)
            guard saved == plan.removed else { throw .io("the log changed while repairing (another writer?); nothing removed") }
        }
        for removal in plan.snapshots { try plan.backup.moveIn(removal.snapshot) }
        if let cutAfter = plan.cutAfter {
            do {
                _ = try log.removeRecords(after: cutAfter)
            } catch {
                throw .io("cutting the log after \(ZxidMath.hex(cutAfter)): \(error) (backup in \(plan.backup.relativePath))")
            }
        }
        try plan.backup.writeManifest(ChangeManifest.lines(
            command: "paddock data repair", directory: directory.path, nowMs: nowMs, records: plan.removed,
            snapshots: plan.snapshots, backup: plan.backup, extra: plan.damage.map { "damage: \($0.text)" }))
        var lines = ["repaired \(directory.path)"]
        if let removed = plan.removed { lines.append("  removed \(removed.text) -> \(plan.backup.recordsFile)") }
        for removal in plan.snapshots { lines.append("  moved \(removal.snapshot.name) -> \(plan.backup.relativePath)/") }
        let startup = DataStatus.startupState(directory)
        switch startup {
        case .success(let state):
            lines.append("  startup check: ok (\(state.snapshot ?? "the empty tree") + \(ToolFormat.count(state.txnsReplayed, "txn")), "
                + "last zxid \(ZxidMath.hex(state.lastZxid)))")
        case .failure(let failure):
            lines.append("  startup check: FAILS: \(failure.message)")
        }
        let started: Bool = if case .success = startup { true } else { false }
        return ChangeReport(
            lines: lines,
            fields: [
                ("changed", .bool(true)), ("removed", plan.removed?.json ?? .null),
                ("movedSnapshots", .array(plan.snapshots.map { .string($0.snapshot.name) })),
                ("backup", .string(plan.backup.relativePath)), ("startupOk", .bool(started)),
            ],
            status: started ? .healthy : .problems)
    }
}

/// `repair` of a damaged commit journal (a valid frame after a damaged one: damage, not the torn
/// tail of a crash). The log will not open until it is handled, so this runs as repair's first
/// stage: keep the frames before the damage, drop what follows, copy the whole journal into
/// the backup first. Run repair again afterwards for the rest of the directory.
public struct JournalSalvagePlan: Sendable {
    public var dataDirectory: String
    public var damage: String
    public var keptFrames: Int
    public var keptRecords: Int
    public var journalPath: String
    public var backup: Backup

    /// Whether `error` (from opening a data directory) is a damaged journal this stage handles.
    public static func applies(to error: ToolError) -> Bool { error.message.contains("commit journal corrupt") }

    public var text: String {
        [
            "repair \(dataDirectory)",
            "damage      commit journal: \(damage)",
            "plan        keep the journal's \(keptFrames) valid frame\(keptFrames == 1 ? "" : "s") before the damage "
                + "(\(keptRecords) record\(keptRecords == 1 ? "" : "s") not yet in data.mdb) and drop what follows it",
            "            copy the journal to \(backup.relativePath)/\(FileJournalDevice.fileName) first",
            "lost        the journal's frames from the damage on (all kept in the backup)",
            "after       run `paddock data repair` again to check the rest of the directory",
        ].joined(separator: "\n")
    }

    public var json: JSONValue {
        .fields(
            ("dataDirectory", .string(dataDirectory)), ("journalDamage", .string(damage)), ("keptFrames", .int(keptFrames)),
            ("keptRecords", .int(keptRecords)), ("backup", .string(backup.relativePath)))
    }

    /// Reads the journal up to the damage without changing anything.
    public static func plan(_ path: String, dataLogDirectory: String?, nowMs: Int64) throws(ToolError) -> JournalSalvagePlan {
        let directory = try ToolDataDirectory.openSalvagingJournal(path, dataLogDirectory: dataLogDirectory, forChange: false)
        defer { directory.close() }
        let log = try directory.requireLog()
        let report = log.journalReport
        guard let damage = report.damage else { throw .io("the commit journal in \(directory.logDirectory) is not damaged") }
        return JournalSalvagePlan(
            dataDirectory: directory.path, damage: damage, keptFrames: report.frames, keptRecords: report.recordsPastLog,
            journalPath: directory.logDirectory + "/" + FileJournalDevice.fileName,
            backup: Backup.choose(in: directory, command: "repair", nowMs: nowMs))
    }

    /// Copies the journal into the backup, then opens the log for change reading the journal up
    /// to the damage: the open folds those records into data.mdb and starts a new lap.
    public func apply(dataLogDirectory: String?, nowMs: Int64) throws(ToolError) -> ChangeReport {
        try backup.create()
        let copy = backup.path + "/" + FileJournalDevice.fileName
        try ToolFiles.writeDurably(copy, try ToolFiles.readWhole(journalPath))
        let directory = try ToolDataDirectory.openSalvagingJournal(dataDirectory, dataLogDirectory: dataLogDirectory, forChange: true)
        defer { directory.close() }
        let log = try directory.requireLog()
        try backup.writeManifest([
            "paddock data repair (commit journal)", "data directory: \(dataDirectory)", "time: \(ToolFormat.time(ms: nowMs))",
            "damage: \(damage)",
            "journal here is the damaged journal; \(log.journalReport.recordsPastLog) records before the damage were folded into data.mdb",
        ])
        return ChangeReport(
            lines: ["repaired the commit journal: kept \(keptFrames) frames (\(log.journalReport.recordsPastLog) records folded into data.mdb)",
                    "  damaged journal kept in \(backup.relativePath)/\(FileJournalDevice.fileName)",
                    "  run `paddock data repair` again to check the rest of the directory"],
            fields: [("changed", .bool(true)), ("keptFrames", .int(keptFrames)), ("backup", .string(backup.relativePath))],
            status: .healthy)
    }
}
