import ArgumentParser

// The lists the `data` and `snapshot` groups show; each command lives in its own file.
extension DataCommand {
    static let toolCommands: [any ParsableCommand.Type] = [
        DataStatusCommand.self, DataDumpCommand.self, DataVerifyCommand.self, DataTruncateCommand.self,
        DataRepairCommand.self, DataReplayCommand.self, DataCompactCommand.self, DataPurgeCommand.self,
    ]
    static let migrationCommands: [any ParsableCommand.Type] = [ImportZooKeeperCommand.self, ExportZooKeeperCommand.self]
}

extension SnapshotCommand {
    static let toolCommands: [any ParsableCommand.Type] = [SnapshotDumpCommand.self, SnapshotDiffCommand.self]
}
