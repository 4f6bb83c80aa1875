import CoreMetrics

/// ZooKeeper 3.8's server metrics that Paddock has the figures for, published through
/// swift-metrics under ZooKeeper's names (its ServerMetrics and its registered gauges). The
/// handles are made once, when the node starts: recording on the request path is a call on a
/// cached handle (no label lookup, no string, no allocation).
///
/// Timers are recorded in nanoseconds; ZooKeeper's Prometheus provider shows them as summaries
/// in milliseconds (`ZooKeeperMetricsFactory` does the same). Summaries of counts (batch sizes,
/// txns loaded) are aggregating `Recorder`s.
public struct ServerMetrics: Sendable {
    /// ZooKeeper's DetailLevel.ADVANCED summaries (quantiles 0.5, 0.9, 0.99 in its Prometheus
    /// provider); every other summary is BASIC (quantile 0.5).
    public static let advancedSummaryNames: Set<String> = [
        "readlatency", "updatelatency", "propagation_latency", "proposal_latency",
        "local_write_committed_time_ms", "server_write_committed_time_ms", "quorum_ack_latency",
        "commit_propagation_latency", "proposal_ack_creation_latency",
        "sync_processor_queue_time_ms", "sync_processor_queue_flush_time_ms", "sync_processor_queue_and_flush_time_ms",
        "read_final_proc_time_ms", "write_final_proc_time_ms", "close_session_prep_time",
        "ack_latency", "learner_handler_qp_time_ms",
    ]

    /// The quantiles ZooKeeper 3.8's PrometheusMetricsProvider gives the summary `name`.
    @Sendable public static func quantiles(for name: String) -> [Double] {
        advancedSummaryNames.contains(name) ? [0.5, 0.9, 0.99] : [0.5]
    }

    /// At most this many top-level namespaces get their own write_per_namespace /
    /// read_per_namespace summaries (ZooKeeper has no bound); later ones are not recorded. A
    /// namespace's handles are made once, the first time it is read or written.
    static let namespacesMax = 1000

    /// Requests without a txn (reads, exists, getChildren, sync …) from receipt to reply.
    let readLatency: Timer
    /// Requests with a txn (writes, including failed ones) from receipt to reply.
    let updateLatency: Timer
    let fsyncTime: Timer
    let syncProcessorBatchSize: Recorder
    let snapshotTime: Timer
    let databaseInitTime: Timer
    let electionTime: Timer
    let followerSyncTime: Timer
    let observerSyncTime: Timer
    let leaderSyncTime: Timer
    let startupTxnsLoaded: Recorder
    let startupTxnsLoadTime: Timer
    let startupSnapLoadTime: Timer
    /// Leader: SNAP syncs of learners (ZooKeeper's LearnerHandler counts each SNAP it sends).
    let snapCount: Counter
    /// Leader: DIFF and TRUNC syncs of learners (ZooKeeper counts every sync that is not a SNAP).
    let diffCount: Counter

    // Quorum (ZooKeeper's Leader, Follower, Observer, QuorumPeer). Latencies run from the txn's
    // header time (the leader's wall clock when it made the txn) to now, as ZooKeeper's
    // Request.logLatency; a negative one (clock drift between members) is not recorded.
    /// Leader: proposals made (one per txn handed to ZAB).
    let proposalCount: Counter
    /// Leader: txns committed by a quorum's ACKs (ZooKeeper's Leader.commit, once per zxid).
    let commitCount: Counter
    /// Leader: txn made -> a quorum has ACKed it.
    let quorumAckLatency: Timer
    /// Learner: txn made -> its PROPOSAL arrives.
    let proposalLatency: Timer
    /// Follower: txn made -> its COMMIT is applied here (observer: its INFORM).
    let commitPropagationLatency: Timer
    /// Every server (standalone too): txn made -> applied to this server's tree.
    let propagationLatency: Timer
    /// Every ensemble member: txn made -> durable in this member's log, when its ACK is made.
    let proposalAckCreationLatency: Timer
    /// Learner: PROPOSAL messages read from the leader.
    let learnerProposalReceivedCount: Counter
    /// Learner: COMMIT (follower) and INFORM (observer) messages read from the leader.
    let learnerCommitReceivedCount: Counter
    /// Leader: a learner asked whether a session is valid (REVALIDATE).
    let revalidateCount: Counter
    /// Elections started (ZooKeeper's QuorumPeer: each time the member is LOOKING).
    let lookingCount: Counter
    /// From the start of an election until serving again (broadcast); also as leader.
    let unavailableTime: Timer
    let leaderUnavailableTime: Timer

