import Testing
import ZKBase
import ZKPipeline
import ZKWire

/// Session deadlines run on the shell's monotonic clock; wall time only stamps txns. A step of
/// the wall clock (NTP, an operator, a VM resumed) must neither expire sessions nor keep them.
@Suite struct SessionClockTests {
    func expiredSessions(_ outputs: [CoreOutput]) -> [Int64] {
        outputs.compactMap {
            if case .persist(let txn, _) = $0, case .closeSession = txn.body { return txn.header.clientId }
            return nil
        }
    }

    @Test func aWallClockStepExpiresNoSessionAndDeadlinesFollowTheMonotonicClock() throws {
        var harness = CoreHarness(CoreConfiguration(tickMs: 2000))
        harness.open(1)
        var outputs: [CoreOutput] = []
        let request = ConnectRequest(lastZxidSeen: 0, timeoutMs: 10_000, sessionId: 0, password: [UInt8](repeating: 0, count: 16), readOnly: false)
        harness.core.connect(1, request, nowMs: 1_700_000_000_000, monotonicMs: 5_000, into: &outputs)
        #expect(outputs.persisted.first?.header.time == 1_700_000_000_000, "the txn carries wall time")
        _ = harness.commit()
        let session = try #require(harness.core.sessionId(of: 1))

        // The wall clock jumps an hour ahead while one monotonic second passes: nothing expires.
        outputs = []
        harness.core.tick(nowMs: 1_700_000_000_000 + 3_600_000, monotonicMs: 6_000, into: &outputs)
        #expect(expiredSessions(outputs).isEmpty)

        // A request keeps it alive by the monotonic clock, even with the wall clock set back a day.
        outputs = []
        harness.core.receive(1, ClientRequest(xid: 1, opCodeRaw: OpCode.exists.rawValue, body: .exists(path: "/", watch: false)),
                             nowMs: 1_700_000_000_000 - 86_400_000, monotonicMs: 12_000, into: &outputs)
        outputs = []
        harness.core.tick(nowMs: 1_700_000_000_000, monotonicMs: 20_000, into: &outputs)
        #expect(expiredSessions(outputs).isEmpty, "touched at 12 s with a 10 s timeout: alive at 20 s")

        // Silence past the timeout on the monotonic clock expires it, whatever the wall says.
        outputs = []
        harness.core.tick(nowMs: 1_600_000_000_000, monotonicMs: 26_000, into: &outputs)
        #expect(expiredSessions(outputs) == [session])
    }
}
