/// ZooKeeper's summary metric as mntr prints it: avg/min/max/cnt/sum.
struct Summary {
    var count: Int64 = 0
    var sum: Double = 0
    var minimum: Double = 0
    var maximum: Double = 0

    mutating func record(_ value: Double) {
        minimum = count == 0 ? value : min(minimum, value)
        maximum = count == 0 ? value : max(maximum, value)
        count += 1
        sum += value
    }

    /// ZooKeeper's AvgMinMaxCounter prints the average as a double and min, max, count and sum as
    /// longs (its values are whole milliseconds or counts).
    func rows(_ name: String) -> [(String, String)] {
        [("zk_avg_\(name)", "\(count == 0 ? 0 : sum / Double(count))"), ("zk_min_\(name)", Self.whole(minimum)),
         ("zk_max_\(name)", Self.whole(maximum)), ("zk_cnt_\(name)", "\(count)"), ("zk_sum_\(name)", Self.whole(sum))]
    }

    /// A long's text for a recorded value, rounded and kept within Int64.
    static func whole(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let bound = 9.0e18
        return "\(Int64(min(max(value.rounded(), -bound), bound)))"
    }
}

/// Counters behind srvr / stat / mntr / cons, reset by srst (and crst for connections).
struct ServerStatistics {
    var fsyncTimeMs = Summary()
    var syncBatchSize = Summary()
    var snapshotTimeMs = Summary()
    /// Ensemble members: looking until a leader is chosen (ZooKeeper's election_time), and
    /// from then until serving (follower_sync_time / observer_sync_time; a leader's own sync
    /// as leader_sync_time).
    var electionTimeMs = Summary()
    var followerSyncTimeMs = Summary()
    var observerSyncTimeMs = Summary()
    var leaderSyncTimeMs = Summary()
    /// ZooKeeper's readlatency / updatelatency: replies to requests without / with a txn.
    var readLatencyMs = Summary()
    var updateLatencyMs = Summary()
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

    var latencyMin: Int64 { latencyCount == 0 ? 0 : latencyMinMs }
    var latencyAverage: Double { latencyCount == 0 ? 0 : Double(latencyTotalMs) / Double(latencyCount) }

    mutating func reset() {
        // srst resets request counters; storage counters describe the process and stay.
        var kept = ServerStatistics()
        kept.fsyncCount = fsyncCount
        kept.fsyncTotalMicroseconds = fsyncTotalMicroseconds
        kept.batchSizeTotal = batchSizeTotal
        kept.fsyncThresholdExceededCount = fsyncThresholdExceededCount
        kept.snapshotCount = snapshotCount
        kept.snapshotLastMs = snapshotLastMs
        kept.fsyncTimeMs = fsyncTimeMs
        kept.syncBatchSize = syncBatchSize
        kept.snapshotTimeMs = snapshotTimeMs
        self = kept
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
