import ArgumentParser
import ZKTools

/// `paddock data truncate DIR --after ZXID`.
struct DataTruncateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "truncate",
        abstract: "Remove every txn after a zxid (a diverged follower, a bad tail), keeping a backup.",
        usage: "paddock data truncate <dir> --after <zxid> [--yes] [--dry-run] [--data-log-dir <dir>] [--json]",
        discussion: """
            Removes the log records after <zxid> and moves the snapshots that hold any of those txns \
            to backup/<time>-truncate/ in the data directory; the removed records are kept there as \
            removed-records.pdkr, which `paddock data dump` reads. Refuses while a server holds the \
            data directory's lock. Shows the plan and asks unless --yes. Exit 0 done, 1 declined, \
            2 on errors (a held lock included).
            """)

    @OptionGroup var directoryOptions: DataDirectoryOptions
    @OptionGroup var changeOptions: ChangeOptions

    @Option(name: .long, help: ArgumentHelp("Keep txns up to and including this zxid.", valueName: "zxid"))
    var after: String?

    func run() throws {
        try ToolCommandSupport.run("paddock data truncate") { () throws(ToolError) -> ToolStatus in
            let usage = Self.configuration.usage ?? ""
            let path = try ToolCommandSupport.require(directoryOptions.directory, "<dir>", usage: usage)
            let zxid = try ToolCommandSupport.require(try ToolCommandSupport.zxid(after, option: "--after"), "--after <zxid>", usage: usage)
            let directory = try ToolDataDirectory.openForChange(path, dataLogDirectory: directoryOptions.dataLogDirectory)
            defer { directory.close() }
            let now = ToolCommandSupport.nowMs()
            let plan = try DataTruncate.plan(directory, after: zxid, nowMs: now)
            let flow = ChangeFlow(command: "truncate", json: directoryOptions.json, options: changeOptions)
            return try flow.perform(planText: plan.text, planJSON: plan.json, nothingToDo: plan.isEmpty) { () throws(ToolError) in
                try DataTruncate.apply(plan, directory, nowMs: now)
            }
        }
    }
}

/// `paddock data repair DIR`.
struct DataRepairCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Cut the log back before its first damaged record and set corrupt snapshots aside, keeping a backup.",
        usage: "paddock data repair <dir> [--yes] [--dry-run] [--data-log-dir <dir>] [--json]",
        discussion: """
            Finds the first damaged log record (a failed validity rule, a broken CRC link, a gap) and \
            every invalid snapshot, and shows exactly what will be lost: the records from the damage \
            on, corrupt snapshots, and snapshots holding txns the cut removes (or that the log no \
            longer has, after a damaged commit journal was cut back). Nothing else is \
            touched. Everything removed goes to backup/<time>-repair/ in the data directory. Refuses \
            (changing nothing) when the result still would not start. Refuses while a server holds \
            the lock. Exit 0 repaired or nothing to repair, 1 declined or cannot repair, 2 on errors.
            """)

    @OptionGroup var directoryOptions: DataDirectoryOptions
    @OptionGroup var changeOptions: ChangeOptions

    func run() throws {
        try ToolCommandSupport.run("paddock data repair") { () throws(ToolError) -> ToolStatus in
            let path = try ToolCommandSupport.require(directoryOptions.directory, "<dir>", usage: Self.configuration.usage ?? "")
            let now = ToolCommandSupport.nowMs()
            let flow = ChangeFlow(command: "repair", json: directoryOptions.json, options: changeOptions)
            let directory: ToolDataDirectory
            do throws(ToolError) {
                directory = try ToolDataDirectory.openForChange(path, dataLogDirectory: directoryOptions.dataLogDirectory)
            } catch where JournalSalvagePlan.applies(to: error) {
                // The log does not open: the journal first (then repair runs again for the rest).
                let salvage = try JournalSalvagePlan.plan(path, dataLogDirectory: directoryOptions.dataLogDirectory, nowMs: now)
                return try flow.perform(planText: salvage.text, planJSON: salvage.json, nothingToDo: false, planStatus: .problems) {
                    () throws(ToolError) in try salvage.apply(dataLogDirectory: directoryOptions.dataLogDirectory, nowMs: now)
                }
            }
            defer { directory.close() }
            let plan = try DataRepair.plan(directory, nowMs: now)
            return try flow.perform(
                planText: plan.text, planJSON: plan.json, nothingToDo: plan.isEmpty || plan.refusal != nil, planStatus: plan.status
            ) { () throws(ToolError) in
                try DataRepair.apply(plan, directory, nowMs: now)
            }
        }
    }
}

