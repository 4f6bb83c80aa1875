import ZKTestSupport
import Foundation
import Testing
@testable import ZKServer

/// The admin HTTP server: each command's JSON keys in ZooKeeper 3.8's order (read from a running
/// Apache ZooKeeper 3.8.0's admin server), the listing, and hostile HTTP input.
@Suite(.serialized) struct AdminServerTests {
    /// Top-level keys, in order, as Apache ZooKeeper 3.8.0 answers on a standalone server.
    static let expectedKeys: [String: [String]] = [
        "ruok": ["command", "error"],
        "server_stats": ["version", "read_only", "server_stats", "client_response", "node_count", "command", "error"],
        "stats": ["version", "read_only", "server_stats", "client_response", "node_count", "connections",
                  "secure_connections", "command", "error"],
        "configuration": ["client_port", "data_dir", "data_log_dir", "tick_time", "max_client_cnxns", "min_session_timeout",
                          "max_session_timeout", "server_id", "client_port_listen_backlog", "command", "error"],
        "connections": ["connections", "secure_connections", "command", "error"],
        "dump": ["expiry_time_to_session_ids", "session_id_to_ephemeral_paths", "command", "error"],
        "dirs": ["datadir_size", "logdir_size", "command", "error"],
        "watch_summary": ["num_connections", "num_paths", "num_total_watches", "command", "error"],
        "watches": ["session_id_to_watched_paths", "command", "error"],
        "watches_by_path": ["path_to_session_ids", "command", "error"],
        "is_read_only": ["read_only", "command", "error"],
        "last_snapshot": ["zxid", "timestamp", "command", "error"],
        "zabstate": ["voting", "zabstate", "command", "error"],
        "hash": ["digests", "command", "error"],
        "leader": ["error", "command"],
        "voting_view": ["current_config", "command", "error"],
        "connection_stat_reset": ["command", "error"],
        "stat_reset": ["command", "error"],
    ]
    static let serverStatsKeys: Set<String> = [
        "packets_sent", "packets_received", "fsync_threshold_exceed_count", "client_response_stats", "data_dir_size",
        "log_dir_size", "provider_null", "server_state", "last_processed_zxid", "outstanding_requests", "avg_latency",
        "max_latency", "min_latency", "num_alive_client_connections", "uptime", "auth_failed_count",
        "non_mtlsremote_conn_count", "non_mtlslocal_conn_count",
    ]
    static let briefConnectionKeys: Set<String> = [
        "remote_socket_address", "interest_ops", "outstanding_requests", "packets_received", "packets_sent",
    ]
    static let connectionKeys = briefConnectionKeys.union([
        "session_id", "last_operation", "established", "session_timeout", "last_cxid", "last_zxid",
        "last_response_time", "last_latency", "min_latency", "avg_latency", "max_latency",
    ])

    @Test func eachCommandHasZooKeepersKeysInOrder() async throws {
        let server = try TestServer(adminServer: true)
        defer { server.stop() }
        let adminPort = try #require(server.server.adminPort)
        try await onThread {
            let session = try sessionWithEphemeralAndWatch(port: server.port)
            defer { _ = session }
            for (name, keys) in Self.expectedKeys.sorted(by: { $0.key < $1.key }) {
                let answer = try HTTPAnswer.get(port: adminPort, "/commands/\(name)")
                #expect(answer.status == 200, "\(name)")
                #expect(answer.headers["content-type"] == "application/json", "\(name)")
                #expect(orderedKeys(answer.body) == keys, "\(name): \(answer.body)")
                let json = try answer.json()
                #expect(json["command"] as? String == name)
            }
        }
    }

    @Test func nestedFieldsAndValues() async throws {
        let server = try TestServer(adminServer: true)
        defer { server.stop() }
        let adminPort = try #require(server.server.adminPort)
        try await onThread {
            let session = try sessionWithEphemeralAndWatch(port: server.port)
            defer { _ = session }
            let stats = try HTTPAnswer.get(port: adminPort, "/commands/stats").json()
            let serverStats = try #require(stats["server_stats"] as? [String: Any])
            #expect(Set(serverStats.keys) == Self.serverStatsKeys)
            #expect(serverStats["server_state"] as? String == "standalone")
            let brief = try #require(stats["connections"] as? [[String: Any]])
            #expect(brief.count == 1 && Set(brief[0].keys) == Self.briefConnectionKeys)
            let connections = try HTTPAnswer.get(port: adminPort, "/commands/cons").json()
            let full = try #require(connections["connections"] as? [[String: Any]])
            #expect(full.count == 1 && Set(full[0].keys) == Self.connectionKeys)
            let sessionId = try #require(full[0]["session_id"] as? Int64)
            #expect(sessionId != 0)
            let dump = try HTTPAnswer.get(port: adminPort, "/commands/dump").json()
            #expect(dump["session_id_to_ephemeral_paths"] as? [String: [String]] == [String(sessionId): ["/admin-e"]])
            let watches = try HTTPAnswer.get(port: adminPort, "/commands/wchc").json()
            #expect(watches["session_id_to_watched_paths"] as? [String: [String]] == [String(sessionId): ["/admin-a"]])
            let byPath = try HTTPAnswer.get(port: adminPort, "/commands/wchp").json()
            #expect(byPath["path_to_session_ids"] as? [String: [Int64]] == ["/admin-a": [sessionId]])
            let summary = try HTTPAnswer.get(port: adminPort, "/commands/wchs").json()
            #expect(summary["num_connections"] as? Int == 1 && summary["num_paths"] as? Int == 1 && summary["num_total_watches"] as? Int == 1)
            let monitor = try HTTPAnswer.get(port: adminPort, "/commands/mntr").json()
            #expect(monitor["server_state"] as? String == "standalone" && monitor["ephemerals_count"] as? Int == 1)
            #expect(monitor["version"] is String && monitor["avg_latency"] is Double)
            let conf = try HTTPAnswer.get(port: adminPort, "/commands/conf").json()
            #expect(conf["client_port"] as? Int == server.port && conf["server_id"] as? Int == 0)
            let hash = try HTTPAnswer.get(port: adminPort, "/commands/hash").json()
            let digests = try #require(hash["digests"] as? [[String: Any]])
            #expect(digests.count == 1 && Set(digests[0].keys) == ["zxid", "digest", "digest_version"])
            let zab = try HTTPAnswer.get(port: adminPort, "/commands/zabstate").json()
            #expect(zab["voting"] as? Bool == false && zab["zabstate"] as? String == "")
        }
    }

