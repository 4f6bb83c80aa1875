import ArgumentParser

/// `paddock data …`: offline tools for a data directory (ZKTools does the work; this only
/// parses flags and prints). Exit codes: 0 healthy, 1 problems found, 2 usage or I/O error.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Inspect, verify and repair a Paddock data directory (server stopped for changes).",
        subcommands: DataCommand.toolCommands + DataCommand.migrationCommands)
}

/// `paddock snapshot …`: snapshot files.
struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Dump and compare snapshot files.",
        subcommands: SnapshotCommand.toolCommands)
}
