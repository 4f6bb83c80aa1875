import Metrics
import MetricsTestKit
import PaddockClient
import Testing

/// The process's metrics backend for these tests (swift-metrics is bootstrapped once per process).
let testMetrics: TestMetrics = {
    let metrics = TestMetrics()
    MetricsSystem.bootstrap(metrics)
    return metrics
}()

@Suite struct ClientMetricsTests {
    @Test func countersReachTheApplicationsMetricsBackend() async throws {
        let metrics = testMetrics
        try await withServer { server in
            let client = try await PaddockClient.connect(server.address)
            try await client.create("/metered", data: [1])
            let (_, _, watch) = try await client.getDataWatch("/metered")
            try await client.setData("/metered", [2])
            _ = try await nextEvent(watch)
            await #expect(throws: ZooKeeperError.self) { try await client.getData("/not-there") }
            await client.close()
        }
        #expect(try metrics.expectCounter("paddock_client_requests_total").totalValue >= 4)
        #expect(try metrics.expectCounter("paddock_client_errors_total", [("code", "noNode")]).totalValue >= 1)
        #expect(try metrics.expectCounter("paddock_client_watch_events_total").totalValue >= 1)
        #expect(try metrics.expectCounter("paddock_client_connection_attempts_total").totalValue >= 1)
        #expect(try metrics.expectCounter("paddock_client_state_changes_total", [("state", "connected")]).totalValue >= 1)
    }
}
