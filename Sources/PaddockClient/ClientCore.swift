import DequeModule
import NIOCore
import ZKBase
import ZKWire

/// Every bound of the client in one place.
public struct ClientLimits: Sendable, Hashable {
    /// Requests submitted and not yet answered (queued while connecting, then in flight).
    public var outstandingRequestsMax = 100_000
    /// A reply frame longer than this closes the connection (ZooKeeper's jute.maxbuffer + headroom).
    public var replyBytesMax = 0xfffff + 1024
    /// Pause after every host of the connect string has failed once, before the next round.
    public var reconnectPauseMs: Int64 = 1000
    /// The most submissions whose array the mailbox keeps for reuse (a larger burst's is freed).
    public var reusedSubmissionCapacityMax = 1024

    public init() {}
}

/// A request as the core keeps it until its reply.
struct PendingRequest: Sendable {
    var id: RequestID
    var opCode: OpCode
    var body: RequestBody
    /// The one-shot watch the reply leaves when it succeeds (ZooKeeper's WatchRegistration).
    var watch: (kind: WatchKind, path: String, watcher: WatcherID)?
    /// A persistent watch `addWatch` leaves when it succeeds.
    var persistentWatch: (path: String, recursive: Bool, watcher: WatcherID)?
    var xid: Int32 = 0
}

/// A reply as the core hands it to the shell.
struct Reply: Sendable {
    var zxid: Int64
    var body: ResponseBody
    /// A getData reply's value, still in the read buffer (`body` then holds a nil value): the
    /// calling task copies it out on its own thread. Made on the event loop and freed by the
    /// caller's thread, a 1 KiB array (above malloc's per-thread cache) took the loop thread's
    /// arena lock on both sides: a futex call for every second reply at 100 in flight.
    var value: ByteBuffer? = nil

    /// getData's value and stat, when this is a getData reply.
    var getData: (data: [UInt8]?, stat: Stat)? {
        guard case .getData(let data, let stat) = body else { return nil }
        guard let value else { return (data, stat) }
        return (value.getBytes(at: value.readerIndex, length: value.readableBytes), stat)
    }
}

/// What the core asks the shell to do.
enum ClientAction: Sendable {
    case connect(ConnectString.Host)
    case send(ByteBuffer)
    case closeConnection
    case complete(RequestID, Result<Reply, ZooKeeperError>)
    /// A watch event for one watcher; `final` when the watcher is done (one-shot, or the end).
    case watch(WatcherID, WatchEvent, final: Bool)
    /// A watcher ends without an event (session expired or closed): its stream finishes.
    case endWatch(WatcherID, ZooKeeperError)
    case state(ConnectionState)
}

/// The client side of one ZooKeeper session as a value (no sockets, clocks or randomness):
/// inputs are connection events, reply frames, submitted requests and monotonic time in ms;
/// outputs are `ClientAction`s. It keeps ZooKeeper's client rules (ClientCnxn): replies come
/// in request order (FIFO); watches are registered when their read succeeds and re-set with
/// setWatches2 and the last zxid seen on every new connection, so reads never go back in
/// time; requests in flight when a connection drops fail with ConnectionLoss (their outcome
/// is unknown); a server that answers the session with a timeout of 0 says it has expired.
struct ClientCore {
    enum Phase: Equatable {
        /// No connection; the next attempt is due at `due`.
        case waiting(due: Int64)
        /// TCP connect in progress to `hosts[hostIndex]` since `since`.
        case connecting(since: Int64)
        /// ConnectRequest sent, waiting for the ConnectResponse.
        case handshaking(since: Int64)
        case connected
        /// closeSession sent; the connection closes at its reply or after a bound.
        case closing(since: Int64)
        case ended
    }

