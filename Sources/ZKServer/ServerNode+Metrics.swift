import Metrics

/// Where the node's figures reach swift-metrics (`ServerMetrics`): each is recorded where it is
/// produced, beside the mntr statistics of the same figure. Everything runs on the node loop.
extension ServerNode {
    /// A reply to a client request left: ZooKeeper's readlatency or updatelatency (a request with
    /// a txn, including a write that failed), from receipt to reply.
    @inline(__always)
    func recordReply(latencyMicroseconds: Int64, isUpdate: Bool) {
        statistics.recordLatency(latencyMicroseconds / 1000)
        let milliseconds = Double(latencyMicroseconds) / 1000
        if isUpdate {
            statistics.updateLatencyMs.record(milliseconds)
            metrics.updateLatency.recordNanoseconds(latencyMicroseconds &* 1000)
        } else {
            statistics.readLatencyMs.record(milliseconds)
            metrics.readLatency.recordNanoseconds(latencyMicroseconds &* 1000)
        }
    }

    /// Recovery's figures, once (ZooKeeper's dbinittime and startup_* summaries).
    func recordStartupMetrics() {
        metrics.databaseInitTime.recordMilliseconds(recovery.elapsedMs)
        metrics.startupTxnsLoaded.record(recovery.txnsReplayed)
        metrics.startupTxnsLoadTime.recordMilliseconds(recovery.replayMs)
        metrics.startupSnapLoadTime.recordMilliseconds(recovery.snapshotLoadMs)
    }

    /// mntr's numeric scalar rows as gauges under ZooKeeper's names (without `zk_`), as
    /// ZooKeeper samples its gauges: before each /metrics scrape and once a tick. Rows that
    /// ZooKeeper registers as summaries or counters are recorded where they happen instead.
    func publishGauges() {
        for (key, value) in FourLetterWords.monitorScalarRows(self) + ensembleScalarRows {
            let name = String(key.dropFirst("zk_".count))
            guard let number = Double(value), !ServerMetrics.counterNames.contains(name),
                  !ServerMetrics.startupSummaryNames.contains(name)
            else { continue }
            let gauge: Gauge
            if let existing = gauges[name] {
                gauge = existing
            } else {
                gauge = metrics.gauge(name)
                gauges[name] = gauge
            }
            gauge.record(number)
        }
    }
}
