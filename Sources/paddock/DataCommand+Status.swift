import ArgumentParser
import ZKTools

/// `paddock data status DIR`.
struct DataStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show what a data directory holds and the state the server would start with (read-only).",
        usage: "paddock data status <dir> [--data-log-dir <dir>] [--json]",
        discussion: """
            Shows the format version, the log's zxid range and size, every snapshot with its zxids, \
            size and validity, backups left by earlier repairs, and the last zxid, znode and session \
            counts and tree digest that startup recovery rebuilds. Safe next to a running server. \
            Exit 0 healthy, 1 when the state cannot be rebuilt or a snapshot is invalid, 2 on errors.
            """)

    @OptionGroup var directoryOptions: DataDirectoryOptions

    func run() throws {
        try ToolCommandSupport.run("paddock data status") { () throws(ToolError) -> ToolStatus in
            let path = try ToolCommandSupport.require(directoryOptions.directory, "<dir>", usage: Self.configuration.usage ?? "")
            let directory = try ToolDataDirectory.openReadOnly(path, dataLogDirectory: directoryOptions.dataLogDirectory)
            defer { directory.close() }
            let report = try DataStatus.inspect(directory)
            if directoryOptions.json { ToolCommandSupport.emit(json: report.json) } else { ToolCommandSupport.emit(report.text) }
            return report.status
        }
    }
}

/// `paddock data verify DIR`.
struct DataVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every log record, every snapshot, log coverage and a digest-checked replay (read-only).",
        usage: "paddock data verify <dir> [--data-log-dir <dir>] [--json]",
        discussion: """
            Checks each log record's validity and CRC chain and the zxid continuity, each snapshot's \
            header, stream and trailer, that the log covers everything after the newest valid \
            snapshot, replays from the oldest usable point checking every digest, and runs the \
            server's startup recovery over the same files. Each problem is reported with its zxid or \
            file. Safe next to a running server. Exit 0 healthy, 1 problems found, 2 on errors.
            """)

    @OptionGroup var directoryOptions: DataDirectoryOptions

    func run() throws {
        try ToolCommandSupport.run("paddock data verify") { () throws(ToolError) -> ToolStatus in
            let path = try ToolCommandSupport.require(directoryOptions.directory, "<dir>", usage: Self.configuration.usage ?? "")
            let directory = try ToolDataDirectory.openReadOnly(path, dataLogDirectory: directoryOptions.dataLogDirectory)
            defer { directory.close() }
            let report = try DataVerify.verify(directory)
            if directoryOptions.json { ToolCommandSupport.emit(json: report.json) } else { ToolCommandSupport.emit(report.text) }
            return report.status
        }
    }
}
