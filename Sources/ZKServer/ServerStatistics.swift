/// Counters behind srvr / stat / mntr / cons, reset by srst (and crst for connections).
struct ServerStatistics {
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
        self = kept
    }
}

struct ConnectionStatistics {
    var received: Int64 = 0
    var sent: Int64 = 0
    var latencyMinMs: Int64 = Int64.max
    var latencyMaxMs: Int64 = 0
    var latencyTotalMs: Int64 = 0
    var latencyCount: Int64 = 0
    var lastOperation = "NA"
    var lastCxid: Int32 = -1
    var lastZxid: Int64 = -1
    var lastResponseTimeMs: Int64 = 0
    var establishedMs: Int64 = 0

    mutating func recordLatency(_ milliseconds: Int64) {
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
