import Testing
import ZKBase
import ZKPipeline
import ZKTree
import ZKWire

@Suite struct ServerCoreSessionTests {
    @Test func newSessionIsPersistedBeforeItIsAnswered() throws {
        var harness = CoreHarness()
        harness.open(1)
        let outputs = harness.connect(1, timeoutMs: 10_000)
        let txns = outputs.persisted
        try #require(txns.count == 1)
        #expect(txns[0].body == .createSession(timeoutMs: 10_000))
        #expect(txns[0].header.clientId == CoreHarness.firstSessionId)
        #expect(txns[0].header.zxid == 1)
        #expect(txns[0].header.type == OpCode.createSession.rawValue)
        #expect(outputs.connected(1) == nil, "no ConnectResponse before the createSession txn is durable")
        #expect(harness.core.tree.sessions.isEmpty)

        let committed = harness.commit()
        let response = try #require(committed.connected(1))
        #expect(response == ConnectResponse(
            timeoutMs: 10_000, sessionId: CoreHarness.firstSessionId,
            password: JavaRandom.sessionPassword(sessionId: CoreHarness.firstSessionId), readOnly: false))
        #expect(harness.core.tree.sessions[CoreHarness.firstSessionId] == 10_000)
        #expect(harness.core.sessionId(of: 1) == CoreHarness.firstSessionId)
    }

    @Test func sessionIdsAreAllocatedInOrder() {
        var harness = CoreHarness()
        #expect(harness.session(1).sessionId == CoreHarness.firstSessionId)
        #expect(harness.session(2).sessionId == CoreHarness.firstSessionId + 1)
    }

    @Test(arguments: [(Int32(100), Int32(4000)), (4000, 4000), (25_000, 25_000), (40_000, 40_000), (1_000_000, 40_000), (-5, 4000)])
    func timeoutIsClampedToTwoAndTwentyTicks(_ requested: Int32, _ negotiated: Int32) {
        var harness = CoreHarness(CoreConfiguration(tickMs: 2000))
        #expect(harness.session(1, timeoutMs: requested).timeoutMs == negotiated)
    }

    @Test func configuredTimeoutBounds() {
        var harness = CoreHarness(CoreConfiguration(tickMs: 2000, minSessionTimeoutMs: 5000, maxSessionTimeoutMs: 7000))
        #expect(harness.session(1, timeoutMs: 100).timeoutMs == 5000)
        #expect(harness.session(2, timeoutMs: 60_000).timeoutMs == 7000)
    }

    @Test func readOnlyByteIsEchoedOnlyToClientsThatSendIt() throws {
        var harness = CoreHarness()
        harness.open(1)
        let old = harness.connect(1, readOnly: nil) + harness.commit()
        #expect(try #require(old.connected(1)).readOnly == nil)
        harness.open(2)
        let new = harness.connect(2, readOnly: false) + harness.commit()
        #expect(try #require(new.connected(2)).readOnly == false)
    }

    @Test func clientAheadOfTheServerIsRefused() {
        var harness = CoreHarness()
        harness.open(1)
        let outputs = harness.connect(1, lastZxidSeen: 100)
        #expect(outputs.persisted.isEmpty)
        #expect(outputs.closed == [1])
        #expect(outputs.connected(1) == nil)
    }

    @Test func secondConnectOnOneConnectionCloses() {
        var harness = CoreHarness()
        _ = harness.session(1)
        let outputs = harness.connect(1)
        #expect(outputs.closed == [1])
        #expect(outputs.persisted.isEmpty)
    }

    @Test func requestBeforeConnectCloses() {
        var harness = CoreHarness()
        harness.open(1)
        let outputs = harness.send(1, 1, .getData(path: "/", watch: false))
        #expect(outputs.closed == [1])
        #expect(outputs.replies(1).isEmpty)
    }

    @Test func expiredSessionLosesItsEphemeralsAndWatchersHearIt() throws {
        var harness = CoreHarness()
        let shortLived = harness.session(1, timeoutMs: 4000)
        _ = harness.session(2, timeoutMs: 40_000)
        _ = harness.call(1, 1, create("/e", mode: .ephemeral))
        _ = harness.call(1, 2, create("/e2", mode: .ephemeral))
        let exists = harness.send(2, 1, .exists(path: "/e", watch: true))
        #expect(exists.error(2, xid: 1) == .ok)
        // Deadline = next tick boundary after now + timeout: 1_004_000 rounds up to 1_006_000.
        #expect(harness.tick(at: 1_005_999).isEmpty)
        let expiry = harness.tick(at: 1_006_000)
        let txns = expiry.persisted
        try #require(txns.count == 1)
        #expect(txns[0].header.clientId == shortLived.sessionId)
        guard case .closeSession(let paths) = txns[0].body else {
            Issue.record("expected closeSession, got \(txns[0].body)")
            return
        }
        #expect(Set(paths) == ["/e", "/e2"])
        #expect(expiry.closed == [1])
        #expect(harness.core.tree.node("/e") != nil, "nothing changes before the txn is durable")

        let committed = harness.commit()
        #expect(harness.core.tree.node("/e") == nil)
        #expect(harness.core.tree.node("/e2") == nil)
        #expect(harness.core.tree.ephemerals[shortLived.sessionId] == nil)
        #expect(harness.core.tree.sessions[shortLived.sessionId] == nil)
        #expect(committed.events(2) == ["nodeDeleted /e"])
        #expect(harness.tick(at: 1_010_000).isEmpty, "an expired session expires once")
    }

    @Test func activityPushesTheDeadlineOut() {
        var harness = CoreHarness()
        _ = harness.session(1, timeoutMs: 4000)
        harness.nowMs = 1_003_000
        _ = harness.send(1, 1, .ping)
        #expect(harness.tick(at: 1_006_000).isEmpty)
        #expect(harness.tick(at: 1_008_000).persisted.count == 1)
    }

    @Test func requestOnAnExpiringSessionGetsSessionExpired() {
        var harness = CoreHarness()
        _ = harness.session(1, timeoutMs: 4000)
        _ = harness.tick(at: 1_006_000)
        let outputs = harness.send(1, 5, .getData(path: "/", watch: false))
        #expect(outputs.error(1, xid: 5) == .sessionExpired)
        #expect(outputs.closed == [1])
    }

    @Test func reconnectWithThePasswordResumesTheSession() throws {
        var harness = CoreHarness()
        let first = harness.session(1)
        _ = harness.call(1, 1, create("/e", mode: .ephemeral))
        harness.core.connectionClosed(1)
        harness.open(2)
        let outputs = harness.connect(2, timeoutMs: 10_000, sessionId: first.sessionId, password: first.password, lastZxidSeen: 2)
        #expect(outputs.persisted.isEmpty, "resuming a session writes nothing")
        let resumed = try #require(outputs.connected(2))
        #expect(resumed.sessionId == first.sessionId)
        #expect(resumed.password == first.password)
        #expect(resumed.timeoutMs == 10_000)
        #expect(harness.core.tree.node("/e") != nil)
        let read = harness.send(2, 2, .getEphemerals(prefixPath: "/"))
        #expect(read.reply(2, xid: 2)?.body == .ephemerals(["/e"]))
    }

    @Test func reconnectClosesTheSessionsOldConnection() {
        var harness = CoreHarness()
        let first = harness.session(1)
        harness.open(2)
        let outputs = harness.connect(2, sessionId: first.sessionId, password: first.password)
        #expect(outputs.closed == [1])
        #expect(outputs.connected(2)?.sessionId == first.sessionId)
    }

    @Test func reconnectWithAWrongPasswordIsRefused() throws {
        var harness = CoreHarness()
        let first = harness.session(1)
        harness.core.connectionClosed(1)
        harness.open(2)
        var wrong = first.password
        wrong[0] ^= 0xff
        let outputs = harness.connect(2, sessionId: first.sessionId, password: wrong)
        let refused = try #require(outputs.connected(2))
        #expect(refused.timeoutMs == 0)
        #expect(refused.sessionId == 0)
        #expect(refused.password == [UInt8](repeating: 0, count: 16))
        #expect(outputs.closed == [2])
        #expect(outputs.persisted.isEmpty)
    }

    @Test func reconnectToAnExpiredSessionIsRefused() throws {
        var harness = CoreHarness()
        let first = harness.session(1, timeoutMs: 4000)
        harness.core.connectionClosed(1)
        _ = harness.tick(at: 1_006_000)
        _ = harness.commit()
        harness.open(2)
        let outputs = harness.connect(2, sessionId: first.sessionId, password: first.password)
        #expect(try #require(outputs.connected(2)).timeoutMs == 0)
        #expect(outputs.closed == [2])
    }

    @Test func closeSessionDeletesEphemeralsRepliesThenCloses() throws {
        var harness = CoreHarness()
        let session = harness.session(1)
        _ = harness.call(1, 1, create("/e", mode: .ephemeral))
        let sent = harness.send(1, 2, .closeSession)
        #expect(sent.persisted.map(\.body) == [.closeSession(pathsToDelete: ["/e"])])
        #expect(sent.replies(1).isEmpty)
        let committed = harness.commit()
        let reply = try #require(committed.reply(1, xid: 2))
        #expect(reply.header.err == 0)
        #expect(reply.header.zxid == sent.persisted[0].zxid)
        #expect(committed.closed == [1])
        #expect(harness.core.tree.node("/e") == nil)
        #expect(harness.core.tree.sessions[session.sessionId] == nil)
    }

    @Test func connectionCloseDropsWatchesButKeepsTheSession() {
        var harness = CoreHarness()
        let session = harness.session(1)
        _ = harness.call(1, 1, create("/w"))
        _ = harness.send(1, 2, .getData(path: "/w", watch: true))
        harness.core.connectionClosed(1)
        #expect(harness.core.tree.dataWatches.watchCount == 0)
        #expect(harness.core.sessions.isActive(session.sessionId))
        #expect(harness.core.connectionCount == 0)
    }
}