/// `paddock data compact DIR`.
struct DataCompactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Rewrite the LMDB log file without its free pages (mdb_env_copy2 with MDB_CP_COMPACT), keeping the old file.",
        usage: "paddock data compact <dir> [--yes] [--dry-run] [--data-log-dir <dir>] [--json]",
        discussion: """
            LMDB never gives pages back to the file system. This writes a compacted copy, checks it \
            holds the same records, and swaps it in with one rename; the old data.mdb stays in \
            backup/<time>-compact/. Refuses while a server holds the lock. Exit 0 done, 1 declined, \
            2 on errors.
            """)

    @OptionGroup var directoryOptions: DataDirectoryOptions
    @OptionGroup var changeOptions: ChangeOptions

    func run() throws {
        try ToolCommandSupport.run("paddock data compact") { () throws(ToolError) -> ToolStatus in
            let path = try ToolCommandSupport.require(directoryOptions.directory, "<dir>", usage: Self.configuration.usage ?? "")
            let directory = try ToolDataDirectory.openForChange(path, dataLogDirectory: directoryOptions.dataLogDirectory)
            defer { directory.close() }
            let now = ToolCommandSupport.nowMs()
            let plan = try DataCompact.plan(directory, nowMs: now)
            let flow = ChangeFlow(command: "compact", json: directoryOptions.json, options: changeOptions)
            return try flow.perform(planText: plan.text, planJSON: plan.json, nothingToDo: false) { () throws(ToolError) in
                try DataCompact.apply(plan, directory, nowMs: now)
            }
        }
    }
}

/// `paddock data purge DIR --keep N`.
struct DataPurgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Keep the newest N valid snapshots; remove older ones and the log records no kept snapshot needs.",
        usage: "paddock data purge <dir> [--keep <n>] [--no-backup] [--yes] [--dry-run] [--data-log-dir <dir>] [--json]",
        discussion: """
            Like ZooKeeper's PurgeTxnLog. Records with zxid up to the oldest kept snapshot's start \
            zxid are removed. By default what is removed is kept in backup/<time>-purge/ (records in \
            removed-records.pdkr, snapshot files moved); --no-backup deletes it instead, which is what \
            frees disk space (then `paddock data compact` shrinks the log file). Refuses while a \
            server holds the lock. Exit 0 done, 1 declined, 2 on errors.
            """)

    @OptionGroup var directoryOptions: DataDirectoryOptions
    @OptionGroup var changeOptions: ChangeOptions

    @Option(name: .long, help: "How many valid snapshots to keep.")
    var keep: Int = 3

    @Flag(name: .customLong("no-backup"), help: "Delete what is removed instead of moving it to a backup directory.")
    var noBackup = false

    func run() throws {
        try ToolCommandSupport.run("paddock data purge") { () throws(ToolError) -> ToolStatus in
            let path = try ToolCommandSupport.require(directoryOptions.directory, "<dir>", usage: Self.configuration.usage ?? "")
            let directory = try ToolDataDirectory.openForChange(path, dataLogDirectory: directoryOptions.dataLogDirectory)
            defer { directory.close() }
            let now = ToolCommandSupport.nowMs()
            let plan = try DataPurge.plan(directory, keep: keep, backup: !noBackup, nowMs: now)
            let flow = ChangeFlow(command: "purge", json: directoryOptions.json, options: changeOptions)
            return try flow.perform(planText: plan.text, planJSON: plan.json, nothingToDo: plan.isEmpty) { () throws(ToolError) in
                try DataPurge.apply(plan, directory, nowMs: now)
            }
        }
    }
}
