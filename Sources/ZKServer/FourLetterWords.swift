import Foundation
import ZKBase
import ZKConfig
import ZKPipeline
import ZKTree

/// The four-letter words, answered in the shape ZooKeeper 3.8 prints them.
enum FourLetterWords {
    static let version = "3.8.0-paddock-0.1, built on 2026-11-25 00:00 UTC"

    static func respond(_ word: String, node: ServerNode, connection: ConnectionID) -> String {
        guard node.configuration.fourLetterWordWhitelist.allows(word) else {
            return "\(word) is not executed because it is not in the whitelist.\n"
        }
        // ZooKeeper answers these only while the member serves (not while electing or syncing).
        if !node.isServing && !["ruok", "conf", "envi", "isro", "dirs", "srst", "crst"].contains(word) {
            return notServing
        }
        switch word {
        case "ruok": return "imok"
        case "srvr": return serverSummary(node, withClients: false)
        case "stat": return serverSummary(node, withClients: true)
        case "mntr": return monitor(node)
        case "conf":
            let sizes = directorySizes(node)
            return node.configuration.confReport(
                dataDirectorySizeBytes: sizes.data, dataLogDirectorySizeBytes: sizes.log,
                workingDirectory: FileManager.default.currentDirectoryPath, listeningClientPort: node.listeningPort,
                serverId: node.myId ?? 0)
        case "cons": return connectionsReport(node)
        case "crst":
            for id in node.connections.keys { node.connections[id]?.statistics.reset() }
            return "Connection stats reset.\n"
        case "srst":
            node.resetServerStatistics()
            // StatResetCommand: a leader's proposal sizes too (the admin server's stat_reset
            // leaves them).
            if node.leaderProposalSizes != nil { node.proposalSizes = BufferStats() }
            return "Server stats reset.\n"
        case "envi": return environment(node)
        case "dirs":
            let sizes = directorySizes(node)
            return "datadir_size: \(sizes.data)\nlogdir_size: \(sizes.log)\n"
        // ZooKeeper answers "null" while it has no server running (electing, syncing).
        case "isro": return node.isServing ? "rw" : "null"
        case "dump": return dump(node)
        case "wchs":
            // ZooKeeper 3.8's wchs, wchc and wchp report the data-watch manager only (DataTree's
            // dumpWatchesSummary, dumpWatches): a child watch alone does not show (mntr's
            // zk_watch_count does count both).
            let summary = node.watchSummary
            return "\(summary.connections) connections watching \(summary.paths) paths\nTotal watches:\(summary.watches)\n"
        case "wchc": return watchesByConnection(node)
        case "wchp": return watchesByPath(node)
        case "hash":
            // ZooKeeper's DigestCommand: "<hex zxid>: <digest>" lines (its tree digest, signed
            // decimal); Paddock prints the current state's.
            let current = node.currentDigest
            return String(UInt64(bitPattern: current.zxid), radix: 16) + ": \(current.digest)\n"
        case "gtmk": return "0\n"
        case "stmk": return ""
        default: return "Unknown command \(word)\n"
        }
    }

