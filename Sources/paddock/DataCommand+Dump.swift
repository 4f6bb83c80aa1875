import ArgumentParser
import ZKTools

/// `paddock data dump DIR|FILE [--from ZXID] [--to ZXID]`.
struct DataDumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print the txns of a data directory's log, or of a backup records file, one per line (read-only).",
        usage: "paddock data dump <dir|file> [--from <zxid>] [--to <zxid>] [--data-log-dir <dir>] [--json]",
        discussion: """
            One line per txn: zxid, time (UTC), session, cxid, type, path and details, like \
            ZooKeeper's TxnLogToolkit; --json prints one JSON object per txn and a summary object. \
            Damaged records are shown with what is wrong and the dump goes on. A file argument is a \
            records file from a backup directory (removed-records.pdkr). Zxids: 0x100000005, \
            decimal, or epoch:counter. Exit 0 healthy, 1 when a record is damaged, 2 on errors.
            """)

    @Argument(help: ArgumentHelp("A data directory, or a records file from a backup.", valueName: "dir|file"))
    var source: String?

    @Option(name: .long, help: ArgumentHelp("First zxid to show.", valueName: "zxid"))
    var from: String?

    @Option(name: .long, help: ArgumentHelp("Last zxid to show.", valueName: "zxid"))
    var to: String?

    @Option(name: .customLong("data-log-dir"), help: ArgumentHelp("The dataLogDir, when apart from dataDir.", valueName: "dir"))
    var dataLogDirectory: String?

    @Flag(name: .long, help: "One JSON object per line instead of text.")
    var json = false

    func run() throws {
        try ToolCommandSupport.run("paddock data dump") { () throws(ToolError) -> ToolStatus in
            let path = try ToolCommandSupport.require(source, "<dir|file>", usage: Self.configuration.usage ?? "")
            let first = try ToolCommandSupport.zxid(from, option: "--from")
            let last = try ToolCommandSupport.zxid(to, option: "--to")
            let emit: (DumpedRecord) -> Void = { record in
                ToolCommandSupport.emit(json ? record.json.compact : record.text)
            }
            let summary: DumpSummary
            if try LogDump.classify(path) == .dataDirectory {
                let directory = try ToolDataDirectory.openReadOnly(path, dataLogDirectory: dataLogDirectory)
                defer { directory.close() }
                summary = try LogDump.dumpDirectory(directory, from: first, to: last, emit: emit)
            } else {
                summary = try LogDump.dumpRecordsFile(path, from: first, to: last, emit: emit)
            }
            ToolCommandSupport.emit(json ? summary.json.compact : "summary: " + summary.text)
            return summary.status
        }
    }
}
