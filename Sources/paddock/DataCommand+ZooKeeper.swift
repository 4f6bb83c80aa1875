import ArgumentParser
import Foundation
import ZKTools

/// `paddock data import-zk` and `paddock data export-zk`: migration from and back to Apache
/// ZooKeeper. The work is in ZKTools (ZooKeeperImport, ZooKeeperExport); this parses and prints.
struct ImportZooKeeperCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-zk",
        abstract: "Build a Paddock data directory from an Apache ZooKeeper data directory (server stopped).",
        discussion: """
            Reads ZKDATADIR/version-2 (or ZKDATADIR itself): the newest snapshot.* that deserializes \
            (plain, .gz or .snappy; older ones are tried in turn), then every txn after it from log.* \
            (Adler32 checked; a torn last txn is ignored as ZooKeeper ignores it). Writes one Paddock \
            snapshot at the newest zxid ZooKeeper's tree held (committed) and a log holding the txns \
            after it (an ensemble leader may still truncate them); carries acceptedEpoch, \
            currentEpoch and myid (an ensemble member's state). Sessions keep their ids and timeouts. \
            A server started on ZooKeeper's dataDir with its zoo.cfg does the same by itself. Exit 1 when the ZooKeeper files are corrupt (the file and offset are \
            named) or replay does not reproduce ZooKeeper's recorded digests; 2 on usage or I/O errors.
            """)

    @Argument(help: "Apache ZooKeeper dataDir (holding version-2/) or its version-2 directory.")
    var zookeeperDirectory: String

    @Argument(help: "Paddock data directory to create (must be empty or missing).")
    var dataDirectory: String

    @Option(name: .customLong("zk-log-dir"), help: "ZooKeeper dataLogDir, when the logs are not in ZKDATADIR.")
    var zookeeperLogDirectory: String?

    @Option(name: .customLong("data-log-dir"), help: "Paddock dataLogDir (default: DIR).")
    var dataLogDirectory: String?

    @Flag(name: .long, help: "Replace the snapshots and log of an existing Paddock data directory.")
    var force = false

    @Flag(name: .customLong("no-digest-check"), help: "Import even when the rebuilt tree's digest differs from the one ZooKeeper recorded.")
    var noDigestCheck = false

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        var options = ZooKeeperImportOptions(
            zookeeperDirectory: zookeeperDirectory, zookeeperLogDirectory: zookeeperLogDirectory,
            dataDirectory: dataDirectory, dataLogDirectory: dataLogDirectory, force: force)
        options.checkDigests = !noDigestCheck
        let report: ZooKeeperImportReport
        do {
            report = try ZooKeeperImport.run(options)
        } catch {
            FileHandle.standardError.write(Data("paddock data import-zk: \(error)\n".utf8))
            throw ExitCode(error.exitCode)
        }
        say(json ? Self.json(report) : Self.text(report))
    }

    static func text(_ report: ZooKeeperImportReport) -> String {
        var lines: [String] = []
        let snapshot = report.snapshotUsed.map { "snapshot \($0) (zxid \(hex(report.snapshotZxid)))" } ?? "no snapshot (empty tree)"
        lines.append("paddock data import-zk: read \(snapshot); replayed \(report.txnsReplayed) txns from \(report.logFilesRead.count) log files (\(report.txnsSkipped) at or before the snapshot skipped); \(report.digestsChecked) digest checks passed")
        lines.append("  \(report.znodes) znodes (\(report.ephemerals) ephemeral, \(report.containers) container, \(report.ttlNodes) TTL), \(report.sessions) sessions, last zxid \(hex(report.lastZxid)), digest \(report.digest)")
        for skipped in report.skippedSnapshots { lines.append("  skipped \(skipped.path): \(skipped.reason)") }
        for note in report.logNotes { lines.append("  note: \(note)") }
        if let written = report.paddockSnapshot {
            lines.append("  wrote \(written) (committed through \(hex(report.committedZxid))) and \(report.txnsLogged) log records after it; the log continues at \(hex(report.lastZxid + 1)) (\(report.elapsedMs) ms)")
        }
        if let accepted = report.acceptedEpoch {
            lines.append("  epochs: acceptedEpoch \(accepted), currentEpoch \(report.currentEpoch.map(String.init) ?? "none")")
        }
        if let myid = report.myidCopied { lines.append("  copied myid to \(myid)") }
        return lines.joined(separator: "\n")
    }

    static func json(_ report: ZooKeeperImportReport) -> String {
        migrationJSON([
            ("znodes", .number(report.znodes)),
            ("sessions", .number(report.sessions)),
            ("ephemerals", .number(report.ephemerals)),
            ("containers", .number(report.containers)),
            ("ttlNodes", .number(report.ttlNodes)),
            ("lastZxid", .text(hex(report.lastZxid))),
            ("committedZxid", .text(hex(report.committedZxid))),
            ("txnsLogged", .number(report.txnsLogged)),
            ("acceptedEpoch", report.acceptedEpoch.map { .number(Int($0)) } ?? .null),
            ("currentEpoch", report.currentEpoch.map { .number(Int($0)) } ?? .null),
            ("myidCopied", report.myidCopied.map { .text($0) } ?? .null),
            ("txnsReplayed", .number(report.txnsReplayed)),
            ("txnsSkipped", .number(report.txnsSkipped)),
            ("digestsChecked", .number(report.digestsChecked)),
            ("digest", .text(String(report.digest))),
            ("snapshotUsed", report.snapshotUsed.map { .text($0) } ?? .null),
            ("snapshotZxid", .text(hex(report.snapshotZxid))),
            ("skippedSnapshots", .list(report.skippedSnapshots.map { "\($0.path): \($0.reason)" })),
            ("logFilesRead", .list(report.logFilesRead)),
            ("notes", .list(report.logNotes)),
            ("paddockSnapshot", report.paddockSnapshot.map { .text($0) } ?? .null),
            ("elapsedMs", .number(Int(report.elapsedMs))),
        ])
    }
}