    let connect: ConnectString
    let requestedTimeoutMs: Int32
    let limits: ClientLimits
    private(set) var phase: Phase = .waiting(due: 0)
    private(set) var state: ConnectionState = .connecting
    private(set) var sessionId: Int64 = 0
    private var password = [UInt8](repeating: 0, count: 16)
    private(set) var negotiatedTimeoutMs: Int32
    private(set) var lastZxidSeen: Int64 = 0
    private var nextXid: Int32 = 1
    private var hostIndex = -1
    private var attemptsThisRound = 0
    private var queued: Deque<PendingRequest> = []
    private var inFlight: Deque<PendingRequest> = []
    private var lastSentMs: Int64 = 0
    private var lastReceivedMs: Int64 = 0
    /// When the last connection was lost (for `lost`).
    private var disconnectedSinceMs: Int64?
    private var framing: ClientFraming
    /// One-shot watchers by server path.
    private var watchers: [WatchKind: [String: Set<WatcherID>]] = [.data: [:], .exist: [:], .child: [:]]
    private var persistentWatchers: [String: Set<WatcherID>] = [:]
    private var recursiveWatchers: [String: Set<WatcherID>] = [:]
    private var authentications: [(scheme: String, auth: [UInt8])] = []
    private let allocator = ByteBufferAllocator()
    private(set) var actions: [ClientAction] = []

    init(connect: ConnectString, sessionTimeoutMs: Int32, limits: ClientLimits = ClientLimits()) {
        precondition(!connect.hosts.isEmpty, "a connect string names at least one host")
        self.connect = connect
        self.requestedTimeoutMs = sessionTimeoutMs
        self.negotiatedTimeoutMs = sessionTimeoutMs
        self.limits = limits
        self.framing = ClientFraming(frameBytesMax: limits.replyBytesMax)
    }

    mutating func takeActions() -> [ClientAction] {
        defer { actions.removeAll(keepingCapacity: true) }
        return actions
    }

    var outstandingCount: Int { queued.count + inFlight.count }

    // MARK: - Inputs

    /// Time passes: connection attempts, pings, read timeouts, the session's `lost` mark.
    mutating func tick(now: Int64) {
        switch phase {
        case .waiting(let due):
            if now >= due { startAttempt(now: now) }
        case .connecting(let since), .handshaking(let since):
            if now - since >= connectTimeoutMs { connectionLost(now: now, reason: "connect timed out") }
        case .connected:
            if now - lastReceivedMs >= readTimeoutMs {
                connectionLost(now: now, reason: "no reply for \(now - lastReceivedMs) ms")
            } else if now - lastSentMs >= Int64(negotiatedTimeoutMs) / 3 {
                sendFrame(ClientRequest(xid: SpecialXid.ping, opCodeRaw: OpCode.ping.rawValue, body: .ping), now: now)
            }
        case .closing(let since):
            if now - since >= Int64(negotiatedTimeoutMs) { finish(.closed, error: Self.closedError) }
        case .ended:
            break
        }
        if let since = disconnectedSinceMs, state == .suspended, now - since >= Int64(negotiatedTimeoutMs) {
            setState(.lost)
        }
    }

    /// The TCP connection to the host asked for is up.
    mutating func connected(now: Int64) {
        guard case .connecting = phase else { return }
        phase = .handshaking(since: now)
        framing = ClientFraming(frameBytesMax: limits.replyBytesMax)
        let request = ConnectRequest(
            protocolVersion: 0, lastZxidSeen: lastZxidSeen, timeoutMs: requestedTimeoutMs, sessionId: sessionId,
            password: password, readOnly: false)
        actions.append(.send(ClientFraming.connectFrame(request, allocator: allocator)))
        lastSentMs = now
    }

    /// The connection failed or closed.
    mutating func disconnected(now: Int64) {
        switch phase {
        case .connecting, .handshaking, .connected:
            connectionLost(now: now, reason: "connection closed")
        case .closing:
            finish(.closed, error: Self.closedError)
        case .waiting, .ended:
            break
        }
    }

    /// Bytes from the server.
    mutating func received(_ bytes: inout ByteBuffer, now: Int64) {
        framing.append(&bytes)
        while true {
            let frame: ByteBuffer?
            do {
                frame = try framing.nextFrame()
            } catch {
                return connectionLost(now: now, reason: "\(error)")
            }
            guard var frame else { break }
            lastReceivedMs = now
            switch phase {
            case .handshaking:
                handshake(&frame, now: now)
            case .connected, .closing:
                reply(&frame, now: now)
            case .waiting, .connecting, .ended:
                return
            }
            if case .waiting = phase { return }
            if case .ended = phase { return }
        }
        framing.compact()
    }

