import Testing
import ZKBase
import ZKPipeline
import ZKWire

/// A connection that never sends its ConnectRequest must not hold a slot forever: as ZooKeeper's
/// NIOServerCnxnFactory (cnxnExpiryQueue, zookeeper.nio.sessionlessCnxnTimeout), the core closes
/// it once the timeout has passed on the shell's monotonic clock, and counts it.
@Suite struct SessionlessConnectionTests {
    func closed(_ outputs: [CoreOutput]) -> [ConnectionID] {
        outputs.compactMap { if case .close(let id, _) = $0 { return id } else { return nil } }
    }

    @Test func aConnectionWithoutConnectRequestIsClosedAfterTheTimeoutAndCounted() {
        var configuration = CoreConfiguration(tickMs: 2000)
        configuration.sessionlessConnectionTimeoutMs = 10_000
        var harness = CoreHarness(configuration)
        harness.core.connectionOpened(1, address: CoreHarness.address, monotonicMs: 1_000)
        harness.core.connectionOpened(2, address: CoreHarness.address, monotonicMs: 1_000)
        harness.core.connectionOpened(3, address: CoreHarness.address, monotonicMs: 6_000)
        // 2 sends its ConnectRequest: it has a session now and stays.
        var outputs: [CoreOutput] = []
        harness.core.connect(2, ConnectRequest(lastZxidSeen: 0, timeoutMs: 40_000, sessionId: 0,
                                               password: [UInt8](repeating: 0, count: 16), readOnly: false),
                             nowMs: 1_700_000_000_000, monotonicMs: 2_000, into: &outputs)
        _ = harness.commit()

        // The wall clock is far ahead: only the monotonic clock counts.
        outputs = []
        harness.core.tick(nowMs: 9_000_000_000_000, monotonicMs: 10_999, into: &outputs)
        #expect(closed(outputs).isEmpty)
        #expect(harness.core.sessionlessConnectionsExpiredCount == 0)

        outputs = []
        harness.core.tick(nowMs: 1_700_000_000_000, monotonicMs: 11_000, into: &outputs)
        #expect(closed(outputs) == [1])
        #expect(harness.core.sessionlessConnectionsExpiredCount == 1)

        // Closed once only; 3's deadline is its own.
        outputs = []
        harness.core.tick(nowMs: 1_700_000_000_000, monotonicMs: 15_999, into: &outputs)
        #expect(closed(outputs).isEmpty)
        outputs = []
        harness.core.tick(nowMs: 1_700_000_000_000, monotonicMs: 16_000, into: &outputs)
        #expect(closed(outputs) == [3])
        #expect(harness.core.sessionlessConnectionsExpiredCount == 2)
    }

    @Test func aClosedConnectionIsForgottenAndEveryModeExpires() {
        var harness = CoreHarness(CoreConfiguration(tickMs: 2000))
        harness.core.connectionOpened(1, address: CoreHarness.address, monotonicMs: 0)
        harness.core.connectionClosed(1)
        // A member that is electing serves no client but still closes silent connections.
        var outputs: [CoreOutput] = []
        harness.core.changeReplication(to: .notServing, monotonicMs: 0, into: &outputs)
        harness.core.connectionOpened(2, address: CoreHarness.address, monotonicMs: 0)
        outputs = []
        harness.core.tick(nowMs: 0, monotonicMs: 10_000, into: &outputs)
        #expect(closed(outputs) == [2])
        #expect(harness.core.sessionlessConnectionsExpiredCount == 1)
    }
}
