import Metrics
import MetricsTestKit
import Testing
@testable import ZKServer

/// mntr's summaries (ZooKeeper's DefaultMetricsProvider): every summary `ServerMetrics` makes
/// shows, BASIC before ADVANCED before the sets, a set's member from its first value on, and
/// srst resets the values while the backend keeps its own.
@Suite struct MonitorTallyTests {
    @Test func everyRegisteredSummaryIsInMntrInZooKeepersGroupsAndSrstResetsThem() throws {
        let backend = TestMetrics()
        let metrics = ServerMetrics(factory: backend)
        var keys = metrics.tally.rows.map(\.0)
        // Registered summaries show before any value; BASIC (fsynctime) before ADVANCED (readlatency).
        for name in ["fsynctime", "readlatency", "election_time", "startup_txns_loaded", "quorum_ack_latency"] {
            #expect(keys.contains("zk_cnt_\(name)"), "\(name)")
        }
        let fsync = try #require(keys.firstIndex(of: "zk_avg_fsynctime"))
        let read = try #require(keys.firstIndex(of: "zk_avg_readlatency"))
        #expect(fsync < read)
        #expect(Array(keys[read..<read + 9]) == ["avg", "min", "max", "cnt", "sum", "p50", "p95", "p99", "p999"].map { "zk_\($0)_readlatency" })

        // A set's member (here a learner's) shows once it has a value, after every plain summary.
        let learner = metrics.learnerSummaries(2)
        #expect(!metrics.tally.rows.contains { $0.0.hasSuffix("2_ack_latency") })
        learner.ackLatency.recordMilliseconds(3)
        learner.queuedPackets.record(5)
        metrics.readLatency.recordNanoseconds(2_000_000)
        keys = metrics.tally.rows.map(\.0)
        let values = Dictionary(uniqueKeysWithValues: metrics.tally.rows)
        #expect(values["zk_cnt_2_ack_latency"] == "1" && values["zk_p99_2_ack_latency"] == "3")
        #expect(values["zk_sum_2_learner_handler_qp_size"] == "5" && values["zk_p50_2_learner_handler_qp_size"] == nil)
        #expect(values["zk_avg_readlatency"] == "2.0")
        let lastPlain = try #require(keys.lastIndex { $0.hasSuffix("_readlatency") || $0.hasSuffix("_fsynctime") })
        #expect(try #require(keys.firstIndex(of: "zk_avg_2_learner_handler_qp_size")) > lastPlain)
        #expect(try #require(keys.firstIndex(of: "zk_avg_2_ack_latency")) > keys.firstIndex(of: "zk_avg_2_learner_handler_qp_size")!)

        // srst: values reset, the set's member stays; the backend is not reset.
        metrics.tally.reset()
        let reset = Dictionary(uniqueKeysWithValues: metrics.tally.rows)
        #expect(reset["zk_cnt_readlatency"] == "0" && reset["zk_cnt_2_ack_latency"] == "0")
        #expect(try backend.expectTimer("readlatency").values.count == 1)
    }

    @Test func averagesAreRoundedAsAvgMinMaxCounter() {
        var summary = Summary()
        for value in [0.0, 0, 1] { summary.record(value) }
        #expect(summary.rows("x").first?.1 == "0.3333")
    }
}