    /// A request from the application.
    mutating func submit(_ request: PendingRequest, now: Int64) {
        if case .ended = phase {
            return actions.append(.complete(request.id, .failure(endedError)))
        }
        if case .closing = phase {
            return actions.append(.complete(request.id, .failure(Self.closedError)))
        }
        guard outstandingCount < limits.outstandingRequestsMax else {
            return actions.append(.complete(request.id, .failure(ZooKeeperError(.apiError, "more than \(limits.outstandingRequestsMax) requests outstanding"))))
        }
        if case .auth(_, let scheme, let auth) = request.body { authentications.append((scheme, auth)) }
        if phase == .connected {
            send(request, now: now)
        } else {
            queued.append(request)
        }
    }

    /// Ends the session: closeSession, then the connection.
    mutating func close(now: Int64) {
        switch phase {
        case .connected:
            phase = .closing(since: now)
            sendFrame(ClientRequest(xid: takeXid(), opCodeRaw: OpCode.closeSession.rawValue, body: .closeSession), now: now)
        case .ended, .closing:
            break
        case .waiting, .connecting, .handshaking:
            actions.append(.closeConnection)
            finish(.closed, error: Self.closedError)
        }
    }

    /// What the core holds, for diagnosing a stuck caller: phase, requests in flight and queued,
    /// the paths watched.
    var debugDescription: String {
        let flying = inFlight.map { "\($0.xid):\($0.opCode)" }.joined(separator: ",")
        let waiting = queued.map { "\($0.opCode)" }.joined(separator: ",")
        let watched = watchers.flatMap { kind, paths in paths.keys.map { "\(kind):\($0)" } }.sorted().joined(separator: ",")
        return "session 0x\(String(UInt64(bitPattern: sessionId), radix: 16)) \(state) phase \(phase) inFlight [\(flying)] queued [\(waiting)] watches [\(watched)] lastZxidSeen 0x\(String(UInt64(bitPattern: lastZxidSeen), radix: 16))"
    }

    /// Drops the connection without ending the session at the server (what a crashed process
    /// leaves behind: its session lives until it expires there). For tests of recipes.
    mutating func abandon() {
        actions.append(.closeConnection)
        finish(.closed, error: ZooKeeperError(.connectionLoss, "the client was abandoned"))
    }

    /// The application no longer wants a watcher's events.
    mutating func dropWatcher(_ watcher: WatcherID) {
        for kind in [WatchKind.data, .exist, .child] {
            for (path, set) in watchers[kind]! where set.contains(watcher) { remove(watcher, kind: kind, path: path) }
        }
        for (path, set) in persistentWatchers where set.contains(watcher) {
            persistentWatchers[path]!.remove(watcher)
            if persistentWatchers[path]!.isEmpty { persistentWatchers[path] = nil }
        }
        for (path, set) in recursiveWatchers where set.contains(watcher) {
            recursiveWatchers[path]!.remove(watcher)
            if recursiveWatchers[path]!.isEmpty { recursiveWatchers[path] = nil }
        }
    }

    // MARK: - Connection

    /// How long one connection attempt may take (the session timeout shared by the hosts).
    var connectTimeoutMs: Int64 { max(1000, Int64(requestedTimeoutMs) / Int64(max(1, connect.hosts.count))) }
    private var readTimeoutMs: Int64 { Int64(negotiatedTimeoutMs) * 2 / 3 }

    private mutating func startAttempt(now: Int64) {
        hostIndex = (hostIndex + 1) % connect.hosts.count
        attemptsThisRound += 1
        phase = .connecting(since: now)
        actions.append(.connect(connect.hosts[hostIndex]))
    }

    private mutating func connectionLost(now: Int64, reason: String) {
        actions.append(.closeConnection)
        let error = ZooKeeperError(.connectionLoss, reason)
        while let request = inFlight.popFirst() { actions.append(.complete(request.id, .failure(error))) }
        while let request = queued.popFirst() { actions.append(.complete(request.id, .failure(error))) }
        if state == .connected {
            disconnectedSinceMs = now
            setState(.suspended)
        }
        // Every host once, then a pause (ZooKeeper's client sleeps up to a second too).
        if attemptsThisRound >= connect.hosts.count {
            attemptsThisRound = 0
            phase = .waiting(due: now + limits.reconnectPauseMs)
        } else {
            phase = .waiting(due: now)
        }
    }

