import ArgumentParser
import ZKTools

/// `paddock snapshot dump FILE [--data]`.
struct SnapshotDumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print a snapshot file's nodes with their stat, its sessions and its digest.",
        usage: "paddock snapshot dump <file> [--data] [--json]",
        discussion: """
            In the shape of ZooKeeper's SnapshotFormatter (times in UTC). The file is streamed and \
            checked; --json prints one JSON object per line (header, nodes, sessions, trailer). \
            Exit 0 valid, 1 invalid (what was read is still printed), 2 on errors.
            """)

    @Argument(help: ArgumentHelp("A snapshot file.", valueName: "file"))
    var file: String?

    @Flag(name: .long, help: "Also print each node's data.")
    var data = false

    @Flag(name: .long, help: "One JSON object per line instead of text.")
    var json = false

    func run() throws {
        try ToolCommandSupport.run("paddock snapshot dump") { () throws(ToolError) -> ToolStatus in
            let path = try ToolCommandSupport.require(file, "<file>", usage: Self.configuration.usage ?? "")
            return try SnapshotDump.dump(path: path) { item in
                if json {
                    if let object = item.json(includeData: data) { ToolCommandSupport.emit(object.compact) }
                } else {
                    ToolCommandSupport.emit(item.text(includeData: data))
                }
            }
        }
    }
}

/// `paddock snapshot diff A B`.
struct SnapshotDiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two snapshots, or a snapshot and a data directory's state at a zxid.",
        usage: """
            paddock snapshot diff <a> <b> [--at <zxid>] [--at-a <zxid>] [--at-b <zxid>] \
            [--byte-threshold <n>] [--node-threshold <n>] [--max-listed <n>] [--json]
            """,
        discussion: """
            Each side is a snapshot file or a data directory; a directory stands for its state at \
            --at-a/--at-b (or --at for both; default: its newest state), rebuilt read-only. Lists \
            added, removed and changed znodes and sessions; like ZooKeeper's SnapshotComparer, \
            --byte-threshold lists only data changes of at least that many bytes and \
            --node-threshold shows the subtrees whose descendant count changed by at least that \
            many. A snapshot is fuzzy: compare `paddock data replay` outputs for exact states. \
            Exit 0 identical, 1 different, 2 on errors.
            """)

    @Argument(help: ArgumentHelp("Left side: a snapshot file or a data directory.", valueName: "a"))
    var left: String?

    @Argument(help: ArgumentHelp("Right side: a snapshot file or a data directory.", valueName: "b"))
    var right: String?

    @Option(name: .long, help: ArgumentHelp("State of a data directory side at this zxid.", valueName: "zxid"))
    var at: String?

    @Option(name: .customLong("at-a"), help: ArgumentHelp("Zxid for side a (a data directory).", valueName: "zxid"))
    var atLeft: String?

    @Option(name: .customLong("at-b"), help: ArgumentHelp("Zxid for side b (a data directory).", valueName: "zxid"))
    var atRight: String?

    @Option(name: .customLong("byte-threshold"), help: "List changed nodes whose data size changed by at least this many bytes.")
    var byteThreshold: Int = 0

    @Option(name: .customLong("node-threshold"), help: "List subtrees whose descendant count changed by at least this many nodes.")
    var nodeThreshold: Int = 1

    @Option(name: .customLong("max-listed"), help: "Entries listed per section.")
    var maxListed: Int = 1000

    @Option(name: .customLong("data-log-dir"), help: ArgumentHelp("The dataLogDir of a data directory side.", valueName: "dir"))
    var dataLogDirectory: String?

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        try ToolCommandSupport.run("paddock snapshot diff") { () throws(ToolError) -> ToolStatus in
            let usage = Self.configuration.usage ?? ""
            let a = try ToolCommandSupport.require(left, "<a>", usage: usage)
            let b = try ToolCommandSupport.require(right, "<b>", usage: usage)
            guard byteThreshold >= 0, nodeThreshold >= 0, maxListed >= 0 else { throw .usage("thresholds must not be negative") }
            let both = try ToolCommandSupport.zxid(at, option: "--at")
            let leftSide = try SnapshotDiff.load(source(a, at: try ToolCommandSupport.zxid(atLeft, option: "--at-a") ?? both))
            let rightSide = try SnapshotDiff.load(source(b, at: try ToolCommandSupport.zxid(atRight, option: "--at-b") ?? both))
            let report = SnapshotDiff.compare(
                leftSide, rightSide,
                options: DiffOptions(byteThreshold: byteThreshold, nodeThreshold: nodeThreshold, listedMax: maxListed))
            if json { ToolCommandSupport.emit(json: report.json) } else { ToolCommandSupport.emit(report.text) }
            return report.status
        }
    }

    private func source(_ path: String, at zxid: Int64?) -> DiffSource {
        DiffSource.from(path: path, dataLogDirectory: dataLogDirectory, at: zxid)
    }
}