    /// Bytes of the snapshot files and of the LMDB log files.
    static func directorySizes(_ node: ServerNode) -> (data: Int64, log: Int64) {
        func size(_ directory: String) -> Int64 {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            return names.reduce(Int64(0)) { total, name in
                let attributes = try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)
                return total + ((attributes?[.size] as? NSNumber)?.int64Value ?? 0)
            }
        }
        return (size(node.dataDirectory.snapshotDirectory), size(node.dataDirectory.logDirectory))
    }

    /// ZooKeeper's node map holds the root twice ("" and "/"), and its counts show it.
    static func zooKeeperNodeCount(_ node: ServerNode) -> Int { node.core.tree.nodeCount + 1 }

    static func hex(_ value: Int64) -> String { "0x" + String(UInt64(bitPattern: value), radix: 16) }

    static let notServing = "This ZooKeeper instance is not currently serving requests\n"

    /// srvr's Mode line and mntr's zk_server_state.
    static func mode(_ node: ServerNode) -> String { node.ensembleModeName ?? "standalone" }

    static func serverSummary(_ node: ServerNode, withClients: Bool) -> String {
        let statistics = node.statistics
        var text = "Zookeeper version: \(version)\n"
        if withClients {
            text += "Clients:\n"
            for report in node.connectionReports {
                text += " /\(report.address):\(report.port)[1](queued=\(report.queuedRequests),recved=\(report.packetsReceived),sent=\(report.packetsSent))\n"
            }
            text += "\n"
        }
        text += "Latency min/avg/max: \(statistics.latencyMin)/\(statistics.latencyAverage)/\(statistics.latencyMaxMs)\n"
        text += "Received: \(statistics.packetsReceived)\n"
        text += "Sent: \(statistics.packetsSent)\n"
        text += "Connections: \(node.connections.count)\n"
        text += "Outstanding: \(node.core.outstandingTxnCount)\n"
        text += "Zxid: \(hex(node.core.lastProcessedZxid))\n"
        text += "Mode: \(mode(node))\n"
        text += "Node count: \(zooKeeperNodeCount(node))\n"
        // StatCommand: the leader's proposal sizes after the node count.
        if let sizes = node.leaderProposalSizes { text += "Proposal sizes last/min/max: \(sizes.description)\n" }
        return text
    }

    static func openFileDescriptors() -> (open: Int, max: Int) {
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return (open, Int(limit.rlim_cur))
    }

    static func monitor(_ node: ServerNode) -> String {
        monitorRows(node).map { "\($0.0)\t\($0.1)\n" }.joined()
    }

    /// mntr's rows: what `mntr` prints (and the admin server's `monitor`), as ZooKeeper 3.8
    /// with its DefaultMetricsProvider: dumpMonitorValues (version, server_state, an ensemble
    /// member's peer_state), then the provider's dump: the gauges, the counters, and every summary
    /// the server registered (`MonitorTally.rows`).
    static func monitorRows(_ node: ServerNode) -> [(String, String)] {
        var rows: [(String, String)] = [("zk_version", version), ("zk_server_state", mode(node))]
        if let peerState = node.ensemblePeerState { rows.append(("zk_peer_state", peerState)) }
        return rows + monitorGaugeRows(node) + node.statistics.counters.rows + node.metrics.tally.rows
    }

    /// mntr's gauges (ZooKeeper's registered gauges that Paddock has the figures for), which
    /// `ServerNode.publishGauges` also publishes.
    static func monitorGaugeRows(_ node: ServerNode) -> [(String, String)] {
        let statistics = node.statistics
        let tree = node.core.tree
        let descriptors = openFileDescriptors()
        let rows: [(String, String)] = [
            ("zk_ephemerals_count", "\(tree.ephemeralCount)"),
            ("zk_min_latency", "\(statistics.latencyMin)"),
            ("zk_avg_latency", "\(statistics.latencyAverage)"),
            ("zk_max_latency", "\(statistics.latencyMaxMs)"),
            ("zk_packets_received", "\(statistics.packetsReceived)"),
            ("zk_packets_sent", "\(statistics.packetsSent)"),
            ("zk_num_alive_connections", "\(node.connections.count)"),
            ("zk_outstanding_requests", "\(node.core.outstandingTxnCount)"),
            ("zk_znode_count", "\(zooKeeperNodeCount(node))"),
            ("zk_watch_count", "\(tree.dataWatches.watchCount + tree.childWatches.watchCount)"),
            ("zk_approximate_data_size", "\(tree.approximateDataSize)"),
            ("zk_open_file_descriptor_count", "\(descriptors.open)"),
            ("zk_max_file_descriptor_count", "\(descriptors.max)"),
            ("zk_uptime", "\(wallClockMs() - node.startedMs)"),
            ("zk_global_sessions", "\(node.core.sessions.count)"),
            ("zk_local_sessions", "0"),
            ("zk_last_client_response_size", "\(statistics.clientResponseSizes.last)"),
            ("zk_min_client_response_size", "\(statistics.clientResponseSizes.minimum)"),
            ("zk_max_client_response_size", "\(statistics.clientResponseSizes.maximum)"),
            ("zk_digest_mismatches_count", "\(node.core.digestMismatchCount)"),
            ("zk_auth_failed_count", "\(node.core.authFailedCount)"),
            ("zk_outstanding_tls_handshake", "\(node.tlsHandshakesInProgress)"),
            ("zk_non_mtls_local_conn_count", "\(node.plainConnectionsLocal)"),
            ("zk_non_mtls_remote_conn_count", "\(node.plainConnectionsRemote)"),
            // Not ZooKeeper 3.8 metrics: its ServerStats' fsync warnings (srvr and the admin
            // server's server_stats show them), and LMDB reader slots of processes that died
            // mid-read, cleared while serving (Paddock's own).
            ("zk_fsync_threshold_exceed_count", "\(statistics.fsyncThresholdExceededCount)"),
            ("zk_paddock_stale_readers_cleared", "\(node.log.environment.staleReadersCleared)"),
        ]
        return rows + node.ensembleGaugeRows
    }

    static func connectionsReport(_ node: ServerNode) -> String {
        var text = ""
        for report in node.connectionReports {
            text += " /\(report.address):\(report.port)[1](queued=\(report.queuedRequests),recved=\(report.packetsReceived),sent=\(report.packetsSent),sid=\(hex(report.sessionId)),lop=\(report.lastOperation),est=\(report.establishedMs),to=\(report.sessionTimeoutMs),lcxid=\(hex(Int64(report.lastCxid))),lzxid=\(hex(report.lastZxid)),lresp=\(report.lastResponseTimeMs),llat=\(report.lastLatencyMs),minlat=\(report.latencyMinMs),avglat=\(report.latencyAverageMs),maxlat=\(report.latencyMaxMs))\n"
        }
        return text + "\n"
    }

    static func environment(_ node: ServerNode) -> String {
        "Environment:\n" + node.environmentEntries.map { "\($0.0)=\($0.1)\n" }.joined()
    }

    static var architecture: String {
        var info = utsname()
        uname(&info)
        return withUnsafeBytes(of: &info.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// SessionTracker dump as ZooKeeper prints it: sessions grouped by expiry time.
    /// A learner lists the global sessions of its own clients, as LearnerSessionTracker does.
    static func dump(_ node: ServerNode) -> String {
        var text = "SessionTracker dump:\n"
        if node.core.replication == .learner {
            let sessions = node.learnerSessions
            text += "Global Sessions(\(sessions.count)):\n"
            for session in sessions { text += "\(hex(session.sessionId))\t\(session.timeoutMs)ms\n" }
        } else {
            let groups = node.sessionExpiryGroups
            text += "Session Sets (\(groups.count))/(\(groups.reduce(0) { $0 + $1.sessionIds.count })):\n"
            // Deadlines run on the monotonic clock; ZooKeeper prints them as wall-clock dates
            // (Time.elapsedTimeToDate).
            let wallOffsetMs = wallClockMs() - monotonicMs()
            for group in groups {
                text += "\(group.sessionIds.count) expire at \(javaDate(wallMs: group.expiryMs + wallOffsetMs)):\n"
                for id in group.sessionIds { text += "\t\(hex(id))\n" }
            }
        }
        let ephemerals = node.ephemeralPathsBySession
        text += "ephemeral nodes dump:\nSessions with Ephemerals (\(ephemerals.count)):\n"
        for entry in ephemerals {
            text += "\(hex(entry.sessionId)):\n"
            for path in entry.paths { text += "\t\(path)\n" }
        }
        text += "Connections dump:\n" + connectionsDump(node)
        return text
    }

    /// NIOServerCnxnFactory.dumpConnections: the connections by expiry. Paddock keeps no
    /// connection expiry queue, so all are one set, due when the soonest session is.
    static func connectionsDump(_ node: ServerNode) -> String {
        let entries = node.connections.sorted { $0.key < $1.key }
        guard !entries.isEmpty else { return "Connections Sets (0)/(0):\n" }
        let soonestMs = node.core.sessions.sessions.values.map(\.expirationMs).min() ?? monotonicMs()
        var text = "Connections Sets (1)/(\(entries.count)):\n"
        text += "\(entries.count) expire at \(javaDate(wallMs: soonestMs + wallClockMs() - monotonicMs())):\n"
        for (id, entry) in entries {
            text += "\tip: /\(entry.address):\(entry.port) sessionId: \(hex(node.core.sessionId(of: id) ?? 0))\n"
        }
        return text
    }

    /// java.util.Date.toString() in the local time zone, as the JVM prints it:
    /// "Fri Dec 04 21:39:27 UTC 2026" (the C locale's English day and month names).
    static func javaDate(wallMs: Int64) -> String {
        var seconds = time_t(wallMs / 1000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let length = strftime(&buffer, buffer.count, "%a %b %d %H:%M:%S %Z %Y", &parts)
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func watchesByConnection(_ node: ServerNode) -> String {
        node.watchedPathsBySession.map { entry in
            "\(hex(entry.sessionId))\n" + entry.paths.map { "\t\($0)\n" }.joined()
        }.joined() + "\n"   // WatchManager.dumpWatches ends with an empty line
    }

    static func watchesByPath(_ node: ServerNode) -> String {
        node.watchingSessionsByPath.map { entry in
            "\(entry.path)\n" + entry.sessionIds.map { "\t\(hex($0))\n" }.joined()
        }.joined() + "\n"   // WatchManager.dumpWatches ends with an empty line
    }
}