    private mutating func handshake(_ frame: inout ByteBuffer, now: Int64) {
        guard let response = try? ConnectResponse(from: &frame) else {
            return connectionLost(now: now, reason: "malformed ConnectResponse")
        }
        guard response.timeoutMs > 0 else {
            actions.append(.closeConnection)
            return finish(.expired, error: ZooKeeperError(.sessionExpired, "session 0x\(String(UInt64(bitPattern: sessionId), radix: 16)) expired"))
        }
        sessionId = response.sessionId
        password = response.password
        negotiatedTimeoutMs = response.timeoutMs
        phase = .connected
        attemptsThisRound = 0
        disconnectedSinceMs = nil
        lastReceivedMs = now
        setState(.connected)
        // Watches first (the server answers in order, so no reply of a queued read can
        // arrive before its path's watch is back), then credentials, then waiting requests.
        let watches = SetWatchesRequest(
            relativeZxid: lastZxidSeen,
            dataWatches: Array(watchers[.data]!.keys).sorted(), existWatches: Array(watchers[.exist]!.keys).sorted(),
            childWatches: Array(watchers[.child]!.keys).sorted(),
            persistentWatches: Array(persistentWatchers.keys).sorted(),
            persistentRecursiveWatches: Array(recursiveWatchers.keys).sorted())
        if !(watches.dataWatches.isEmpty && watches.existWatches.isEmpty && watches.childWatches.isEmpty
            && watches.persistentWatches.isEmpty && watches.persistentRecursiveWatches.isEmpty) {
            sendFrame(ClientRequest(xid: SpecialXid.setWatches, opCodeRaw: OpCode.setWatches2.rawValue,
                                    body: .setWatches(opCode: .setWatches2, watches)), now: now)
        }
        let waiting = queued
        queued.removeAll()
        for (scheme, auth) in authentications where !waiting.contains(where: { request in
            if case .auth(_, let s, let a) = request.body { return s == scheme && a == auth } else { return false }
        }) {
            sendFrame(ClientRequest(xid: SpecialXid.auth, opCodeRaw: OpCode.auth.rawValue, body: .auth(type: 0, scheme: scheme, auth: auth)), now: now)
        }
        for request in waiting { send(request, now: now) }
    }

    private mutating func reply(_ frame: inout ByteBuffer, now: Int64) {
        guard let header = try? ReplyHeader(from: &frame) else {
            return connectionLost(now: now, reason: "malformed ReplyHeader")
        }
        if header.zxid > 0 { lastZxidSeen = max(lastZxidSeen, header.zxid) }
        switch header.xid {
        case SpecialXid.notification:
            guard let event = try? WatcherEvent(from: &frame) else { return connectionLost(now: now, reason: "malformed WatcherEvent") }
            return deliver(event)
        case SpecialXid.ping, SpecialXid.setWatches:
            return
        case SpecialXid.auth:
            if header.err == ErrorCode.authFailed.rawValue {
                actions.append(.closeConnection)
                finish(.closed, error: ZooKeeperError(.authFailed, "the server refused the credentials"))
            }
            return
        default:
            break
        }
        if case .closing = phase, inFlight.isEmpty {
            actions.append(.closeConnection)
            return finish(.closed, error: Self.closedError)
        }
        guard let request = inFlight.first, request.xid == header.xid else {
            return connectionLost(now: now, reason: "reply xid \(header.xid) out of order (expected \(inFlight.first?.xid ?? 0))")
        }
        inFlight.removeFirst()
        let code = ErrorCode(rawValue: header.err) ?? .systemError
        registerWatch(request, code: code)
        if code == .ok, case .removeWatches(let path, let rawType) = request.body, let type = WatcherType(rawValue: rawType) {
            removeLocalWatches(path: path, type: type)
        }
        if code != .ok {
            var error = ZooKeeperError(code, describe(request))
            if request.opCode == .multi || request.opCode == .multiRead,
               case .multi(let results)? = try? ResponseBody.decode(opCode: request.opCode, from: &frame) {
                error.multiResults = results.map { OperationResult($0, connect) }
            }
            return actions.append(.complete(request.id, .failure(error)))
        }
        let decodeAs: OpCode = request.opCode == .createContainer || request.opCode == .createTTL ? .create2 : request.opCode
        do {
            let reply: Reply
            if decodeAs == .getData {
                let value = try frame.readJuteBufferSlice("GetDataResponse.data")
                reply = Reply(zxid: header.zxid, body: .getData(data: nil, stat: try Stat(from: &frame)), value: value)
            } else {
                reply = Reply(zxid: header.zxid, body: try ResponseBody.decode(opCode: decodeAs, from: &frame))
            }
            actions.append(.complete(request.id, .success(reply)))
        } catch {
            actions.append(.complete(request.id, .failure(ZooKeeperError(.marshallingError, "reply to \(request.opCode) does not decode: \(error)"))))
            connectionLost(now: now, reason: "undecodable reply")
        }
    }

