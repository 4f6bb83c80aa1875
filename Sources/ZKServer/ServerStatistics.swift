/// ZooKeeper's summary metric as mntr prints it: avg/min/max/cnt/sum, and for its ADVANCED
/// summaries (AvgMinMaxPercentileCounter) p50/p95/p99/p999 after them.
struct Summary {
    var count: Int64 = 0
    var sum: Double = 0
    var minimum: Double = 0
    var maximum: Double = 0
    /// ADVANCED summaries only: how many values fell in each of `QuantileSummary`'s log-linear
    /// buckets (whole units, exact below 32, within 1.6% above), since the start or srst.
    var bucketCounts: [UInt32]?

    init() {}

    init(count: Int64, sum: Double, minimum: Double, maximum: Double) {
        self.count = count
        self.sum = sum
        self.minimum = minimum
        self.maximum = maximum
    }

    /// A summary that also prints ZooKeeper's percentile rows (its DetailLevel.ADVANCED).
    init(percentiles: Bool) {
        if percentiles { bucketCounts = [UInt32](repeating: 0, count: QuantileSummary.bucketCount) }
    }

    mutating func record(_ value: Double) {
        minimum = count == 0 ? value : min(minimum, value)
        maximum = count == 0 ? value : max(maximum, value)
        count += 1
        sum += value
        if bucketCounts != nil {
            let whole = value.isFinite && value > 0 ? UInt64(min(value.rounded(), 9.0e18)) : 0
            bucketCounts![QuantileSummary.bucketIndex(whole)] &+= 1
        }
    }

