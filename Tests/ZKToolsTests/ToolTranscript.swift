import ZKBase
import ZKTools

/// A golden transcript: each command as the CLI would show it, then its output and exit code.
/// Temp paths are replaced with `<DIR>` / `<OUT>` so the text is stable.
struct ToolTranscript {
    private(set) var text = ""
    let replacements: [(String, String)]

    init(_ replacements: [(String, String)]) {
        // Longest first, so a path inside another is replaced as a whole.
        self.replacements = replacements.sorted { $0.0.count > $1.0.count }
    }

    /// Runs one command body returning (output, status); a ToolError prints as the CLI does.
    mutating func run(_ command: String, _ body: () throws(ToolError) -> (String, ToolStatus)) {
        text += "$ \(command)\n"
        do {
            let (output, status) = try body()
            text += clean(output) + "\n[exit \(status.rawValue)]\n\n"
        } catch {
            text += "error: \(clean(error.message))\n[exit 2]\n\n"
        }
    }

    func clean(_ output: String) -> String {
        replacements.reduce(output) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
    }
}

/// What `ChangeFlow` in the CLI prints for a change run with --yes: the plan, then the result.
func changeOutput(planText: String, nothingToDo: Bool, planStatus: ToolStatus = .healthy,
                  apply: () throws(ToolError) -> ChangeReport) throws(ToolError) -> (String, ToolStatus) {
    if nothingToDo { return (planText, planStatus) }
    let report = try apply()
    return (planText + "\n" + report.text, report.status)
}

/// The same with --json --yes.
func changeJSON(planJSON: JSONValue, nothingToDo: Bool, planStatus: ToolStatus = .healthy,
                apply: () throws(ToolError) -> ChangeReport) throws(ToolError) -> (String, ToolStatus) {
    if nothingToDo {
        return (JSONValue.fields(("plan", planJSON), ("result", .null), ("status", .int(Int64(planStatus.rawValue)))).pretty, planStatus)
    }
    let report = try apply()
    return (JSONValue.fields(("plan", planJSON), ("result", report.json), ("status", .int(Int64(report.status.rawValue)))).pretty,
            report.status)
}

/// Library calls as the read-only commands make them.
enum ToolRun {
    static func status(_ path: String, json: Bool = false) throws(ToolError) -> (String, ToolStatus) {
        let directory = try ToolDataDirectory.openReadOnly(path)
        defer { directory.close() }
        let report = try DataStatus.inspect(directory)
        return (json ? report.json.pretty : report.text, report.status)
    }

    static func verify(_ path: String, json: Bool = false) throws(ToolError) -> (String, ToolStatus) {
        let directory = try ToolDataDirectory.openReadOnly(path)
        defer { directory.close() }
        let report = try DataVerify.verify(directory)
        return (json ? report.json.pretty : report.text, report.status)
    }

    static func dump(_ path: String, from: Int64? = nil, to: Int64? = nil, json: Bool = false) throws(ToolError) -> (String, ToolStatus) {
        var lines: [String] = []
        let emit: (DumpedRecord) -> Void = { lines.append(json ? $0.json.compact : $0.text) }
        let summary: DumpSummary
        if try LogDump.classify(path) == .dataDirectory {
            let directory = try ToolDataDirectory.openReadOnly(path)
            defer { directory.close() }
            summary = try LogDump.dumpDirectory(directory, from: from, to: to, emit: emit)
        } else {
            summary = try LogDump.dumpRecordsFile(path, from: from, to: to, emit: emit)
        }
        lines.append(json ? summary.json.compact : "summary: " + summary.text)
        return (lines.joined(separator: "\n"), summary.status)
    }

    static func snapshotDump(_ path: String, data: Bool = false, json: Bool = false) throws(ToolError) -> (String, ToolStatus) {
        var lines: [String] = []
        let status = try SnapshotDump.dump(path: path) { item in
            if json {
                if let object = item.json(includeData: data) { lines.append(object.compact) }
            } else {
                lines.append(item.text(includeData: data))
            }
        }
        return (lines.joined(separator: "\n"), status)
    }

    static func diff(_ a: DiffSource, _ b: DiffSource, options: DiffOptions = DiffOptions(), json: Bool = false) throws(ToolError) -> (String, ToolStatus) {
        let report = SnapshotDiff.compare(try SnapshotDiff.load(a), try SnapshotDiff.load(b), options: options)
        return (json ? report.json.pretty : report.text, report.status)
    }

    static func replay(_ path: String, to zxid: Int64, output: String, json: Bool = false) throws(ToolError) -> (String, ToolStatus) {
        let directory = try ToolDataDirectory.openReadOnly(path)
        defer { directory.close() }
        switch try DataReplay.replay(directory, to: zxid, output: output, level: 0) {
        case .success(let report): return (json ? report.json.pretty : report.text, .healthy)
        case .failure(let failure): return ("cannot replay \(path) to \(ZxidMath.hex(zxid)): \(failure.description)", .problems)
        }
    }
}