    // Connections (ZooKeeper's ServerCnxn, NIOServerCnxn, ZooKeeperServer, SessionTrackerImpl).
    /// ConnectRequests read.
    let connectionRequestCount: Counter
    /// ConnectRequests naming an existing session (a client reconnecting).
    let connectionRevalidateCount: Counter
    /// Connections refused: over maxClientCnxns for their address.
    let connectionRejected: Counter
    /// Connections the client closed (ZooKeeper: a read that found the socket closed).
    let connectionDropCount: Counter
    /// Bytes of the client frames read (each with its 4-byte length).
    let bytesReceivedCount: Counter
    /// Sessions the server expired (their timeout passed without a ping or request).
    let staleSessionsExpired: Counter
    /// The node stopped on an error it cannot recover from (ZooKeeper's critical threads).
    let unrecoverableErrorCount: Counter
    /// secureClientPort: TLS handshakes that failed or were refused.
    let unsuccessfulHandshake: Counter

    // Watches: how many watchers one event fired (ZooKeeper's WatchManager.triggerWatch).
    let nodeCreatedWatchCount: Recorder
    let nodeDeletedWatchCount: Recorder
    let nodeChangedWatchCount: Recorder
    let nodeChildrenWatchCount: Recorder

    // Request stages (Paddock's pipeline; each is documented where it is recorded).
    let syncProcessorRequestQueued: Counter
    /// Prep's change records (ZooKeeper's outstandingChanges): stored, and forgotten once applied.
    let outstandingChangesQueued: Counter
    let outstandingChangesRemoved: Counter
    /// Bytes of the replies (response_bytes) and of the watch notifications (watch_bytes) sent,
    /// each packet without its 4-byte length (ZooKeeper's sendResponse size).
    let responseBytes: Counter
    let watchBytes: Counter
    /// After prep, handing a txn on: a leader's proposal to ZAB (made and sent to the
    /// learners), a standalone server's queueing for the log (ZooKeeper's proposal_process_time).
    let proposalProcessTime: Timer
    let syncProcessorQueueTime: Timer
    let syncProcessorQueueFlushTime: Timer
    let syncProcessorQueueAndFlushTime: Timer
    /// Per txn the log takes, how many were queued behind it (ZooKeeper's SyncRequestProcessor
    /// records its queue's size before taking each request).
    let syncProcessorQueueSize: Recorder
    /// From ZAB committing a txn here to its apply (ZooKeeper's CommitProcessor: from commit()
    /// to processing the write), for writes of this server's own clients (local) and of other
    /// members' clients (server).
    let localWriteCommittedTime: Timer
    let serverWriteCommittedTime: Timer
    let prepProcessTime: Timer
    let closeSessionPrepTime: Timer
    let readFinalProcTime: Timer
    let writeFinalProcTime: Timer
    /// Counted in the shell from the cores' reports: connections closed because no ConnectRequest
    /// came within the sessionless connection timeout (ZooKeeper's NIOServerCnxnFactory), and a
    /// new leader that gave up because a voter that elected it went back to looking (Leader.quitLeading).
    let sessionlessConnectionsExpired: Counter
    let quitLeadingDueToDisloyalVoter: Counter
    /// Made through `TallyingMetricsFactory`: the backend's handles also fill mntr's `tally`.
    let factory: any MetricsFactory
    /// mntr's view of every summary made here (ZooKeeper's DefaultMetricsProvider).
    let tally: MonitorTally