    /// ZooKeeper's AvgMinMaxCounter prints the average as a double and min, max, count and sum as
    /// longs (its values are whole milliseconds or counts); AvgMinMaxPercentileCounter adds the
    /// 50th, 95th, 99th and 99.9th percentiles, rounded to longs, in that order.
    func rows(_ name: String) -> [(String, String)] {
        // AvgMinMaxCounter.getAvg: rounded half-up to 4 decimals.
        let average = count == 0 ? 0 : ((sum / Double(count)) * 10_000).rounded(.toNearestOrAwayFromZero) / 10_000
        var rows = [("zk_avg_\(name)", "\(average)"), ("zk_min_\(name)", Self.whole(minimum)),
                    ("zk_max_\(name)", Self.whole(maximum)), ("zk_cnt_\(name)", "\(count)"), ("zk_sum_\(name)", Self.whole(sum))]
        if let bucketCounts {
            for (label, quantile) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999)] {
                // A bucket's middle, kept within what was recorded.
                let value = min(max(Self.percentile(quantile, of: bucketCounts, count: count), minimum), maximum)
                rows.append(("zk_\(label)_\(name)", Self.whole(value)))
            }
        }
        return rows
    }

    /// The value at rank ceil(q x count) (0 when nothing was recorded).
    static func percentile(_ quantile: Double, of bucketCounts: [UInt32], count: Int64) -> Double {
        guard count > 0 else { return 0 }
        let rank = max(1, UInt64((quantile * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for (index, bucket) in bucketCounts.enumerated() where bucket != 0 {
            seen += UInt64(bucket)
            if seen >= rank { return QuantileSummary.bucketMiddle(index).rounded(.down) }
        }
        return 0
    }

    /// A long's text for a recorded value, rounded and kept within Int64.
    static func whole(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let bound = 9.0e18
        return "\(Int64(min(max(value.rounded(), -bound), bound)))"
    }
}

/// ZooKeeper's BufferStats: the last, smallest and largest of a run of sizes, -1 before the
/// first (client response sizes; the leader's proposal sizes).
struct BufferStats: Equatable {
    var last: Int64 = -1
    var minimum: Int64 = -1
    var maximum: Int64 = -1

    @inline(__always)
    mutating func record(_ bytes: Int64) {
        last = bytes
        if minimum == -1 || bytes < minimum { minimum = bytes }
        if bytes > maximum { maximum = bytes }
    }

    /// BufferStats.toString: "last/min/max" (srvr's "Proposal sizes last/min/max: ").
    var description: String { "\(last)/\(minimum)/\(maximum)" }
}

/// Counters behind srvr / stat / mntr / cons, reset by srst (and crst for connections). mntr's
/// summaries are `ServerMetrics.tally`'s.
struct ServerStatistics {
    /// ZooKeeper's counters that mntr prints; srst resets them, as ZooKeeper's ServerStats.reset
    /// resets its metrics (the swift-metrics counters are not reset).
    var counters = MonitorCounters()
    /// ZooKeeper's BufferStats of reply sizes (last/min/max_client_response_size): each reply and
    /// notification frame without its 4-byte length.
    var clientResponseSizes = BufferStats()
    var packetsReceived: Int64 = 0
    var packetsSent: Int64 = 0
    var latencyMinMs: Int64 = Int64.max
    var latencyMaxMs: Int64 = 0
    var latencyTotalMs: Int64 = 0
    var latencyCount: Int64 = 0
    var fsyncCount: Int64 = 0
    var fsyncTotalMicroseconds: Int64 = 0
    var batchSizeTotal: Int64 = 0
    var fsyncThresholdExceededCount: Int64 = 0
    var snapshotCount: Int64 = 0
    var snapshotLastMs: Int64 = 0

    mutating func recordLatency(_ milliseconds: Int64) {
        latencyMinMs = min(latencyMinMs, milliseconds)
        latencyMaxMs = max(latencyMaxMs, milliseconds)
        latencyTotalMs += milliseconds
        latencyCount += 1
    }

    @inline(__always)
    mutating func recordClientResponseSize(_ bytes: Int64) {
        clientResponseSizes.record(bytes)
    }

    var latencyMin: Int64 { latencyCount == 0 ? 0 : latencyMinMs }
    var latencyAverage: Double { latencyCount == 0 ? 0 : Double(latencyTotalMs) / Double(latencyCount) }

    mutating func reset() {
        // srst resets request counters and ZooKeeper's metrics; storage counters describe the
        // process and stay.
        var kept = ServerStatistics()
        kept.fsyncCount = fsyncCount
        kept.fsyncTotalMicroseconds = fsyncTotalMicroseconds
        kept.batchSizeTotal = batchSizeTotal
        kept.fsyncThresholdExceededCount = fsyncThresholdExceededCount
        kept.snapshotCount = snapshotCount
        kept.snapshotLastMs = snapshotLastMs
        self = kept
    }
}

/// ZooKeeper's counters, as mntr prints them (`zk_<name>`); each is also a swift-metrics
/// `Counter` of `ServerMetrics`, incremented beside it.
struct MonitorCounters {
    var proposalCount: Int64 = 0
    var commitCount: Int64 = 0
    var learnerProposalReceivedCount: Int64 = 0
    var learnerCommitReceivedCount: Int64 = 0
    var snapCount: Int64 = 0
    var diffCount: Int64 = 0
    var revalidateCount: Int64 = 0
    var lookingCount: Int64 = 0
    var connectionRequestCount: Int64 = 0
    var connectionRevalidateCount: Int64 = 0
    var connectionRejected: Int64 = 0
    var connectionDropCount: Int64 = 0
    var bytesReceivedCount: Int64 = 0
    var staleSessionsExpired: Int64 = 0
    var unrecoverableErrorCount: Int64 = 0
    var unsuccessfulHandshake: Int64 = 0
    var syncProcessorRequestQueued: Int64 = 0
    var responseBytes: Int64 = 0
    var outstandingChangesQueued: Int64 = 0
    var outstandingChangesRemoved: Int64 = 0
    var watchBytes: Int64 = 0
    var sessionlessConnectionsExpired: Int64 = 0
    var quitLeadingDueToDisloyalVoter: Int64 = 0

    var rows: [(String, String)] {
        [("zk_proposal_count", "\(proposalCount)"), ("zk_commit_count", "\(commitCount)"),
         ("zk_learner_proposal_received_count", "\(learnerProposalReceivedCount)"),
         ("zk_learner_commit_received_count", "\(learnerCommitReceivedCount)"), ("zk_snap_count", "\(snapCount)"),
         ("zk_diff_count", "\(diffCount)"), ("zk_revalidate_count", "\(revalidateCount)"),
         ("zk_looking_count", "\(lookingCount)"), ("zk_connection_request_count", "\(connectionRequestCount)"),
         ("zk_connection_revalidate_count", "\(connectionRevalidateCount)"),
         ("zk_connection_rejected", "\(connectionRejected)"), ("zk_connection_drop_count", "\(connectionDropCount)"),
         ("zk_bytes_received_count", "\(bytesReceivedCount)"), ("zk_stale_sessions_expired", "\(staleSessionsExpired)"),
         ("zk_unrecoverable_error_count", "\(unrecoverableErrorCount)"),
         ("zk_unsuccessful_handshake", "\(unsuccessfulHandshake)"),
         ("zk_sync_processor_request_queued", "\(syncProcessorRequestQueued)"),
         ("zk_response_bytes", "\(responseBytes)"), ("zk_watch_bytes", "\(watchBytes)"),
         ("zk_outstanding_changes_queued", "\(outstandingChangesQueued)"),
         ("zk_outstanding_changes_removed", "\(outstandingChangesRemoved)"),
         ("zk_sessionless_connections_expired", "\(sessionlessConnectionsExpired)"),
         ("zk_quit_leading_due_to_disloyal_voter", "\(quitLeadingDueToDisloyalVoter)")]
    }
}

struct ConnectionStatistics {
    var received: Int64 = 0
    var lastLatencyMs: Int64 = 0
    var sent: Int64 = 0
    var latencyMinMs: Int64 = Int64.max
    var latencyMaxMs: Int64 = 0
    var latencyTotalMs: Int64 = 0
    var latencyCount: Int64 = 0
    var lastOperation = "NA"
    var lastCxid: Int32 = -1
    var lastZxid: Int64 = -1
    /// Monotonic milliseconds of the last reply (reports add the node's wall-clock offset).
    var lastResponseMonotonicMs: Int64 = 0
    var establishedMs: Int64 = 0

    mutating func recordLatency(_ milliseconds: Int64) {
        lastLatencyMs = milliseconds
        latencyMinMs = min(latencyMinMs, milliseconds)
        latencyMaxMs = max(latencyMaxMs, milliseconds)
        latencyTotalMs += milliseconds
        latencyCount += 1
    }

    mutating func reset() {
        let established = establishedMs
        self = ConnectionStatistics()
        establishedMs = established
    }
}
