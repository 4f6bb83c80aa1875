import ArgumentParser

// The lists the `data` and `snapshot` groups show; each command lives in its own file.
extension DataCommand {
    static let toolCommands: [any ParsableCommand.Type] = []
    static let migrationCommands: [any ParsableCommand.Type] = []
}

extension SnapshotCommand {
    static let toolCommands: [any ParsableCommand.Type] = []
}