    public init(factory upstream: any MetricsFactory = MetricsSystem.factory) {
        let tally = MonitorTally()
        self.tally = tally
        let factory = TallyingMetricsFactory(upstream: upstream, tally: tally)
        self.factory = factory
        readLatency = Timer(label: "readlatency", dimensions: [], factory: factory)
        updateLatency = Timer(label: "updatelatency", dimensions: [], factory: factory)
        fsyncTime = Timer(label: "fsynctime", dimensions: [], factory: factory)
        syncProcessorBatchSize = Recorder(label: "sync_processor_batch_size", dimensions: [], aggregate: true, factory: factory)
        snapshotTime = Timer(label: "snapshottime", dimensions: [], factory: factory)
        databaseInitTime = Timer(label: "dbinittime", dimensions: [], factory: factory)
        electionTime = Timer(label: "election_time", dimensions: [], factory: factory)
        followerSyncTime = Timer(label: "follower_sync_time", dimensions: [], factory: factory)
        observerSyncTime = Timer(label: "observer_sync_time", dimensions: [], factory: factory)
        leaderSyncTime = Timer(label: "leader_sync_time", dimensions: [], factory: factory)
        startupTxnsLoaded = Recorder(label: "startup_txns_loaded", dimensions: [], aggregate: true, factory: factory)
        startupTxnsLoadTime = Timer(label: "startup_txns_load_time", dimensions: [], factory: factory)
        startupSnapLoadTime = Timer(label: "startup_snap_load_time", dimensions: [], factory: factory)
        snapCount = Counter(label: "snap_count", dimensions: [], factory: factory)
        diffCount = Counter(label: "diff_count", dimensions: [], factory: factory)
        func timer(_ name: String) -> Timer { Timer(label: name, dimensions: [], factory: factory) }
        func counter(_ name: String) -> Counter { Counter(label: name, dimensions: [], factory: factory) }
        func summary(_ name: String) -> Recorder { Recorder(label: name, dimensions: [], aggregate: true, factory: factory) }
        proposalCount = counter("proposal_count")
        commitCount = counter("commit_count")
        quorumAckLatency = timer("quorum_ack_latency")
        proposalLatency = timer("proposal_latency")
        commitPropagationLatency = timer("commit_propagation_latency")
        propagationLatency = timer("propagation_latency")
        proposalAckCreationLatency = timer("proposal_ack_creation_latency")
        learnerProposalReceivedCount = counter("learner_proposal_received_count")
        learnerCommitReceivedCount = counter("learner_commit_received_count")
        revalidateCount = counter("revalidate_count")
        lookingCount = counter("looking_count")
        unavailableTime = timer("unavailable_time")
        leaderUnavailableTime = timer("leader_unavailable_time")
        connectionRequestCount = counter("connection_request_count")
        connectionRevalidateCount = counter("connection_revalidate_count")
        connectionRejected = counter("connection_rejected")
        connectionDropCount = counter("connection_drop_count")
        bytesReceivedCount = counter("bytes_received_count")
        staleSessionsExpired = counter("stale_sessions_expired")
        unrecoverableErrorCount = counter("unrecoverable_error_count")
        unsuccessfulHandshake = counter("unsuccessful_handshake")
        nodeCreatedWatchCount = summary("node_created_watch_count")
        nodeDeletedWatchCount = summary("node_deleted_watch_count")
        nodeChangedWatchCount = summary("node_changed_watch_count")
        nodeChildrenWatchCount = summary("node_children_watch_count")
        syncProcessorRequestQueued = counter("sync_processor_request_queued")
        outstandingChangesQueued = counter("outstanding_changes_queued")
        outstandingChangesRemoved = counter("outstanding_changes_removed")
        responseBytes = counter("response_bytes")
        watchBytes = counter("watch_bytes")
        proposalProcessTime = timer("proposal_process_time")
        syncProcessorQueueTime = timer("sync_processor_queue_time_ms")
        syncProcessorQueueFlushTime = timer("sync_processor_queue_flush_time_ms")
        syncProcessorQueueAndFlushTime = timer("sync_processor_queue_and_flush_time_ms")
        syncProcessorQueueSize = summary("sync_processor_queue_size")
        localWriteCommittedTime = timer("local_write_committed_time_ms")
        serverWriteCommittedTime = timer("server_write_committed_time_ms")
        prepProcessTime = timer("prep_process_time")
        closeSessionPrepTime = timer("close_session_prep_time")
        readFinalProcTime = timer("read_final_proc_time_ms")
        writeFinalProcTime = timer("write_final_proc_time_ms")
        sessionlessConnectionsExpired = counter("sessionless_connections_expired")
        quitLeadingDueToDisloyalVoter = counter("quit_leading_due_to_disloyal_voter")
    }

    /// The per-namespace summaries of one top-level namespace (ZooKeeper's SummarySets, keyed
    /// by the namespace): bytes written (path + data) and read (path + data + 68 bytes of stat).
    func namespaceSummaries(_ namespace: String) -> NamespaceSummaries {
        NamespaceSummaries(
            write: Recorder(label: "write_per_namespace", dimensions: [("key", namespace)], aggregate: true, factory: factory),
            read: Recorder(label: "read_per_namespace", dimensions: [("key", namespace)], aggregate: true, factory: factory))
    }

    /// Leader: one learner's summaries (ZooKeeper's SummarySets keyed by its sid): ack_latency
    /// (txn made -> this member's ACK read, the leader's own included), learner_handler_qp_size
    /// (packets still queued for it each time one is taken to be sent) and
    /// learner_handler_qp_time_ms (how long a marker waited in its queue).
    func learnerSummaries(_ sid: Int64) -> LearnerSummaries {
        let key = [("key", String(sid))]
        return LearnerSummaries(
            ackLatency: Timer(label: "ack_latency", dimensions: key, factory: factory),
            queuedPackets: Recorder(label: "learner_handler_qp_size", dimensions: key, aggregate: true, factory: factory),
            queuedTime: Timer(label: "learner_handler_qp_time_ms", dimensions: key, factory: factory))
    }

    struct LearnerSummaries {
        let ackLatency: Timer
        let queuedPackets: Recorder
        let queuedTime: Timer
    }

    struct NamespaceSummaries {
        let write: Recorder
        let read: Recorder
    }

    /// A gauge handle for mntr's scalar row `name` (made once per name by the node).
    func gauge(_ name: String) -> Gauge {
        Gauge(label: name, dimensions: [], factory: factory)
    }
}
