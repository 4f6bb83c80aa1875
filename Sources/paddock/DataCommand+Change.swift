import ArgumentParser
import ZKTools

/// The flow every changing command shares: show the plan, stop at `--dry-run` or when there is
/// nothing to do, ask unless `--yes`, apply, show the result. With `--json` the plan and the
/// result are printed as one object {"plan": …, "result": …}; questions go to stderr.
struct ChangeFlow {
    var command: String
    var json: Bool
    var options: ChangeOptions

    /// `planStatus` is the exit status when nothing is applied (dry run, nothing to do).
    func perform(
        planText: String, planJSON: JSONValue, nothingToDo: Bool, planStatus: ToolStatus = .healthy,
        apply: () throws(ToolError) -> ChangeReport
    ) throws(ToolError) -> ToolStatus {
        if !json { ToolCommandSupport.emit(planText) }
        if nothingToDo || options.dryRun {
            if json { ToolCommandSupport.emit(json: .fields(("plan", planJSON), ("result", .null), ("status", .int(Int64(planStatus.rawValue))))) }
            return planStatus
        }
        guard ToolCommandSupport.confirm("\(command): proceed?", assumeYes: options.yes) else {
            if json {
                ToolCommandSupport.emit(json: .fields(("plan", planJSON), ("result", .string("declined")), ("status", .int(1))))
            } else {
                ToolCommandSupport.emit("declined: nothing was changed")
            }
            return .problems
        }
        let report = try apply()
        if json {
            ToolCommandSupport.emit(json: .fields(("plan", planJSON), ("result", report.json), ("status", .int(Int64(report.status.rawValue)))))
        } else {
            ToolCommandSupport.emit(report.text)
        }
        return report.status
    }
}
