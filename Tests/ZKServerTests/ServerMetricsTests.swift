import Foundation
import Metrics
import MetricsTestKit
import Testing
@testable import ZKServer

/// The server records ZooKeeper's metrics through swift-metrics (an embedding program's own
/// backend: here MetricsTestKit's, handed to this server only so parallel tests do not mix).
@Suite struct ServerMetricsTests {
    @Test func requestLatenciesAreRecordedAsZooKeepersTimers() async throws {
        let metrics = TestMetrics()
        let server = try TestServer(metricsFactory: metrics)
        defer { server.stop() }
        let port = server.port
        // Each session: a create (a txn: updatelatency) and a getData (readlatency).
        for index in 0..<3 {
            try await onThread { try wellFormedSession(port: port, path: "/metered\(index)") }
        }
        #expect(try metrics.expectTimer("readlatency").values.count == 3)
        #expect(try metrics.expectTimer("updatelatency").values.count == 3)
        #expect(try metrics.expectTimer("readlatency").values.allSatisfy { $0 >= 0 })
        #expect(try metrics.expectTimer("fsynctime").values.count >= 1)
        // Every txn logged is in one batch: the recorded batch sizes add up to the server's own
        // count, read together on its loop. At least six (three createSession, three create);
        // on a slow machine the sessions may also have expired by now (three closeSession).
        let paddock = server.server
        let (batchSizes, logged) = try await paddock.node.loop.submit {
            (Int64(try metrics.expectRecorder("sync_processor_batch_size").values.reduce(0, +)), paddock.node.statistics.batchSizeTotal)
        }.get()
        #expect(batchSizes == logged)
        #expect(logged >= 6)
        #expect(try metrics.expectTimer("dbinittime").values.count == 1)
        #expect(try metrics.expectRecorder("startup_txns_loaded").values.count == 1)
    }

    @Test func summaryQuantilesCountAndSum() {
        let summary = QuantileSummary(name: "readlatency", labels: [], quantiles: [0.5, 0.9, 0.99],
                                      unitsPerExposedUnit: 1_000_000)
        for milliseconds in 1...1000 { summary.recordNanoseconds(Int64(milliseconds) * 1_000_000) }
        let state = summary.snapshot()
        #expect(state.count == 1000)
        #expect(abs(state.sum - 500_500) < 0.001)
        for (quantile, value) in state.quantileValues {
            // Within the histogram's 1/64 relative error of the exact rank's value.
            #expect(abs(value - quantile * 1000) <= quantile * 1000 / 64 + 1, "q\(quantile) = \(value)")
        }
        var text = ""
        summary.emit(into: &text)
        #expect(text.contains("readlatency{quantile=\"0.99\"} "))
        #expect(text.contains("readlatency_count 1000\n"))
    }

    @Test func summaryWindowForgetsOldObservationsButNotTheCount() {
        let summary = QuantileSummary(name: "fsynctime", labels: [], quantiles: [0.5], unitsPerExposedUnit: 1_000_000,
                                      windowNanoseconds: 5_000)
        summary.recordNanoseconds(7_000_000)
        let later = QuantileSummary.nowNanoseconds() + 1_000_000_000
        let state = summary.snapshot(nowNanoseconds: later)
        #expect(state.count == 1)
        #expect(state.quantileValues[0].value.isNaN)
    }

    @Test func factoryServesPrometheusTextWithZooKeeperTypes() {
        let factory = ZooKeeperMetricsFactory()
        let metrics = ServerMetrics(factory: factory)
        metrics.readLatency.recordMilliseconds(2)
        metrics.syncProcessorBatchSize.record(4)
        metrics.snapCount.increment()
        metrics.gauge("znode_count").record(5)
        let text = String(decoding: factory.emit(), as: UTF8.self)
        #expect(text.contains("# TYPE readlatency summary\n"))
        #expect(text.contains("readlatency{quantile=\"0.5\"} "))
        #expect(text.contains("readlatency{quantile=\"0.9\"} "))
        #expect(text.contains("readlatency_count 1\n"))
        #expect(text.contains("# TYPE sync_processor_batch_size summary\n"))
        #expect(text.contains("sync_processor_batch_size_sum 4.0\n"))
        #expect(!text.contains("sync_processor_batch_size{quantile=\"0.9\"}"))
        #expect(text.contains("# TYPE snap_count counter\nsnap_count 1\n"))
        #expect(text.contains("# TYPE znode_count gauge\nznode_count 5"))
    }
}
