import ZKBase
import ZKFormat
import ZKStorage
import ZKTree

/// One thing `verify` found wrong. `zxid` for log records, `file` for snapshots.
public struct VerifyProblem: Sendable, Equatable {
    public enum Area: String, Sendable { case log, snapshot, coverage, replay, startup, quota }

    public var area: Area
    public var zxid: Int64?
    public var file: String?
    public var message: String

    public var text: String { "\(area.rawValue): \(message)" }

    public var json: JSONValue {
        .fields(
            ("area", .string(area.rawValue)), ("zxid", zxid.map(JSONValue.zxid) ?? .null), ("file", .optional(file)),
            ("message", .string(message)))
    }
}

/// `paddock data verify DIR`.
public struct VerifyReport: Sendable {
    public var dataDirectory: String
    public var log: LogSummary?
    public var snapshots: [SnapshotInfo]
    /// One line on the deep replay (where it started, how far it got).
    public var replay: String
    /// What startup recovery (Recovery.recover) makes of the directory.
    public var startup: Result<DataStatusReport.StartupState, DataStatusReport.StartupFailure>
    /// Not problems: snapshots the log no longer covers, temp files.
    public var notes: [String]
    public var problems: [VerifyProblem]

    public var status: ToolStatus { problems.isEmpty ? .healthy : .problems }

    public var text: String {
        var lines = ["verify      \(dataDirectory)"]
        lines.append("format      \(DataDirectory.versionLinePrefixText)\(DataDirectory.formatVersion), log format \(log?.format ?? LMDBTransactionLog.formatVersion)")
        let logProblems = problems.filter { $0.area == .log }.count
        if let log {
            let purged = log.anchor.zxid == 0 ? "nothing purged" : "purged through \(ZxidMath.hex(log.anchor.zxid))"
            lines.append("log         \(log.recordCount) records, zxids \(log.rangeText), \(purged): "
                + (logProblems == 0 ? "chain, records and continuity ok" : "\(logProblems) problem\(logProblems == 1 ? "" : "s")"))
        } else {
            lines.append("log         none")
        }
        let invalid = snapshots.filter { !$0.isValid }.count
        lines.append("snapshots   \(snapshots.count)" + (invalid > 0 ? " (\(invalid) invalid)" : ""))
        lines += snapshots.map { "  \($0.name)  \($0.summaryText)" }
        lines.append("replay      \(replay)")
        switch startup {
        case .success(let state):
            lines.append("startup     ok: \(state.snapshot ?? "the empty tree") + \(ToolFormat.count(state.txnsReplayed, "txn")), last zxid "
                + "\(ZxidMath.hex(state.lastZxid)), \(ToolFormat.count(state.znodes, "znode")), digest \(ToolFormat.hex(state.digest))")
        case .failure(let failure):
            lines.append("startup     FAILS: \(failure.message)")
        }
        lines += notes.map { "note        \($0)" }
        lines.append(problems.isEmpty ? "result      ok" : "result      \(problems.count) problem\(problems.count == 1 ? "" : "s")")
        lines += problems.map { "  \($0.text)" }
        return lines.joined(separator: "\n")
    }

    public var json: JSONValue {
        var startupJSON: JSONValue
        switch startup {
        case .success(let state):
            startupJSON = .fields(
                ("ok", .bool(true)), ("snapshot", .optional(state.snapshot)), ("txnsReplayed", .int(state.txnsReplayed)),
                ("lastZxid", .zxid(state.lastZxid)), ("znodes", .int(state.znodes)), ("digest", .hex(state.digest)))
        case .failure(let failure):
            startupJSON = .fields(("ok", .bool(false)), ("error", .string(failure.message)))
        }
        return .fields(
            ("dataDirectory", .string(dataDirectory)), ("log", log?.json ?? .null),
            ("snapshots", .array(snapshots.map(\.json))), ("replay", .string(replay)), ("startup", startupJSON),
            ("notes", .array(notes.map { .string($0) })), ("problems", .array(problems.map(\.json))),
            ("status", .int(Int64(status.rawValue))))
    }
}

/// Checks a whole data directory, read-only: every log record (validity rule, CRC chain, zxid
/// continuity: `LMDBTransactionLog.verify`), every snapshot (validity rule), that the log covers
/// what the newest valid snapshot needs, a replay from the oldest usable starting point through
/// the last record checking every digest after the fuzzy window, and finally `Recovery.recover`
/// — the server's startup — over the same files.
public enum DataVerify {
    public static let logProblemsMax = 1000

