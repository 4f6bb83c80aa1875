import ArgumentParser
import ZKTools

/// `paddock data replay DIR --to ZXID --out FILE`.
struct DataReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Rebuild the state at a zxid the log still covers and write it as a snapshot file (read-only on DIR).",
        usage: "paddock data replay <dir> --to <zxid> --out <file|dir> [--level <0-9>] [--data-log-dir <dir>] [--json]",
        discussion: """
            Starts from the newest valid snapshot that ends at or before <zxid> (or the empty tree), \
            replays the log through <zxid> checking digests, and writes an exact snapshot: to <file>, \
            or as snapshot.<zxid> in <dir>. Look at it with `paddock snapshot dump` or compare it with \
            `paddock snapshot diff`. Exit 0 written, 1 when the zxid is not covered or the replay \
            finds a problem, 2 on errors.
            """)

    @OptionGroup var directoryOptions: DataDirectoryOptions

    @Option(name: .long, help: ArgumentHelp("Replay txns up to and including this zxid.", valueName: "zxid"))
    var to: String?

    @Option(name: .long, help: ArgumentHelp("Snapshot file to write (or a directory for snapshot.<zxid>).", valueName: "file"))
    var out: String?

    @Option(name: .long, help: "zlib level of the snapshot written (0 = uncompressed).")
    var level: Int32 = 1

    func run() throws {
        try ToolCommandSupport.run("paddock data replay") { () throws(ToolError) -> ToolStatus in
            let usage = Self.configuration.usage ?? ""
            let path = try ToolCommandSupport.require(directoryOptions.directory, "<dir>", usage: usage)
            let target = try ToolCommandSupport.require(try ToolCommandSupport.zxid(to, option: "--to"), "--to <zxid>", usage: usage)
            let output = try ToolCommandSupport.require(out, "--out <file>", usage: usage)
            guard (0...9).contains(level) else { throw .usage("--level must be 0...9") }
            let directory = try ToolDataDirectory.openReadOnly(path, dataLogDirectory: directoryOptions.dataLogDirectory)
            defer { directory.close() }
            switch try DataReplay.replay(directory, to: target, output: output, level: level) {
            case .success(let report):
                if directoryOptions.json { ToolCommandSupport.emit(json: report.json) } else { ToolCommandSupport.emit(report.text) }
                return .healthy
            case .failure(let failure):
                if directoryOptions.json {
                    ToolCommandSupport.emit(json: .fields(("error", .string(failure.description)), ("status", .int(1))))
                } else {
                    ToolCommandSupport.emit("cannot replay \(path) to \(ToolFormat.zxid(target)): \(failure.description)")
                }
                return .problems
            }
        }
    }
}