    private func describe(_ request: PendingRequest) -> String {
        switch request.body {
        case .create(_, let create): return "\(request.opCode) \(connect.clientPath(create.path))"
        case .delete(let path, _), .exists(let path, _), .getData(let path, _), .setData(let path, _, _),
            .getACL(let path), .setACL(let path, _, _), .getChildren(_, let path, _), .sync(let path),
            .check(let path, _), .getAllChildrenNumber(let path), .addWatch(let path, _), .removeWatches(let path, _),
            .checkWatches(let path, _), .getEphemerals(let path):
            return "\(request.opCode) \(connect.clientPath(path))"
        default:
            return "\(request.opCode)"
        }
    }

    private mutating func send(_ request: PendingRequest, now: Int64) {
        var request = request
        request.xid = request.opCode == .auth ? SpecialXid.auth : takeXid()
        if request.opCode == .auth {
            // Auth replies come with xid -4 outside the FIFO: the request completes once sent.
            sendFrame(ClientRequest(xid: request.xid, opCodeRaw: OpCode.auth.rawValue, body: request.body), now: now)
            return actions.append(.complete(request.id, .success(Reply(zxid: 0, body: .empty))))
        }
        sendFrame(ClientRequest(xid: request.xid, opCodeRaw: request.opCode.rawValue, body: request.body), now: now)
        inFlight.append(request)
    }

    /// Frames sent together go out in one buffer: a frame joins the previous `.send` when that
    /// is the last action.
    private mutating func sendFrame(_ request: ClientRequest, now: Int64) {
        lastSentMs = now
        if case .send = actions.last, case .send(var buffer) = actions.removeLast() {
            ClientFraming.writeRequestFrame(request, into: &buffer)
            return actions.append(.send(buffer))
        }
        actions.append(.send(ClientFraming.requestFrame(request, allocator: allocator, capacity: 128)))
    }

    private mutating func takeXid() -> Int32 {
        defer { nextXid = nextXid == Int32.max ? 1 : nextXid + 1 }
        return nextXid
    }

    private mutating func setState(_ new: ConnectionState) {
        guard new != state else { return }
        state = new
        actions.append(.state(new))
    }

    private static let closedError = ZooKeeperError(.sessionExpired, "the session was closed by this client")
    private var endedError: ZooKeeperError {
        state == .expired ? ZooKeeperError(.sessionExpired, "the session has expired") : Self.closedError
    }

    /// The session is over: everything outstanding fails, every watcher ends.
    private mutating func finish(_ final: ConnectionState, error: ZooKeeperError) {
        phase = .ended
        while let request = inFlight.popFirst() { actions.append(.complete(request.id, .failure(error))) }
        while let request = queued.popFirst() { actions.append(.complete(request.id, .failure(error))) }
        var ended = Set<WatcherID>()
        for kind in [WatchKind.data, .exist, .child] { for set in watchers[kind]!.values { ended.formUnion(set) } }
        for set in persistentWatchers.values { ended.formUnion(set) }
        for set in recursiveWatchers.values { ended.formUnion(set) }
        watchers = [.data: [:], .exist: [:], .child: [:]]
        persistentWatchers = [:]
        recursiveWatchers = [:]
        for watcher in ended.sorted() { actions.append(.endWatch(watcher, error)) }
        setState(final)
    }

    // MARK: - Watches

    /// ZooKeeper's rules (ZKWatchManager): exists leaves an exist watch on NoNode and a data
    /// watch on success; getData a data watch, getChildren a child watch, on success only.
    private mutating func registerWatch(_ request: PendingRequest, code: ErrorCode) {
        if let persistent = request.persistentWatch, code == .ok {
            if persistent.recursive {
                recursiveWatchers[persistent.path, default: []].insert(persistent.watcher)
            } else {
                persistentWatchers[persistent.path, default: []].insert(persistent.watcher)
            }
        }
        guard let watch = request.watch else { return }
        var kind: WatchKind?
        switch watch.kind {
        case .exist: kind = code == .ok ? .data : code == .noNode ? .exist : nil
        case .data, .child: kind = code == .ok ? watch.kind : nil
        }
        guard let kind else {
            // The read failed: the watcher will never fire.
            return actions.append(.endWatch(watch.watcher, ZooKeeperError(code, describe(request))))
        }
        watchers[kind]![watch.path, default: []].insert(watch.watcher)
    }