    public static func verify(_ directory: ToolDataDirectory) throws(ToolError) -> VerifyReport {
        let summary = try directory.logSummary()
        let snapshots = directory.snapshots()
        var problems: [VerifyProblem] = []
        var notes: [String] = []
        if let log = directory.log {
            problems += log.verify(problemsMax: logProblemsMax).map { VerifyProblem(area: .log, zxid: $0.zxid, message: $0.description) }
        }
        for snapshot in snapshots where !snapshot.isValid {
            problems.append(VerifyProblem(area: .snapshot, file: snapshot.name, message: "\(snapshot.name): \(snapshot.problem ?? "")"))
        }
        let emptyLog = LogSummary(path: "", fileBytes: 0, recordCount: 0, firstZxid: nil, lastZxid: 0, anchor: LogChainLink(zxid: 0, crc: 0))
        let logView = summary ?? emptyLog
        coverage(snapshots: snapshots, log: logView, problems: &problems, notes: &notes)
        for name in directory.otherSnapshotDirectoryFiles() {
            notes.append("snapshots/\(name) is not a snapshot" + (name.hasSuffix(".tmp") ? " (an interrupted write; deleted at startup)" : ""))
        }
        let replay = deepReplay(directory.log, snapshots: snapshots, summary: logView, problems: &problems)
        let startup = DataStatus.startupState(directory)
        if case .failure(let failure) = startup, problems.isEmpty {
            problems.append(VerifyProblem(area: .startup, message: failure.message))
        }
        return VerifyReport(
            dataDirectory: directory.path, log: summary, snapshots: snapshots, replay: replay, startup: startup,
            notes: notes, problems: problems)
    }

    /// The newest valid snapshot must be covered (recovery starts there); older ones the log no
    /// longer covers are only noted (purge leaves none behind, but they are harmless).
    static func coverage(snapshots: [SnapshotInfo], log: LogSummary, problems: inout [VerifyProblem], notes: inout [String]) {
        let valid = snapshots.filter(\.isValid)
        for (index, snapshot) in valid.enumerated() {
            guard let reason = StateReplay.coverageProblem(snapshot, log: log) else { continue }
            if index == 0 {
                problems.append(VerifyProblem(
                    area: .coverage, zxid: snapshot.startZxid, file: snapshot.name,
                    message: "the newest valid snapshot \(snapshot.name) cannot be brought up to date: \(reason)"))
            } else {
                notes.append("\(snapshot.name) can no longer be used: \(reason)")
            }
        }
        if valid.isEmpty && log.anchor.zxid != 0 {
            problems.append(VerifyProblem(
                area: .coverage, zxid: log.anchor.zxid,
                message: "no valid snapshot, and the log was purged through \(ZxidMath.hex(log.anchor.zxid)): the state cannot be rebuilt"))
        }
    }

    /// Replays from the oldest usable start through the last record. Damage the log walk already
    /// reported just ends the replay; a digest mismatch (or anything else) is a problem.
    static func deepReplay(
        _ log: LMDBTransactionLog?, snapshots: [SnapshotInfo], summary: LogSummary, problems: inout [VerifyProblem]
    ) -> String {
        guard let log else { return "nothing to replay (no log)" }
        let target = summary.lastZxid
        let starts = StateReplay.startingPoints(target: target, snapshots: snapshots, log: summary, preference: .oldest)
        guard let start = starts.first else { return "not possible: no starting point from which the log reaches \(ZxidMath.hex(target))" }
        let origin = "from \(start?.name ?? "the empty tree")"
        do {
            let state = try StateReplay.replay(log: log, from: start, through: target)
            // Quota stats are derived from the tree: each stats node must match its subtree.
            let mismatches = state.tree.quotaStatMismatches()
            for mismatch in mismatches {
                problems.append(VerifyProblem(
                    area: .quota, zxid: state.lastZxid,
                    message: "the quota stats of \(mismatch.path) say \(mismatch.stored) but its subtree has \(mismatch.actual) (a restart recomputes them)"))
            }
            let quotas = state.tree.quotaPrefixes.count
            return "\(origin) through \(ZxidMath.hex(state.lastZxid)): \(ToolFormat.count(state.txnsReplayed, "txn")), "
                + "\(ToolFormat.count(state.digestsChecked, "digest")) checked"
                + (quotas > 0 ? ", \(ToolFormat.count(quotas, "quota")) checked" : "") + (mismatches.isEmpty ? ", ok" : "")
        } catch {
            let alreadyReported = error.zxid.map { zxid in
                if case .digestMismatch = error { return false }
                return problems.contains { $0.area == .log && $0.zxid == zxid }
            } ?? false
            if !alreadyReported { problems.append(VerifyProblem(area: .replay, zxid: error.zxid, message: error.description)) }
            return "\(origin): stopped at \(error.zxid.map(ZxidMath.hex) ?? "the start"): \(error.description)"
        }
    }
}
