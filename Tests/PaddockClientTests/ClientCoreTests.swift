import NIOCore
import Testing
import ZKBase
import ZKWire
@testable import PaddockClient

/// The session core driven by hand: what a server would send, and time as plain numbers.
struct CoreHarness {
    var core: ClientCore
    var now: Int64 = 0
    var log: [ClientAction] = []

    init(hosts: Int = 3, timeoutMs: Int32 = 9000, limits: ClientLimits = ClientLimits()) {
        let connect = ConnectString(hosts: (0..<hosts).map { ConnectString.Host(host: "h\($0)", port: 2181) })
        core = ClientCore(connect: connect, sessionTimeoutMs: timeoutMs, limits: limits)
    }

    mutating func take() -> [ClientAction] {
        let actions = core.takeActions()
        core.checkInvariants()
        log += actions
        return actions
    }

    mutating func tick(_ ms: Int64 = 0) -> [ClientAction] {
        now += ms
        core.tick(now: now)
        return take()
    }

    mutating func serverSends(_ frames: [ByteBuffer]) -> [ClientAction] {
        var bytes = ByteBuffer()
        for var frame in frames {
            bytes.writeInteger(Int32(frame.readableBytes))
            bytes.writeBuffer(&frame)
        }
        core.received(&bytes, now: now)
        return take()
    }

    /// Connects to the next host and completes the handshake with `sessionId` (0: expired).
    mutating func establish(sessionId: Int64 = 0x1234, timeoutMs: Int32 = 9000) -> [ClientAction] {
        var actions = tick()
        core.connected(now: now)
        actions += take()
        var response = ByteBuffer()
        ConnectResponse(timeoutMs: timeoutMs, sessionId: sessionId, password: Array(repeating: 7, count: 16)).encode(into: &response)
        return actions + serverSends([response])
    }

    mutating func submit(
        _ id: RequestID, _ opCode: OpCode, _ body: RequestBody, watch: (WatchKind, String, WatcherID)? = nil,
        persistent: (path: String, recursive: Bool, watcher: WatcherID)? = nil
    ) -> [ClientAction] {
        var request = PendingRequest(id: id, opCode: opCode, body: body)
        if let watch { request.watch = (watch.0, watch.1, watch.2) }
        if let persistent { request.persistentWatch = persistent }
        core.submit(request, now: now)
        return take()
    }
}

func reply(xid: Int32, zxid: Int64, err: ErrorCode = .ok, _ body: ResponseBody = .empty) -> ByteBuffer {
    var buffer = ByteBuffer()
    ReplyHeader(xid: xid, zxid: zxid, err: err.rawValue).encode(into: &buffer)
    if err == .ok { body.encode(into: &buffer) }
    return buffer
}

func notification(_ type: EventType, _ path: String) -> ByteBuffer {
    var buffer = ByteBuffer()
    ReplyHeader(xid: SpecialXid.notification, zxid: -1, err: 0).encode(into: &buffer)
    WatcherEvent(type: type, path: path).encode(into: &buffer)
    return buffer
}

/// The requests in the frames a list of actions sends; a ConnectRequest (its first int, the
/// protocol version 0, sits where a request's xid would, and no request has xid 0) is left out.
/// Every request frame sent (a `.send` may carry several), without the connect request.
func sentRequests(_ actions: [ClientAction]) -> [ClientRequest] {
    var requests: [ClientRequest] = []
    for action in actions {
        guard case .send(var buffer) = action else { continue }
        while let length = buffer.readInteger(as: Int32.self) {
            guard length >= 0, var frame = buffer.readSlice(length: Int(length)) else {
                Issue.record("a truncated frame in a .send")
                break
            }
            // A connect request starts with protocolVersion 0; requests start with their xid.
            guard frame.getInteger(at: frame.readerIndex, as: Int32.self) != 0 else { continue }
            guard let request = try? ClientRequest.decode(from: &frame) else {
                Issue.record("an undecodable request frame")
                continue
            }
            requests.append(request)
        }
    }
    return requests
}

