import Foundation
import ZKBase
import ZKTools

/// The admin commands with more than a line of fields, in ZooKeeper 3.8's key order.
extension AdminCommands {
    /// `ZooKeeperServerConf.toMap`.
    static func configuration(_ node: ServerNode) -> [(String, JSONValue)] {
        let summary = node.configuration.confSummary(
            workingDirectory: FileManager.default.currentDirectoryPath, listeningClientPort: node.listeningPort,
            serverId: node.myId ?? 0)
        return [
            ("client_port", .int(summary.clientPort)),
            ("data_dir", .string(summary.dataDirectory)),
            ("data_log_dir", .string(summary.dataLogDirectory)),
            ("tick_time", .int(summary.tickTimeMs)),
            ("max_client_cnxns", .int(summary.clientConnectionsPerHostMax)),
            ("min_session_timeout", .int(summary.sessionTimeoutMsMin)),
            ("max_session_timeout", .int(summary.sessionTimeoutMsMax)),
            ("server_id", .int(summary.serverId)),
            ("client_port_listen_backlog", .int(summary.clientPortListenBacklog)),
        ]
    }

    /// `ServerCnxn.getConnectionInfo(brief)`.
    static func connection(_ report: ConnectionReport, brief: Bool) -> JSONValue {
        var fields: [(String, JSONValue)] = [
            ("remote_socket_address", .string("\(report.address):\(report.port)")),
            ("interest_ops", .int(report.interestOps)),
            ("outstanding_requests", .int(report.queuedRequests)),
            ("packets_received", .int(report.packetsReceived)),
            ("packets_sent", .int(report.packetsSent)),
        ]
        if !brief {
            fields += [
                ("session_id", .int(report.sessionId)),
                ("last_operation", .string(report.lastOperation)),
                ("established", .int(report.establishedMs)),
                ("session_timeout", .int(report.sessionTimeoutMs)),
                ("last_cxid", .int(Int64(report.lastCxid))),
                ("last_zxid", .int(report.lastZxid)),
                ("last_response_time", .int(report.lastResponseTimeMs)),
                ("last_latency", .int(report.lastLatencyMs)),
                ("min_latency", .int(report.latencyMinMs)),
                ("avg_latency", .int(report.latencyAverageMs)),
                ("max_latency", .int(report.latencyMaxMs)),
            ]
        }
        return .fields(fields)
    }

    /// `getSessionExpiryMap` and `getEphemerals`: Java maps with long keys, written as strings.
    static func dump(_ node: ServerNode) -> [(String, JSONValue)] {
        [("expiry_time_to_session_ids", .fields(node.sessionExpiryGroups.map {
            (String($0.expiryMs), .array($0.sessionIds.map { .int($0) }))
         })),
         ("session_id_to_ephemeral_paths", .fields(node.ephemeralPathsBySession.map {
            (String($0.sessionId), .array($0.paths.map { .string($0) }))
         }))]
    }

    /// `SrvrCommand`: ServerStats as Jackson serializes its getters, and the leader's proposal sizes.
    static func serverStats(_ node: ServerNode) -> [(String, JSONValue)] {
        let statistics = node.statistics
        let sizes = FourLetterWords.directorySizes(node)
        // BufferStats as Jackson serializes its getters.
        func buffer(_ stats: BufferStats) -> JSONValue {
            .fields(("last_buffer_size", .int(stats.last)), ("min_buffer_size", .int(stats.minimum)),
                    ("max_buffer_size", .int(stats.maximum)))
        }
        let bufferSizes = buffer(statistics.clientResponseSizes)
        let stats: JSONValue = .fields([
            ("packets_sent", .int(statistics.packetsSent)),
            ("packets_received", .int(statistics.packetsReceived)),
            ("fsync_threshold_exceed_count", .int(statistics.fsyncThresholdExceededCount)),
            ("client_response_stats", bufferSizes),
            ("data_dir_size", .int(sizes.data)),
            ("log_dir_size", .int(sizes.log)),
            ("provider_null", .bool(false)),
            ("server_state", .string(FourLetterWords.mode(node))),
            ("last_processed_zxid", .int(node.core.lastProcessedZxid)),
            ("outstanding_requests", .int(node.core.outstandingTxnCount)),
            ("avg_latency", .double(statistics.latencyAverage)),
            ("max_latency", .int(statistics.latencyMaxMs)),
            ("min_latency", .int(statistics.latencyMin)),
            ("num_alive_client_connections", .int(node.connections.count)),
            ("uptime", .int(wallClockMs() - node.startedMs)),
            ("auth_failed_count", .int(node.core.authFailedCount)),
            // Paddock serves no TLS, so no connection is a non-mTLS one (ZooKeeper's counts stay 0 too).
            ("non_mtlsremote_conn_count", .int(0)),
            ("non_mtlslocal_conn_count", .int(0)),
        ])
        var fields: [(String, JSONValue)] = [
            ("version", .string(FourLetterWords.version)),
            ("read_only", .bool(false)),
            ("server_stats", stats),
            ("client_response", bufferSizes),
        ]
        if let proposals = node.leaderProposalSizes { fields.append(("proposal_stats", buffer(proposals))) }
        fields.append(("node_count", .int(FourLetterWords.zooKeeperNodeCount(node))))
        return fields
    }