struct ExportZooKeeperCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-zk",
        abstract: "Write a Paddock data directory's tree as a snapshot Apache ZooKeeper 3.8 starts from.",
        discussion: """
            Recovers DIR read-only, exactly as the server would at startup (it may run next to a live \
            server), and writes ZKDIR/version-2/snapshot.<hex zxid> in ZooKeeper's format with its \
            digest. A standalone server's directory: the whole tree, no log. An ensemble member's \
            (it has acceptedEpoch): its committed tree as the snapshot, the rest of its log as \
            log.<hex zxid>, its acceptedEpoch, currentEpoch and myid, so the Apache member that \
            replaces it keeps its promises. Point ZooKeeper's dataDir at ZKDIR (it may be DIR itself, \
            with --force). Exit 1 when DIR does not recover; 2 on usage or I/O errors.
            """)

    @Argument(help: "Paddock data directory.")
    var dataDirectory: String

    @Argument(help: "ZooKeeper dataDir to write (the snapshot goes to its version-2/).")
    var zookeeperDirectory: String

    @Option(name: .customLong("data-log-dir"), help: "Paddock dataLogDir (default: DIR).")
    var dataLogDirectory: String?

    @Flag(name: .long, help: "Write snapshot.<zxid>.gz (ZooKeeper reads any compression whatever its setting).")
    var gzip = false

    @Flag(name: .customLong("no-digest"), help: "Leave out the digest part (ZooKeeper 3.8 then skips its load-time check).")
    var noDigest = false

    @Flag(name: .long, help: "Move existing snapshot.*/log.* files in ZKDIR/version-2 aside instead of refusing.")
    var force = false

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        var options = ZooKeeperExportOptions(
            dataDirectory: dataDirectory, dataLogDirectory: dataLogDirectory, zookeeperDirectory: zookeeperDirectory,
            compression: gzip ? .gzip : .none, force: force)
        options.includeDigest = !noDigest
        let report: ZooKeeperExportReport
        do {
            report = try ZooKeeperExport.run(options)
        } catch {
            FileHandle.standardError.write(Data("paddock data export-zk: \(error)\n".utf8))
            throw ExitCode(error.exitCode)
        }
        let snapshot = report.snapshot
        if json {
            say(migrationJSON([
                ("snapshot", .text(snapshot.path)),
                ("zxid", .text(hex(snapshot.zxid))),
                ("znodes", .number(snapshot.nodeCount)),
                ("sessions", .number(snapshot.sessionCount)),
                ("acls", .number(snapshot.aclCount)),
                ("digest", snapshot.digest.map { .text(String($0)) } ?? .null),
                ("bytes", .number(Int(snapshot.fileBytes))),
                ("recoveredFrom", report.recoveredFrom.map { .text($0) } ?? .null),
                ("txnsReplayed", .number(report.txnsReplayed)),
                ("movedAside", .list(report.movedAside)),
                ("movedTo", report.movedTo.map { .text($0) } ?? .null),
                ("logFile", report.logFile.map { .text($0) } ?? .null),
                ("txnsInLog", .number(report.txnsInLog)),
                ("acceptedEpoch", report.acceptedEpoch.map { .number(Int($0)) } ?? .null),
                ("currentEpoch", report.currentEpoch.map { .number(Int($0)) } ?? .null),
                ("myidCopied", report.myidCopied.map { .text($0) } ?? .null),
                ("paddockFilesMovedTo", report.paddockFilesMovedTo.map { .text($0) } ?? .null),
                ("elapsedMs", .number(Int(report.elapsedMs))),
            ]))
            return
        }
        var lines = ["paddock data export-zk: wrote \(snapshot.path): \(snapshot.nodeCount) znodes, \(snapshot.sessionCount) sessions, \(snapshot.aclCount) ACL lists, zxid \(hex(snapshot.zxid)), \(snapshot.fileBytes) bytes (\(report.elapsedMs) ms)"]
        if let movedTo = report.movedTo { lines.append("  moved \(report.movedAside.count) existing ZooKeeper files to \(movedTo)") }
        if let logFile = report.logFile { lines.append("  wrote \(logFile): \(report.txnsInLog) txns after the snapshot") }
        if let accepted = report.acceptedEpoch {
            lines.append("  epochs: acceptedEpoch \(accepted), currentEpoch \(report.currentEpoch ?? accepted)")
        }
        if let myid = report.myidCopied { lines.append("  copied myid to \(myid)") }
        if let aside = report.paddockFilesMovedTo {
            lines.append("  handed the directory to ZooKeeper: Paddock's files moved to \(aside) (a Paddock server started here imports ZooKeeper's files again)")
        }
        say(lines.joined(separator: "\n"))
    }
}

private func hex(_ zxid: Int64) -> String { "0x" + String(UInt64(bitPattern: zxid), radix: 16) }

private enum MigrationJSONValue {
    case number(Int)
    case text(String)
    case list([String])
    case null
}

/// One JSON object, keys in the given order.
private func migrationJSON(_ fields: [(String, MigrationJSONValue)]) -> String {
    func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
    let body = fields.map { key, value -> String in
        let rendered: String
        switch value {
        case .number(let number): rendered = String(number)
        case .text(let text): rendered = quote(text)
        case .list(let items): rendered = "[" + items.map(quote).joined(separator: ", ") + "]"
        case .null: rendered = "null"
        }
        return quote(key) + ": " + rendered
    }
    return "{" + body.joined(separator: ", ") + "}"
}