func completions(_ actions: [ClientAction]) -> [(RequestID, Result<Reply, ZooKeeperError>)] {
    actions.compactMap { if case .complete(let id, let result) = $0 { return (id, result) } else { return nil } }
}

func states(_ actions: [ClientAction]) -> [ConnectionState] {
    actions.compactMap { if case .state(let state) = $0 { return state } else { return nil } }
}

@Suite struct ClientCoreTests {
    @Test func requestsSubmittedTogetherLeaveInOneBufferInOrder() {
        var h = CoreHarness()
        _ = h.establish()
        for id in 1...5 { h.core.submit(PendingRequest(id: RequestID(id), opCode: .getData, body: .getData(path: "/n\(id)", watch: false)), now: h.now) }
        let actions = h.take()
        let sends = actions.filter { if case .send = $0 { return true } else { return false } }
        #expect(sends.count == 1)
        let sent = sentRequests(actions)
        #expect(sent.map(\.xid) == [1, 2, 3, 4, 5])
        #expect(sent.map { if case .getData(let path, _) = $0.body { return path } else { return "" } } == (1...5).map { "/n\($0)" })
    }

    @Test func handshakeThenRequestsAreAnsweredInOrder() {
        var h = CoreHarness()
        let queuedEarly = h.submit(1, .exists, .exists(path: "/a", watch: false))
        #expect(sentRequests(queuedEarly).isEmpty)  // waits for the session
        let established = h.establish()
        #expect(states(established) == [.connected])
        let sent = sentRequests(established)
        #expect(sent.map(\.opCode) == [.exists] && sent[0].xid == 1)
        _ = h.submit(2, .getData, .getData(path: "/b", watch: false))
        var stat = Stat()
        stat.version = 4
        let answered = h.serverSends([reply(xid: 1, zxid: 10, .stat(stat)), reply(xid: 2, zxid: 11, err: .noNode)])
        let done = completions(answered)
        #expect(done.map(\.0) == [1, 2])
        if case .success(let reply) = done[0].1 { #expect(reply.body == .stat(stat)) } else { Issue.record("exists failed") }
        if case .failure(let error) = done[1].1 { #expect(error.code == .noNode) } else { Issue.record("getData succeeded") }
        #expect(h.core.lastZxidSeen == 11)
    }

    @Test func getDataValuesLeaveTheCoreInTheReadBufferAndCopyOutWhole() {
        var h = CoreHarness()
        _ = h.establish()
        for id in 1...3 { _ = h.submit(RequestID(id), .getData, .getData(path: "/v\(id)", watch: false)) }
        var stat = Stat()
        stat.version = 7
        let value = (0..<1500).map { UInt8(truncatingIfNeeded: $0) }
        let done = completions(h.serverSends([
            reply(xid: 1, zxid: 4, .getData(data: value, stat: stat)), reply(xid: 2, zxid: 5, .getData(data: nil, stat: stat)),
            reply(xid: 3, zxid: 6, .getData(data: [], stat: stat)),
        ]))
        let read = done.map { if case .success(let reply) = $0.1 { return reply.getData } else { return nil } }
        #expect(read.count == 3)
        #expect(read[0]?.data == value && read[0]?.stat == stat)
        #expect(read[1]?.data == nil && read[1]?.stat == stat)
        #expect(read[2]?.data == [] && read[2]?.stat == stat)
    }

    @Test func aGetDataReplyWhoseValueOverrunsItsFrameIsAMarshallingErrorAndDropsTheConnection() {
        var h = CoreHarness()
        _ = h.establish()
        _ = h.submit(1, .getData, .getData(path: "/v", watch: false))
        var frame = ByteBuffer()
        ReplyHeader(xid: 1, zxid: 4, err: 0).encode(into: &frame)
        frame.writeInteger(Int32(100))  // a 100-byte value with 10 bytes after it
        frame.writeBytes([UInt8](repeating: 1, count: 10))
        let actions = h.serverSends([frame])
        let done = completions(actions)
        #expect(done.count == 1)
        if case .failure(let error) = done.first?.1 { #expect(error.code == .marshallingError) } else { Issue.record("a truncated value was accepted") }
        #expect(actions.contains { if case .closeConnection = $0 { return true } else { return false } })
    }

    @Test func aReplyOutOfOrderDropsTheConnectionAndFailsWhatWasInFlight() {
        var h = CoreHarness()
        _ = h.establish()
        _ = h.submit(1, .sync, .sync(path: "/"))
        _ = h.submit(2, .sync, .sync(path: "/"))
        let actions = h.serverSends([reply(xid: 2, zxid: 5, .sync(path: "/"))])
        #expect(actions.contains { if case .closeConnection = $0 { return true } else { return false } })
        let failed = completions(actions)
        #expect(failed.map(\.0) == [1, 2])
        #expect(failed.allSatisfy { if case .failure(let e) = $0.1 { return e.code == .connectionLoss } else { return false } })
        #expect(states(actions) == [.suspended])
    }

    @Test func reconnectingResetsWatchesWithTheLastZxidAndKeepsTheSession() {
        var h = CoreHarness()
        _ = h.establish(sessionId: 0x55)
        _ = h.submit(1, .getData, .getData(path: "/d", watch: true), watch: (.data, "/d", 100))
        _ = h.submit(2, .exists, .exists(path: "/e", watch: true), watch: (.exist, "/e", 101))
        _ = h.submit(3, .getChildren2, .getChildren(opCode: .getChildren2, path: "/c", watch: true), watch: (.child, "/c", 102))
        _ = h.serverSends([reply(xid: 1, zxid: 20, .getData(data: [1], stat: Stat())), reply(xid: 2, zxid: 21, err: .noNode),
                           reply(xid: 3, zxid: 22, .children2(["x"], stat: Stat()))])
        h.core.disconnected(now: h.now)
        #expect(states(h.take()) == [.suspended])
        // The next host; the ConnectRequest carries the session and the last zxid.
        var connecting = h.tick()
        h.core.connected(now: h.now)
        connecting += h.take()
        let hosts = connecting.compactMap { if case .connect(let host) = $0 { return host.host } else { return nil } }
        #expect(hosts == ["h1"])
        var connectFrame: ByteBuffer?
        for action in connecting { if case .send(let buffer) = action { connectFrame = buffer } }
        var frame = connectFrame!
        frame.moveReaderIndex(forwardBy: 4)
        let request = try? ConnectRequest(from: &frame)
        #expect(request?.sessionId == 0x55 && request?.lastZxidSeen == 22)
        var response = ByteBuffer()
        ConnectResponse(timeoutMs: 9000, sessionId: 0x55, password: Array(repeating: 7, count: 16)).encode(into: &response)
        let resumed = h.serverSends([response])
        #expect(states(resumed) == [.connected])
        let setWatches = sentRequests(resumed).first { $0.opCode == .setWatches2 }
        guard case .setWatches(_, let watches)? = setWatches?.body else { Issue.record("no setWatches2"); return }
        #expect(watches.relativeZxid == 22 && watches.dataWatches == ["/d"] && watches.existWatches == ["/e"]
                && watches.childWatches == ["/c"])
        // Events still reach the watchers, once each.
        let events = h.serverSends([notification(.nodeDataChanged, "/d"), notification(.nodeDataChanged, "/d")])
        let fired = events.compactMap { if case .watch(let id, let event, let final) = $0 { return (id, event.type, final) } else { return nil } }
        #expect(fired.count == 1 && fired[0].0 == 100 && fired[0].2)
    }

    /// removeWatches answered ok: the removed watches end here with ZooKeeper's ...WatchRemoved
    /// events, the others stay, and a reconnect does not set the removed ones again.
    @Test func removeWatchesEndsTheRemovedWatchesHereAndAReconnectLeavesThemOut() {
        var h = CoreHarness()
        _ = h.establish(sessionId: 0x77)
        _ = h.submit(1, .getData, .getData(path: "/d", watch: true), watch: (.data, "/d", 100))
        _ = h.submit(2, .exists, .exists(path: "/e", watch: true), watch: (.exist, "/e", 101))
        _ = h.submit(3, .getChildren2, .getChildren(opCode: .getChildren2, path: "/d", watch: true), watch: (.child, "/d", 102))
        _ = h.submit(4, .addWatch, .addWatch(path: "/d", mode: AddWatchMode.persistent.rawValue), persistent: ("/d", false, 103))
        _ = h.submit(5, .addWatch, .addWatch(path: "/r", mode: AddWatchMode.persistentRecursive.rawValue), persistent: ("/r", true, 104))
        _ = h.serverSends([reply(xid: 1, zxid: 5, .getData(data: [1], stat: Stat())), reply(xid: 2, zxid: 5, err: .noNode),
                           reply(xid: 3, zxid: 5, .children2([], stat: Stat())), reply(xid: 4, zxid: 5, .errorResponse(0)),
                           reply(xid: 5, zxid: 5, .errorResponse(0))])
        func removed(_ actions: [ClientAction]) -> [String] {
            actions.compactMap { if case .watch(let id, let event, let final) = $0 { return "\(id) \(event.type) \(event.path) \(final)" } else { return nil } }
        }
        // Data on /d: the getData watch only (the child and persistent watches stay).
        _ = h.submit(6, .removeWatches, .removeWatches(path: "/d", type: WatcherType.data.rawValue))
        #expect(removed(h.serverSends([reply(xid: 6, zxid: 5)])) == ["100 dataWatchRemoved /d true"])
        // A refusal (NoWatcher) removes nothing here.
        _ = h.submit(7, .removeWatches, .removeWatches(path: "/e", type: WatcherType.children.rawValue))
        #expect(removed(h.serverSends([reply(xid: 7, zxid: 5, err: .noWatcher)])).isEmpty)
        // Any on /d: the child watch and the persistent one.
        _ = h.submit(8, .removeWatches, .removeWatches(path: "/d", type: WatcherType.any.rawValue))
        #expect(removed(h.serverSends([reply(xid: 8, zxid: 5)])) == ["102 childWatchRemoved /d true", "103 persistentWatchRemoved /d true"])
        // Events on /d reach nobody now; the exist watch on /e and the recursive one on /r remain.
        #expect(removed(h.serverSends([notification(.nodeDataChanged, "/d")])).isEmpty)
        h.core.disconnected(now: h.now)
        _ = h.take()
        _ = h.tick()
        h.core.connected(now: h.now)
        _ = h.take()
        var response = ByteBuffer()
        ConnectResponse(timeoutMs: 9000, sessionId: 0x77, password: Array(repeating: 7, count: 16)).encode(into: &response)
        let resumed = h.serverSends([response])
        let setWatches = sentRequests(resumed).first { $0.opCode == .setWatches2 }
        guard case .setWatches(_, let watches)? = setWatches?.body else { Issue.record("no setWatches2"); return }
        #expect(watches.dataWatches.isEmpty && watches.childWatches.isEmpty && watches.persistentWatches.isEmpty)
        #expect(watches.existWatches == ["/e"] && watches.persistentRecursiveWatches == ["/r"])
        h.core.checkInvariants()
    }

    @Test func anExpiredSessionEndsEverything() {
        var h = CoreHarness()
        _ = h.establish()
        _ = h.submit(1, .getData, .getData(path: "/d", watch: true), watch: (.data, "/d", 9))
        _ = h.serverSends([reply(xid: 1, zxid: 3, .getData(data: nil, stat: Stat()))])
        _ = h.submit(2, .sync, .sync(path: "/"))
        h.core.disconnected(now: h.now)
        _ = h.take()
        var actions = h.tick()
        h.core.connected(now: h.now)
        actions += h.take()
        var response = ByteBuffer()
        ConnectResponse(timeoutMs: 0, sessionId: 0, password: Array(repeating: 0, count: 16)).encode(into: &response)
        let expired = h.serverSends([response])
        #expect(states(expired) == [.expired])
        #expect(expired.contains { if case .endWatch(9, let e) = $0 { return e.code == .sessionExpired } else { return false } })
        _ = h.submit(3, .sync, .sync(path: "/"))
        let refused = completions(h.log.suffix(1))
        #expect(refused.count == 1)
        if case .failure(let e) = refused[0].1 { #expect(e.code == .sessionExpired) } else { Issue.record("request after expiry") }
    }

    @Test func pingsWhenIdleAndGivesUpOnASilentServer() {
        var h = CoreHarness(timeoutMs: 9000)
        _ = h.establish(timeoutMs: 9000)
        let pings = sentRequests(h.tick(3000))
        #expect(pings.map(\.xid) == [SpecialXid.ping])
        // No reply for 2/3 of the session timeout: the connection is dropped, the next host tried.
        let dropped = h.tick(3000)
        #expect(dropped.contains { if case .closeConnection = $0 { return true } else { return false } })
        #expect(states(dropped) == [.suspended])
        // Without a server for the whole session timeout the session is considered lost.
        var lost: [ConnectionState] = []
        for _ in 0..<40 {
            let actions = h.tick(250)
            lost += states(actions)
            for action in actions { if case .connect = action { h.core.disconnected(now: h.now); _ = h.take() } }
        }
        #expect(lost == [.lost])
    }

    @Test func everyHostIsTriedThenAPause() {
        var h = CoreHarness(hosts: 3)
        var tried: [String] = []
        for _ in 0..<6 {
            for action in h.tick(10) {
                if case .connect(let host) = action {
                    tried.append(host.host)
                    h.core.disconnected(now: h.now)
                    _ = h.take()
                }
            }
        }
        #expect(tried == ["h0", "h1", "h2"])  // then the pause
        _ = h.tick(1000)
        #expect(h.log.filter { if case .connect = $0 { return true } else { return false } }.count == 4)
    }

    @Test func outstandingRequestsAreBounded() {
        var limits = ClientLimits()
        limits.outstandingRequestsMax = 3
        var h = CoreHarness(limits: limits)
        for id in 1...4 { _ = h.submit(RequestID(id), .sync, .sync(path: "/")) }
        let refused = completions(h.log)
        #expect(refused.map(\.0) == [4])
        #expect(h.core.outstandingCount == 3)
    }

    @Test func hostileRepliesCloseTheConnectionNeverCrash() {
        var generator = SplitMix64(seed: 42)
        for _ in 0..<300 {
            var h = CoreHarness()
            _ = h.establish()
            _ = h.submit(1, .getData, .getData(path: "/d", watch: false))
            var bytes = ByteBuffer()
            let count = Int(generator.next() % 64)
            for _ in 0..<count { bytes.writeInteger(UInt8(truncatingIfNeeded: generator.next())) }
            h.core.received(&bytes, now: h.now)
            _ = h.take()
        }
        var h = CoreHarness()
        _ = h.establish()
        var huge = ByteBuffer()
        huge.writeInteger(Int32.max)
        h.core.received(&huge, now: h.now)
        #expect(h.take().contains { if case .closeConnection = $0 { return true } else { return false } })
    }
}

@Suite struct ConnectStringTests {
    @Test func parsesHostsPortsAndChroot() throws {
        let parsed = try ConnectString("a:1, b ,[::1]:3/app/x")
        #expect(parsed.hosts == [.init(host: "a", port: 1), .init(host: "b", port: 2181), .init(host: "::1", port: 3)])
        #expect(parsed.chroot == "/app/x")
        #expect(parsed.serverPath("/") == "/app/x" && parsed.serverPath("/q") == "/app/x/q")
        #expect(parsed.clientPath("/app/x") == "/" && parsed.clientPath("/app/x/q") == "/q")
        #expect(try ConnectString("h:2/").chroot == nil)
        for bad in ["", "/app", "h:0", "h:99999", "h:x", "[::1", "h/bad/"] {
            #expect(throws: ZooKeeperError.self, "\(bad)") { try ConnectString(bad) }
        }
    }
}