    /// The server removed this session's watches of `type` on `path`: they go here too (else a
    /// reconnect's setWatches2 would put them back), each told with a ...WatchRemoved event and
    /// its sequence ended, as ZooKeeper's Java client does (ZKWatchManager.removeWatcher).
    private mutating func removeLocalWatches(path: String, type: WatcherType) {
        var ended = Set<WatcherID>()
        if type == .children || type == .any {
            endRemoved(watchers[.child]!.removeValue(forKey: path), .childWatchRemoved, path: path, ended: &ended)
        }
        if type == .data || type == .any {
            endRemoved(watchers[.data]!.removeValue(forKey: path), .dataWatchRemoved, path: path, ended: &ended)
            endRemoved(watchers[.exist]!.removeValue(forKey: path), .dataWatchRemoved, path: path, ended: &ended)
        }
        if type == .persistent || type == .any {
            endRemoved(persistentWatchers.removeValue(forKey: path), .persistentWatchRemoved, path: path, ended: &ended)
        }
        if type == .persistentRecursive || type == .any {
            endRemoved(recursiveWatchers.removeValue(forKey: path), .persistentWatchRemoved, path: path, ended: &ended)
        }
    }

    private mutating func endRemoved(_ removed: Set<WatcherID>?, _ type: EventType, path: String, ended: inout Set<WatcherID>) {
        for watcher in (removed ?? []).sorted() where ended.insert(watcher).inserted {
            actions.append(.watch(watcher, WatchEvent(type: type, path: connect.clientPath(path)), final: true))
        }
    }

    private mutating func remove(_ watcher: WatcherID, kind: WatchKind, path: String) {
        watchers[kind]![path]?.remove(watcher)
        if watchers[kind]![path]?.isEmpty == true { watchers[kind]![path] = nil }
    }

    private mutating func deliver(_ wire: WatcherEvent) {
        guard let type = EventType(rawValue: wire.type), type != .none else { return }
        let event = WatchEvent(type: type, path: connect.clientPath(wire.path))
        var oneShot: [WatchKind] = []
        switch type {
        case .nodeCreated, .nodeDataChanged: oneShot = [.data, .exist]
        case .nodeDeleted: oneShot = [.data, .exist, .child]
        case .nodeChildrenChanged: oneShot = [.child]
        default: oneShot = []
        }
        var fired = Set<WatcherID>()
        for kind in oneShot {
            for watcher in (watchers[kind]!.removeValue(forKey: wire.path) ?? []).sorted() where fired.insert(watcher).inserted {
                actions.append(.watch(watcher, event, final: true))
            }
        }
        for watcher in (persistentWatchers[wire.path] ?? []).sorted() where fired.insert(watcher).inserted {
            actions.append(.watch(watcher, event, final: false))
        }
        if type != .nodeChildrenChanged {
            var path = wire.path
            while true {
                for watcher in (recursiveWatchers[path] ?? []).sorted() where fired.insert(watcher).inserted {
                    actions.append(.watch(watcher, event, final: false))
                }
                if path == "/" { break }
                path = PathValidation.parent(of: path)
            }
        }
    }

    /// What `checkInvariants` checks: requests are in exactly one queue, in flight in xid order,
    /// nothing outstanding once the session ended, the bound kept.
    func checkInvariants() {
        precondition(outstandingCount <= limits.outstandingRequestsMax, "more requests outstanding than the bound")
        var last: Int32 = Int32.min
        for request in inFlight {
            precondition(request.xid > last || last == Int32.max, "requests in flight out of xid order")
            last = request.xid
        }
        if case .ended = phase { precondition(inFlight.isEmpty && queued.isEmpty, "requests outstanding after the session ended") }
        if phase != .connected { precondition(inFlight.isEmpty || isClosing, "requests in flight without a connection") }
    }

    private var isClosing: Bool { if case .closing = phase { return true } else { return false } }
}