    /// `LeaderCommand`: a standalone server has no quorum peer.
    static func leader(_ node: ServerNode) -> [(String, JSONValue)] {
        guard let myId = node.myId else { return [("error", .string("server is not initialized"))] }
        let leaderId: Int64
        switch node.zabRole {
        case .leading: leaderId = myId
        case .following(let leader, _), .observing(let leader, _): leaderId = leader
        case .looking: leaderId = -1
        }
        let host = node.configuration.servers.first { $0.id == leaderId }?.host ?? ""
        return [("is_leader", .bool(leaderId == myId)), ("leader_id", .int(leaderId)), ("leader_ip", .string(host))]
    }

    /// `VotingViewCommand`: the voting members by id (empty for a standalone server).
    static func votingView(_ node: ServerNode) -> [(String, JSONValue)] {
        guard node.myId != nil else { return [("current_config", .fields([]))] }
        let voters = node.configuration.servers.filter { $0.role == .participant }
        return [("current_config", .fields(voters.map { member in
            let client = member.clientPort.map { "\(member.clientAddress ?? "0.0.0.0"):\($0)" } ?? ""
            return (String(member.id), .fields(
                ("server_addresses", .array([.string("\(member.host):\(member.quorumPort)")])),
                ("election_addresses", .array([.string("\(member.host):\(member.electionPort)")])),
                ("client_address", .string(client)),
                ("learner_type", .string("participant"))))
        }))]
    }

    /// `ZabStateCommand`: ZooKeeper has no quorum server object while electing (nor standalone),
    /// and then reports only "voting" and an empty "zabstate".
    static func zabState(_ node: ServerNode) -> [(String, JSONValue)] {
        guard let myId = node.myId, node.zabRole != .looking,
              let member = node.configuration.servers.first(where: { $0.id == myId })
        else { return [("voting", .bool(false)), ("zabstate", .string(""))] }
        let established: Bool
        switch node.zabRole {
        case .leading(_, let done), .following(_, let done), .observing(_, let done): established = done
        case .looking: established = false
        }
        let zxid = node.core.lastProcessedZxid
        let host = member.clientAddress ?? node.configuration.clientPortAddress ?? "0.0.0.0"
        let isLeader = if case .leading = node.zabRole { true } else { false }
        return [
            ("myid", .int(myId)),
            ("is_leader", .bool(isLeader)),
            ("quorum_address", .string("\(member.host):\(member.quorumPort)")),
            ("election_address", .string("\(member.host):\(member.electionPort)")),
            ("client_address", .string("\(host):\(node.listeningPort ?? 0)")),
            ("voting", .bool(member.role == .participant)),
            ("last_zxid", .string(ZxidMath.hex(zxid))),
            ("zab_epoch", .int(ZxidMath.epoch(zxid))),
            ("zab_counter", .int(ZxidMath.counter(zxid))),
            // Paddock's learners go from discovery to synchronization in one step; both report as the latter.
            ("zabstate", .string(established ? "broadcast" : "synchronization")),
        ]
    }

    /// mntr's text value as ZooKeeper's JSON types it: whole numbers as longs, fractions as
    /// doubles, the rest (version, state names) as strings.
    static func monitorValue(_ text: String) -> JSONValue {
        if let whole = Int64(text) { return .int(whole) }
        if let fraction = Double(text), fraction.isFinite, text.allSatisfy({ "0123456789.-e+E".contains($0) }) {
            return .double(fraction)
        }
        return .string(text)
    }
}