    @Test func layoutIsJacksons() async throws {
        let server = try TestServer(adminServer: true)
        defer { server.stop() }
        let adminPort = try #require(server.server.adminPort)
        try await onThread {
            #expect(try HTTPAnswer.get(port: adminPort, "/commands/ruok").body == "{\n  \"command\" : \"ruok\",\n  \"error\" : null\n}")
            let session = try sessionWithEphemeralAndWatch(port: server.port)
            defer { _ = session }
            let body = try HTTPAnswer.get(port: adminPort, "/commands/stats").body
            #expect(body.contains("\"connections\" : [ {\n    \"remote_socket_address\" : \"127.0.0.1:"))
            #expect(body.contains("  } ],\n  \"secure_connections\" : [ ],\n"))
        }
    }

    @Test func aliasesListingAndUnknownCommands() async throws {
        let server = try TestServer(adminServer: true)
        defer { server.stop() }
        let adminPort = try #require(server.server.adminPort)
        try await onThread {
            let aliases = ["srvr": "server_stats", "stat": "stats", "mntr": "monitor", "conf": "configuration",
                           "config": "configuration", "cons": "connections", "envi": "environment", "env": "environment",
                           "wchs": "watch_summary", "wchc": "watches", "wchp": "watches_by_path", "isro": "is_read_only",
                           "lsnp": "last_snapshot", "lead": "leader", "crst": "connection_stat_reset", "srst": "stat_reset"]
            for (alias, primary) in aliases {
                #expect(try HTTPAnswer.get(port: adminPort, "/commands/\(alias)").json()["command"] as? String == primary)
            }
            let unknown = try HTTPAnswer.get(port: adminPort, "/commands/ruok/extra")
            #expect(unknown.status == 200)
            #expect(unknown.body == "{\n  \"command\" : \"ruok/extra\",\n  \"error\" : \"Unknown command: ruok/extra\"\n}")
            let listing = try HTTPAnswer.get(port: adminPort, "/commands")
            #expect(listing.status == 200)
            let names = AdminCommands.primaryNames
            #expect(listing.body == names.map { "<a href=\"/commands/\($0)\">\($0)</a>\n<br/>\n" }.joined())
            #expect(names.contains("monitor") && names.contains("ruok") && !names.contains("mntr"))
            #expect(try HTTPAnswer.get(port: adminPort, "/commands/").body == listing.body)
            #expect(try HTTPAnswer.get(port: adminPort, "/commands/r%75ok").json()["command"] as? String == "ruok")
        }
    }

    @Test func commandURLFromConfiguration() async throws {
        let server = try TestServer(adminServer: true) { $0.adminCommandURL = "/zk/admin" }
        defer { server.stop() }
        let adminPort = try #require(server.server.adminPort)
        try await onThread {
            let ruok = try HTTPAnswer.get(port: adminPort, "/zk/admin/ruok").json()
            #expect(ruok["error"] is NSNull)
            #expect(try HTTPAnswer.get(port: adminPort, "/zk/admin").body.contains("<a href=\"/zk/admin/ruok\">ruok</a>"))
            #expect(try HTTPAnswer.get(port: adminPort, "/commands/ruok").status == 404)
        }
    }

    @Test func takenPortIsLoggedAndClientsAreServed() async throws {
        let first = try TestServer(adminServer: true)
        defer { first.stop() }
        let takenPort = try #require(first.server.adminPort)
        let log = CapturedLog()
        let second = try TestServer(adminServer: true, logger: log.logger) { $0.adminServerPort = takenPort }
        defer { second.stop() }
        #expect(second.server.adminPort == nil)
        #expect(log.text.contains("Problem starting AdminServer on address 127.0.0.1, port \(takenPort) and command URL /commands"))
        try await onThread {
            try wellFormedSession(port: second.port, path: "/after-admin-failure")
            #expect(try HTTPAnswer.get(port: takenPort, "/commands/ruok").status == 200)
        }
    }

    @Test func disabledServesNoAdminPort() throws {
        let server = try TestServer()
        defer { server.stop() }
        #expect(server.server.adminPort == nil)
    }
}
