import Foundation
import ZKBase
import ZKTools

/// ZooKeeper 3.8's admin commands (`server/admin/Commands.java`), answered with the JSON its
/// `JsonOutputter` writes: the command's fields in ZooKeeper's order, then `"command"` (the
/// primary name) and `"error"` (null on success). The figures come from `ServerNode+Reports`,
/// the same ones the four-letter words print. Runs on the node loop.
///
/// ZooKeeper 3.8 guards no command with authentication (that came in 3.9), and neither does
/// Paddock. Commands whose figures Paddock does not have (Java system properties, trace masks,
/// observer bookkeeping, the initial zoo.cfg text) are not registered: they answer as unknown.
enum AdminCommands {
    struct Command: Sendable {
        /// The first is the primary name: the one `"command"` holds and the listing links to.
        var names: [String]
        /// ZooKeeper answers these only while the server serves (not while electing or syncing).
        var serverRequired: Bool
        var run: @Sendable (ServerNode) -> [(String, JSONValue)]
    }

    static let notServing = "This ZooKeeper instance is not currently serving requests"

    static let all: [Command] = [
        Command(names: ["connection_stat_reset", "crst"], serverRequired: true) { node in
            for id in node.connections.keys { node.connections[id]?.statistics.reset() }
            return []
        },
        Command(names: ["configuration", "conf", "config"], serverRequired: true, run: configuration),
        Command(names: ["connections", "cons"], serverRequired: true) { node in
            [("connections", .array(node.connectionReports.map { connection($0, brief: false) })),
             ("secure_connections", .array([]))]
        },
        Command(names: ["dirs"], serverRequired: true) { node in
            let sizes = FourLetterWords.directorySizes(node)
            return [("datadir_size", .int(sizes.data)), ("logdir_size", .int(sizes.log))]
        },
        Command(names: ["dump"], serverRequired: true, run: dump),
        Command(names: ["environment", "env", "envi"], serverRequired: false) { node in
            node.environmentEntries.map { ($0.0, JSONValue.string($0.1)) }
        },
        // ZooKeeper lists the digests it logged every 128 zxids; Paddock keeps no such history and
        // lists the current state's (what its `hash` four-letter word prints), in the same fields.
        Command(names: ["hash"], serverRequired: true) { node in
            let current = node.currentDigest
            return [("digests", .array([.fields(
                ("zxid", .int(current.zxid)), ("digest", .int(current.digest)),
                ("digest_version", .int(Int64(ZooKeeperDigest.version))))]))]
        },
        Command(names: ["is_read_only", "isro"], serverRequired: true) { _ in [("read_only", .bool(false))] },
        Command(names: ["last_snapshot", "lsnp"], serverRequired: true) { node in
            let snapshot = node.lastSnapshot
            return [("zxid", .string(String(UInt64(bitPattern: snapshot?.zxid ?? -1), radix: 16))),
                    ("timestamp", .int(snapshot?.timestampSeconds ?? -1))]
        },
        Command(names: ["leader", "lead"], serverRequired: true, run: leader),
        Command(names: ["monitor", "mntr"], serverRequired: false) { node in
            FourLetterWords.monitorRows(node).map { (String($0.0.dropFirst("zk_".count)), monitorValue($0.1)) }
        },
        Command(names: ["ruok"], serverRequired: true) { _ in [] },
        Command(names: ["server_stats", "srvr"], serverRequired: true, run: serverStats),
        Command(names: ["stat_reset", "srst"], serverRequired: true) { node in
            node.resetServerStatistics()
            return []
        },
        Command(names: ["stats", "stat"], serverRequired: true) { node in
            serverStats(node) + [("connections", .array(node.connectionReports.map { connection($0, brief: true) })),
                                 ("secure_connections", .array([]))]
        },
        Command(names: ["voting_view"], serverRequired: true, run: votingView),
        Command(names: ["watch_summary", "wchs"], serverRequired: true) { node in
            let summary = node.watchSummary
            return [("num_connections", .int(summary.connections)), ("num_paths", .int(summary.paths)),
                    ("num_total_watches", .int(summary.watches))]
        },
        Command(names: ["watches", "wchc"], serverRequired: true) { node in
            [("session_id_to_watched_paths", .fields(node.watchedPathsBySession.map {
                (String($0.sessionId), .array($0.paths.map { .string($0) }))
            }))]
        },
        Command(names: ["watches_by_path", "wchp"], serverRequired: true) { node in
            [("path_to_session_ids", .fields(node.watchingSessionsByPath.map {
                ($0.path, .array($0.sessionIds.map { .int($0) }))
            }))]
        },
        Command(names: ["zabstate"], serverRequired: false, run: zabState),
    ]

    static let byName: [String: Command] = {
        var table: [String: Command] = [:]
        for command in all {
            for name in command.names {
                precondition(table[name] == nil, "admin command name \(name) registered twice")
                table[name] = command
            }
        }
        return table
    }()

    /// The listing's names: each command's primary name, sorted (ZooKeeper's `commandLinks`).
    static var primaryNames: [String] { all.compactMap(\.names.first).sorted() }

    /// The JSON document for `name` (ZooKeeper's `Commands.runCommand`): an unknown name or a
    /// server that does not serve yet gives a document whose `"error"` says so.
    static func response(to name: String, node: ServerNode) -> JSONValue {
        guard let command = byName[name] else { return document(command: name, [], error: "Unknown command: \(name)") }
        if command.serverRequired && !node.isServing { return document(command: name, [], error: notServing) }
        return document(command: command.names[0], command.run(node), error: nil)
    }

    /// `CommandResponse.toMap`: the fields, then "command" and "error" unless a field already has
    /// that key (a command that reports an error puts it first, and its value stays).
    static func document(command: String, _ fields: [(String, JSONValue)], error: String?) -> JSONValue {
        var members = fields
        if !members.contains(where: { $0.0 == "command" }) { members.append(("command", .string(command))) }
        if !members.contains(where: { $0.0 == "error" }) { members.append(("error", error.map { .string($0) } ?? .null)) }
        return .fields(members)
    }
}
