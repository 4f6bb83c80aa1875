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
    ]

    /// The quantiles ZooKeeper 3.8's PrometheusMetricsProvider gives the summary `name`.
    @Sendable public static func quantiles(for name: String) -> [Double] {
        advancedSummaryNames.contains(name) ? [0.5, 0.9, 0.99] : [0.5]
    }

    /// Names ZooKeeper registers as counters (the rest of mntr's scalar rows are its gauges).
    static let counterNames: Set<String> = ["snap_count"]
    /// mntr scalar rows that ZooKeeper registers as summaries: recorded once, at startup.
    static let startupSummaryNames: Set<String> = ["startup_txns_loaded", "startup_txns_load_time", "startup_snap_load_time"]

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
    let snapCount: Counter
    let factory: any MetricsFactory

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
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
    }

    /// A gauge handle for mntr's scalar row `name` (made once per name by the node).
    func gauge(_ name: String) -> Gauge {
        Gauge(label: name, dimensions: [], factory: factory)
    }
}
