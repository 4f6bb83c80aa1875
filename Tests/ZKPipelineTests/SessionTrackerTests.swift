import Testing
import ZKBase
import ZKPipeline

@Suite struct SessionTrackerTests {
    @Test func initialSessionIdIsZooKeepers() {
        // SessionTrackerImpl.initializeNextSessionId: (elapsed << 24) >>> 8 | (serverId << 56).
        #expect(SessionTracker.initialSessionId(serverId: 1, elapsedMs: 0x01_2345_6789) == 0x0101_2345_6789_0000)
        #expect(SessionTracker.initialSessionId(serverId: 0, elapsedMs: 0xff_ffff_ffff) == 0x00ff_ffff_ffff_0000)
        #expect(SessionTracker.initialSessionId(serverId: 0xff, elapsedMs: 0x80_0000_0000) > Int64.min)
    }

    @Test func allocationSkipsTheContainerMarker() {
        var tracker = SessionTracker(tickMs: 2000, initialSessionId: Int64.min)
        #expect(tracker.allocateSessionId() == Int64.min + 1)
        #expect(tracker.allocateSessionId() == Int64.min + 2)
    }

    @Test func deadlinesAreRoundedUpToTheNextTick() {
        var tracker = SessionTracker(tickMs: 2000, initialSessionId: 1)
        tracker.track(id: 1, timeoutMs: 4000, nowMs: 10_000)
        #expect(tracker.sessions[1]?.expirationMs == 16_000)
        tracker.track(id: 2, timeoutMs: 4000, nowMs: 10_001)
        #expect(tracker.sessions[2]?.expirationMs == 16_000)
        #expect(tracker.expire(nowMs: 15_999).isEmpty)
        #expect(tracker.expire(nowMs: 16_000) == [1, 2])
        #expect(tracker.isActive(1) == false, "expired sessions are closing until their closeSession commits")
        let touchedAfterExpiry = tracker.touch(id: 1, nowMs: 16_000)
        #expect(!touchedAfterExpiry)
        tracker.remove(id: 1)
        #expect(tracker.count == 1)
    }

    @Test func touchMovesTheDeadlineAndCanChangeTheTimeout() {
        var tracker = SessionTracker(tickMs: 1000, initialSessionId: 1)
        tracker.track(id: 7, timeoutMs: 3000, nowMs: 0)
        let touched = tracker.touch(id: 7, nowMs: 2500)
        #expect(touched)
        #expect(tracker.expire(nowMs: 4000).isEmpty)
        let retimed = tracker.touch(id: 7, nowMs: 2500, timeoutMs: 10_000)
        #expect(retimed)
        #expect(tracker.sessions[7]?.timeoutMs == 10_000)
        #expect(tracker.expire(nowMs: 12_000).isEmpty)
        #expect(tracker.expire(nowMs: 13_000) == [7])
        let unknown = tracker.touch(id: 99, nowMs: 0)
        #expect(!unknown, "unknown session")
    }

    @Test func markClosingStopsTouches() {
        var tracker = SessionTracker(tickMs: 1000, initialSessionId: 1)
        tracker.track(id: 3, timeoutMs: 3000, nowMs: 0)
        tracker.markClosing(3)
        #expect(!tracker.isActive(3))
        let touched = tracker.touch(id: 3, nowMs: 10)
        #expect(!touched)
        #expect(tracker.expire(nowMs: 100_000).isEmpty, "a closing session is not expired twice")
    }
}
