import ZKBase
import ZKTree
import ZKWire

public typealias ConnectionID = UInt64

/// Settings the core needs; the shell builds them from zoo.cfg.
public struct CoreConfiguration: Sendable {
    public var tickMs: Int64
    public var minSessionTimeoutMs: Int32
    public var maxSessionTimeoutMs: Int32
    public var extendedTypesEnabled: Bool
    /// `zookeeper.enforceQuota`: a create or setData past a hard quota limit fails with QUOTAEXCEEDED.
    public var enforceQuota: Bool
    /// `super:<base64 sha1>` from DigestAuthenticationProvider.superDigest.
    public var superDigest: String?
    public var serverId: Int64
    /// The x509 authentication provider is registered (`authProvider.N=...X509AuthenticationProvider`):
    /// `x509:<DN>` ACL ids are valid, and connections the shell opens with a certificate subject carry it.
    public var x509Enabled: Bool
    /// `zookeeper.X509AuthenticationProvider.superUser`: the certificate subject DN that is a super user.
    public var x509SuperUser: String?
    /// `zookeeper.nio.sessionlessCnxnTimeout`: a connection that has not sent its ConnectRequest
    /// this long after it was opened is closed (NIOServerCnxnFactory's cnxnExpiryQueue).
    public var sessionlessConnectionTimeoutMs: Int64 = 10_000

    public init(
        tickMs: Int64 = 2000, minSessionTimeoutMs: Int32? = nil, maxSessionTimeoutMs: Int32? = nil,
        extendedTypesEnabled: Bool = false, superDigest: String? = nil, serverId: Int64 = 0, enforceQuota: Bool = false,
        x509Enabled: Bool = false, x509SuperUser: String? = nil
    ) {
        self.x509Enabled = x509Enabled
        self.x509SuperUser = x509SuperUser
        self.enforceQuota = enforceQuota
        self.tickMs = tickMs
        self.minSessionTimeoutMs = minSessionTimeoutMs ?? Int32(tickMs * 2)
        self.maxSessionTimeoutMs = maxSessionTimeoutMs ?? Int32(tickMs * 20)
        self.extendedTypesEnabled = extendedTypesEnabled
        self.superDigest = superDigest
        self.serverId = serverId
    }
}

/// What the shell must do for the core.
public enum CoreOutput: Sendable, Equatable {
    /// Append to the log with the tree digest after it; call `committed(through:)` once durable.
    case persist(Txn, digest: UInt64)
    case connected(ConnectionID, ConnectResponse)
    case reply(ConnectionID, ReplyHeader, ResponseBody)
    /// A reply encoded where it was produced, because its body is bytes of the tree (getData):
    /// send `frame.bytes` as they are.
    case replyFrame(ConnectionID, ReplyFrame)
    case notify(ConnectionID, WatcherEvent)
    /// Close after flushing what was sent before.
    case close(ConnectionID, reason: String)
    /// A create or setData went past a quota's limit (ZooKeeper logs the same line).
    case quotaWarning(String)
    /// Applying a txn gave another digest than prep predicted: prep and apply disagree (a bug);
    /// the shell logs it and counts digest_mismatches_count.
    case digestMismatch(zxid: Int64, expected: UInt64, actual: UInt64)
    /// Leader: a txn for ZAB to propose (it is applied when a quorum has logged it, through
    /// `applyCommitted`), with ZooKeeper's form of the tree digest after it.
    case replicate(Txn, zooKeeperDigest: UInt64)
    /// A request only the leader can carry out: a learner's writes, session creation and close,
    /// and `sync` on any member. Its outcome returns as a committed txn or `syncDone`.
    case forward(ForwardedClientRequest)
    /// Learner: a client of this session was heard from (reported to the leader, which owns expiry).
    case sessionActive(sessionId: Int64, timeoutMs: Int32)
    /// Learner: a client reconnects with this session; is it alive? (REVALIDATE; the answer
    /// comes back through `revalidated`.)
    case revalidate(sessionId: Int64, timeoutMs: Int32)
}

/// How the core takes part in replication (see ServerCore+Replication).
public enum ReplicationMode: Sendable, Equatable {
    /// One server: prep, log, apply when durable.
    case standalone
    /// Established ZAB leader: prep, propose, apply when committed; owns session expiry.
    case leader
    /// Established follower or observer: serves reads, forwards writes, applies what the leader commits.
    case learner
    /// Electing or syncing: no client is served.
    case notServing
}

/// A client request on its way to the leader: ZooKeeper's REQUEST (session, cxid, type, the
/// request record's bytes, the client's identities).
public struct ForwardedClientRequest: Sendable, Equatable {
    public var sessionId: Int64
    public var cxid: Int32
    public var type: Int32
    public var body: [UInt8]
    public var authInfo: [Id]

    public init(sessionId: Int64, cxid: Int32, type: Int32, body: [UInt8], authInfo: [Id]) {
        self.sessionId = sessionId
        self.cxid = cxid
        self.type = type
        self.body = body
        self.authInfo = authInfo
    }
}

/// The standalone server's request pipeline as one value: prep (request -> txn, checked against
/// the tree plus pending txns), the session tracker, and final (apply, reply, notify). Every
/// write leaves as a `.persist` txn and changes the tree only when the shell reports it durable.
/// No I/O, clocks or randomness: time arrives with each input.
public struct ServerCore: Sendable {
    enum Queued: Sendable {
        case connect(zxid: Int64, response: ConnectResponse)
        case write(zxid: Int64, xid: Int32, opCode: OpCode)
        case read(ClientRequest)
        /// A write whose txn the log could not make durable: answered with SystemError, in order.
        case failedWrite(xid: Int32, opCode: OpCode)
        /// Outputs held back until the session exists (ZooKeeper reads nothing before that).
        case deferred([CoreOutput])
        /// A request forwarded to the leader, answered when its txn commits here.
        case forwarded(xid: Int32, opCode: OpCode)
        /// A new session forwarded to the leader, answered when its createSession commits here.
        case forwardedConnect(response: ConnectResponse)
        /// A `sync` sent through the leader, answered by `syncDone`.
        case sync(xid: Int32, path: String)
        /// A reconnecting session the leader is asked about, answered by `revalidated`.
        case revalidating(response: ConnectResponse)
    }

    struct Connection: Sendable {
        var id: ConnectionID
        var address: String
        var sessionId: Int64 = 0
        var authInfo: [Id]
        var queue: [Queued] = []
        var queueHead = 0
        var closing = false
        /// The negotiated session timeout (what a learner reports with the session's activity).
        var timeoutMs: Int32 = 0

        var hasQueued: Bool { queueHead < queue.count }

        mutating func popFront() -> Queued? {
            guard hasQueued else { return nil }
            let item = queue[queueHead]
            queueHead += 1
            if queueHead > 64 && queueHead * 2 > queue.count {
                queue.removeFirst(queueHead)
                queueHead = 0
            }
            return item
        }

        var front: Queued? { hasQueued ? queue[queueHead] : nil }

        /// The front item unless it waits for a txn (a write or connect not yet committed).
        mutating func popFrontUnlessWaiting() -> Queued? {
            guard hasQueued else { return nil }
            switch queue[queueHead] {
            case .write, .connect, .forwarded, .forwardedConnect, .sync, .revalidating: return nil
            case .read, .failedWrite, .deferred: return popFront()
            }
        }
    }

    public let configuration: CoreConfiguration
    public internal(set) var tree: DataTree
    public internal(set) var sessions: SessionTracker
    var pending: PendingChanges
    /// Quota limits prep found passed, for the shell to log (emptied by `propose`).
    var quotaWarnings: [String] = []
    var connections: [ConnectionID: Connection] = [:]
    var connectionBySession: [Int64: ConnectionID] = [:]
    /// Txns handed out for persisting, oldest first, not yet applied, with their predicted digest.
    var proposed: [(txn: Txn, digest: UInt64)] = []
    var proposedHead = 0
    /// zxid -> connection waiting for that write's reply.
    var waitingWrites: [Int64: ConnectionID] = [:]
    public internal(set) var lastProposedZxid: Int64
    public internal(set) var replication: ReplicationMode = .standalone
    /// As leader: the zxid its epoch starts at (counter 0).
    var leaderEpochStartZxid: Int64 = 0
    /// (session, cxid) -> connection waiting for a forwarded request's outcome.
    var waitingForwarded: [ForwardKey: ConnectionID] = [:]
    /// session -> connection waiting for the leader's verdict on its reconnect.
    var waitingRevalidation: [Int64: ConnectionID] = [:]

    struct ForwardKey: Hashable, Sendable {
        var sessionId: Int64
        var cxid: Int32
    }

    public init(configuration: CoreConfiguration, tree: DataTree = DataTree(), initialSessionId: Int64) {
        self.configuration = configuration
        self.tree = tree
        self.sessions = SessionTracker(tickMs: configuration.tickMs, initialSessionId: initialSessionId)
        self.lastProposedZxid = tree.lastProcessedZxid
        self.pending = PendingChanges(digest: tree.digest)
    }

    public internal(set) var digestMismatchCount = 0
    /// Authentication packets refused (ZooKeeper's auth_failed_count).
    public internal(set) var authFailedCount = 0
    /// Sessions `tick` expired (each got a closeSession txn): ZooKeeper's stale_sessions_expired.
    public internal(set) var sessionsExpiredCount = 0
    /// Connections closed because their ConnectRequest did not come in time.
    public internal(set) var sessionlessConnectionsExpiredCount = 0
    /// Open connections still waiting for their ConnectRequest: when they are closed if it does
    /// not come (the shell's monotonic milliseconds).
    var sessionlessDeadlines: [ConnectionID: Int64] = [:]
    /// After a leader's snapshot (fuzzy: it may already hold some txns that follow it) the digest
    /// a txn carries is not compared until one matches: from then on the tree is exact.
    public internal(set) var inFuzzySnapshotWindow = false

    /// Re-arms the sessions found in a recovered tree: each gets a full timeout from now.
    /// Session deadlines run on `nowMs` of a monotonic clock (see `tick`).
    public mutating func trackRecoveredSessions(nowMs: Int64) {
        for (id, timeout) in tree.sessions.sorted(by: { $0.key < $1.key }) {
            sessions.track(id: id, timeoutMs: timeout, nowMs: nowMs)
        }
    }

    public var lastProcessedZxid: Int64 { tree.lastProcessedZxid }
    public var outstandingTxnCount: Int { proposed.count - proposedHead }
    /// Requests forwarded to the leader and not answered yet.
    public var forwardedWaitingCount: Int { waitingForwarded.count }

    /// Whether a client of this server waits for the txn with this header (its request was
    /// forwarded to the leader): the txn is this server's own client's write.
    public func awaitsCommit(of header: TxnHeader) -> Bool {
        waitingForwarded[ForwardKey(sessionId: header.clientId, cxid: header.cxid)] != nil
    }
    /// The zxid of the oldest txn proposed and not yet applied.
    public var oldestProposedZxid: Int64? { proposedHead < proposed.count ? proposed[proposedHead].txn.zxid : nil }
    /// Prep's change records stored, and forgotten once applied (ZooKeeper's
    /// outstanding_changes_queued / outstanding_changes_removed).
    public var outstandingChangesQueued: Int { pending.queuedCount }
    public var outstandingChangesRemoved: Int { pending.removedCount }
    /// The oldest txn proposed and not applied yet (the next `committed(through:)` applies it).
    public var oldestProposedTxn: Txn? { proposedHead < proposed.count ? proposed[proposedHead].txn : nil }
    public var connectionCount: Int { connections.count }

    public func sessionId(of connection: ConnectionID) -> Int64? { connections[connection]?.sessionId }
    public func queuedRequestCount(of connection: ConnectionID) -> Int {
        guard let state = connections[connection] else { return 0 }
        return state.queue.count - state.queueHead
    }

    // MARK: - Connections

    /// A socket was accepted. `certificateSubject` is the RFC 2253 subject DN of the client's TLS
    /// certificate, already verified by the shell; with the x509 provider it becomes an `x509` id
    /// (and a `super` id for the configured super user), as ZooKeeper adds them after the handshake.
    ///
    /// `monotonicMs`: the shell's monotonic clock now. With it, the connection is closed by the
    /// first `tick` at or past `sessionlessConnectionTimeoutMs` later unless its ConnectRequest
    /// came (`sessionlessConnectionsExpiredCount` counts those closes).
    public mutating func connectionOpened(
        _ id: ConnectionID, address: String, certificateSubject: String? = nil, monotonicMs: Int64? = nil
    ) {
        if let monotonicMs { sessionlessDeadlines[id] = monotonicMs + configuration.sessionlessConnectionTimeoutMs }
        var authInfo = [Id(scheme: "ip", id: address)]
        if let certificateSubject, configuration.x509Enabled {
            if certificateSubject == configuration.x509SuperUser { authInfo.append(Id(scheme: "super", id: certificateSubject)) }
            authInfo.append(Id(scheme: "x509", id: certificateSubject))
        }
        connections[id] = Connection(id: id, address: address, authInfo: authInfo)
    }

    /// The socket is gone: its watches go, its session stays until it expires.
    public mutating func connectionClosed(_ id: ConnectionID) {
        sessionlessDeadlines[id] = nil
        guard let connection = connections.removeValue(forKey: id) else { return }
        tree.dataWatches.removeWatcher(id)
        tree.childWatches.removeWatcher(id)
        if connection.sessionId != 0 && connectionBySession[connection.sessionId] == id {
            connectionBySession[connection.sessionId] = nil
        }
        for item in connection.queue[connection.queueHead...] {
            switch item {
            case .write(let zxid, _, _), .connect(let zxid, _): waitingWrites[zxid] = nil
            case .forwarded(let xid, _), .sync(let xid, _):
                // Only this connection's: a newer connection of the session may wait on the same cxid.
                let key = ForwardKey(sessionId: connection.sessionId, cxid: xid)
                if waitingForwarded[key] == id { waitingForwarded[key] = nil }
            case .forwardedConnect:
                let key = ForwardKey(sessionId: connection.sessionId, cxid: 0)
                if waitingForwarded[key] == id { waitingForwarded[key] = nil }
            case .revalidating:
                if waitingRevalidation[connection.sessionId] == id { waitingRevalidation[connection.sessionId] = nil }
            case .read, .failedWrite, .deferred: break
            }
        }
    }

    func negotiatedTimeout(_ requested: Int32) -> Int32 {
        min(max(requested, configuration.minSessionTimeoutMs), configuration.maxSessionTimeoutMs)
    }

    /// `nowMs` is wall time (it goes into the txn header); `monotonicMs`, when given, is what
    /// session deadlines run on, so a step of the wall clock expires no session.
    public mutating func connect(
        _ id: ConnectionID, _ request: ConnectRequest, nowMs: Int64, monotonicMs: Int64? = nil, into outputs: inout [CoreOutput]
    ) {
        let deadlineClockMs = monotonicMs ?? nowMs
        sessionlessDeadlines[id] = nil
        guard var connection = connections[id], connection.sessionId == 0 else {
            outputs.append(.close(id, reason: "second connect request on one connection"))
            return
        }
        if replication == .notServing {
            outputs.append(.close(id, reason: "not serving: this member is electing or syncing with a leader"))
            return
        }
        if request.lastZxidSeen > lastProposedZxid {
            outputs.append(.close(id, reason: "client has seen zxid \(ZxidMath.hex(request.lastZxidSeen)), our last zxid is \(ZxidMath.hex(lastProposedZxid)); client must try another server"))
            return
        }
        let timeout = negotiatedTimeout(request.timeoutMs)
        let readOnlyFlag: Bool? = request.readOnly == nil ? nil : false
        connection.timeoutMs = timeout
        if replication == .learner {
            learnerConnect(&connection, request, timeout: timeout, readOnlyFlag: readOnlyFlag, into: &outputs)
            return
        }
        if request.sessionId == 0 {
            let sessionId = sessions.allocateSessionId()
            sessions.track(id: sessionId, timeoutMs: timeout, nowMs: deadlineClockMs)
            connection.sessionId = sessionId
            let zxid = propose(sessionId: sessionId, cxid: 0, body: .createSession(timeoutMs: timeout), nowMs: nowMs, into: &outputs)
            let response = ConnectResponse(
                timeoutMs: timeout, sessionId: sessionId, password: JavaRandom.sessionPassword(sessionId: sessionId),
                readOnly: readOnlyFlag)
            connection.queue.append(.connect(zxid: zxid, response: response))
            waitingWrites[zxid] = id
            connections[id] = connection
            connectionBySession[sessionId] = id
            return
        }
        let sessionId = request.sessionId
        // As ZooKeeper does (serverCnxnFactory.closeSession before reopenSession): a connect naming a
        // session closes that session's current connection first, whether or not the password is right.
        closePreviousConnection(of: sessionId, keeping: id, into: &outputs)
        let valid = request.password == JavaRandom.sessionPassword(sessionId: sessionId)
            && sessions.touch(id: sessionId, nowMs: deadlineClockMs, timeoutMs: timeout)
        guard valid else {
            refuseSession(id, sessionId, readOnlyFlag: readOnlyFlag, into: &outputs)
            return
        }
        connection.sessionId = sessionId
        connections[id] = connection
        connectionBySession[sessionId] = id
        outputs.append(.connected(id, ConnectResponse(
            timeoutMs: timeout, sessionId: sessionId, password: request.password, readOnly: readOnlyFlag)))
    }

    mutating func closePreviousConnection(of sessionId: Int64, keeping id: ConnectionID, into outputs: inout [CoreOutput]) {
        if let previous = connectionBySession[sessionId], previous != id {
            connectionBySession[sessionId] = nil
            outputs.append(.close(previous, reason: "session \(ZxidMath.hex(sessionId)) reconnected on another connection"))
        }
    }

    /// ZooKeeper's answer to a connect naming a session that is gone (or a wrong password): a
    /// ConnectResponse with timeout 0 and session 0, then the connection closes.
    func refuseSession(_ id: ConnectionID, _ sessionId: Int64, readOnlyFlag: Bool?, into outputs: inout [CoreOutput]) {
        outputs.append(.connected(id, ConnectResponse(timeoutMs: 0, sessionId: 0, password: [UInt8](repeating: 0, count: 16), readOnly: readOnlyFlag)))
        outputs.append(.close(id, reason: "session \(ZxidMath.hex(sessionId)) expired or invalid password"))
    }

    // MARK: - Requests

    // A request is queued on a copy of its connection taken out of `connections`; while the
    // table still holds the original, the queue's storage has two owners and every append copies
    // the whole queue (at 100 requests in flight that copy was 5 % of the server's CPU). So the
    // table's entry is removed before the append and the copy stored back after it.

    public mutating func receive(
        _ id: ConnectionID, _ request: ClientRequest, nowMs: Int64, monotonicMs: Int64? = nil, into outputs: inout [CoreOutput]
    ) {
        guard var connection = connections[id], connection.sessionId != 0, !connection.closing else {
            outputs.append(.close(id, reason: "request before the session was established"))
            return
        }
        let sessionId = connection.sessionId
        if replication == .learner {
            outputs.append(.sessionActive(sessionId: sessionId, timeoutMs: connection.timeoutMs))
        } else {
            sessions.touch(id: sessionId, nowMs: monotonicMs ?? nowMs)
        }
        switch request.body {
        case .auth(_, let scheme, let auth):
            // Applied at once (later pipelined requests run with it), answered at once unless the
            // session's own connect response has not gone out yet.
            var answers: [CoreOutput] = []
            handleAuth(&connection, xid: request.xid, scheme: scheme, auth: auth, into: &answers)
            emitOrDefer(&connection, answers, into: &outputs)
            connections[id] = connection
            return
        case .unknown(let type):
            let answers: [CoreOutput] = [
                .reply(id, ReplyHeader(xid: request.xid, zxid: -1, err: ErrorCode.unimplemented.rawValue), .empty),
                .close(id, reason: "unknown request type \(type)"),
            ]
            emitOrDefer(&connection, answers, into: &outputs)
            connections[id] = connection
            return
        default:
            break
        }
        guard let opCode = request.opCode else { return }
        if replication != .standalone && (replication == .learner || opCode == .sync) {
            // The leader checks the session when it preps; a learner has no expiry of its own.
            if opCode.isWrite || opCode == .sync {
                forward(&connection, request, opCode: opCode, into: &outputs)
                return
            }
        } else if !sessions.isActive(sessionId) {
            outputs.append(.reply(id, ReplyHeader(xid: request.xid, zxid: lastProcessedZxid, err: ErrorCode.sessionExpired.rawValue), .empty))
            outputs.append(.close(id, reason: "session \(ZxidMath.hex(sessionId)) expired"))
            return
        }
        if opCode.isWrite {
            let body = prepare(request.body, sessionId: sessionId, authInfo: connection.authInfo, nowMs: nowMs)
            let zxid = propose(sessionId: sessionId, cxid: request.xid, body: body, nowMs: nowMs, into: &outputs)
            if opCode == .closeSession {
                connection.closing = true
                sessions.markClosing(sessionId)
            }
            connections[id] = nil  // so the append below owns the queue (see above)
            connection.queue.append(.write(zxid: zxid, xid: request.xid, opCode: opCode))
            waitingWrites[zxid] = id
            connections[id] = connection
        } else if connection.hasQueued {
            connections[id] = nil
            connection.queue.append(.read(request))
            connections[id] = connection
        } else {
            connections[id] = connection
            answerRead(id, request, into: &outputs)
        }
    }

    func emitOrDefer(_ connection: inout Connection, _ answers: [CoreOutput], into outputs: inout [CoreOutput]) {
        switch connection.front {
        case .connect?, .forwardedConnect?, .revalidating?:
            connection.queue.append(.deferred(answers))
        default:
            outputs.append(contentsOf: answers)
        }
    }

    mutating func handleAuth(_ connection: inout Connection, xid: Int32, scheme: String, auth: [UInt8], into outputs: inout [CoreOutput]) {
        var ids: [Id] = []
        switch scheme {
        case "digest":
            let digest = DigestAuthentication.digest(userAndPassword: String(decoding: auth, as: UTF8.self))
            if let superDigest = configuration.superDigest, digest == superDigest { ids.append(.superUser) }
            ids.append(Id(scheme: "digest", id: digest))
        case "ip":
            ids.append(Id(scheme: "ip", id: connection.address))
        case "x509" where configuration.x509Enabled && connection.authInfo.contains(where: { $0.scheme == "x509" }):
            // ZooKeeper re-checks the TLS certificate chain: the ids it yields are already here.
            break
        default:
            authFailedCount += 1
            outputs.append(.reply(connection.id, ReplyHeader(xid: xid, zxid: 0, err: ErrorCode.authFailed.rawValue), .empty))
            outputs.append(.close(connection.id, reason: "no authentication provider for scheme \(scheme)"))
            return
        }
        for id in ids where !connection.authInfo.contains(id) { connection.authInfo.append(id) }
        outputs.append(.reply(connection.id, ReplyHeader(xid: xid, zxid: 0, err: ErrorCode.ok.rawValue), .empty))
    }

    @discardableResult
    mutating func propose(sessionId: Int64, cxid: Int32, body: TxnBody, nowMs: Int64, into outputs: inout [CoreOutput]) -> Int64 {
        // What prep found past a quota, before the txn it concerns.
        for warning in quotaWarnings { outputs.append(.quotaWarning(warning)) }
        quotaWarnings.removeAll()
        lastProposedZxid += 1
        let header = TxnHeader(clientId: sessionId, cxid: cxid, zxid: lastProposedZxid, time: nowMs, type: body.opCode.rawValue)
        let txn = Txn(header: header, body: body)
        proposed.append((txn, pending.digest))
        if replication == .leader {
            outputs.append(.replicate(txn, zooKeeperDigest: pendingZooKeeperDigest))
        } else {
            outputs.append(.persist(txn, digest: pending.digest))
        }
        return lastProposedZxid
    }

    // MARK: - Commit and apply

    /// The log holds everything through `zxid` durably: apply, reply, notify.
    public mutating func committed(through zxid: Int64, into outputs: inout [CoreOutput]) {
        var notifications: [WatchNotification] = []
        while proposedHead < proposed.count, proposed[proposedHead].txn.zxid <= zxid {
            let (txn, expectedDigest) = proposed[proposedHead]
            proposedHead += 1
            notifications.removeAll(keepingCapacity: true)
            let result = tree.apply(txn, notifications: &notifications)
            if tree.digest != expectedDigest {
                digestMismatchCount += 1
                outputs.append(.digestMismatch(zxid: txn.zxid, expected: expectedDigest, actual: tree.digest))
            }
            for notification in notifications {
                guard let watcher = connections[notification.watcher] else { continue }
                if let acl = notification.acl, !AccessControl.check(acl, .read, authInfo: watcher.authInfo) { continue }
                outputs.append(.notify(notification.watcher, notification.event))
            }
            if case .closeSession = txn.body {
                sessions.remove(id: txn.header.clientId)
            }
            if let connection = waitingWrites.removeValue(forKey: txn.zxid) {
                finishWrite(connection, txn: txn, result: result, into: &outputs)
            }
        }
        if proposedHead > 1024 && proposedHead * 2 > proposed.count {
            proposed.removeFirst(proposedHead)
            proposedHead = 0
        }
        pending.applied(through: tree.lastProcessedZxid)
    }

    // Both below change the connection in place (`connections[id]?.pop…`): copying it out and
    // back retains and releases every field of it per reply.
    mutating func finishWrite(_ id: ConnectionID, txn: Txn, result: TxnResult, into outputs: inout [CoreOutput]) {
        guard let item = connections[id]?.popFront() else { return }
        switch item {
        case .connect(let zxid, let response):
            precondition(zxid == txn.zxid, "connect reply out of order")
            outputs.append(.connected(id, response))
        case .write(let zxid, let xid, let opCode):
            precondition(zxid == txn.zxid, "write reply out of order")
            let (error, body) = Self.writeReply(opCode: opCode, result: result)
            outputs.append(.reply(id, ReplyHeader(xid: xid, zxid: txn.zxid, err: error.rawValue), body))
            if opCode == .closeSession {
                outputs.append(.close(id, reason: "session closed by client"))
                return
            }
        case .read, .failedWrite, .deferred, .forwarded, .forwardedConnect, .sync, .revalidating:
            preconditionFailure("only writes wait for a txn")
        }
        drainReads(id, into: &outputs)
    }

    mutating func drainReads(_ id: ConnectionID, into outputs: inout [CoreOutput]) {
        while let item = connections[id]?.popFrontUnlessWaiting() {
            switch item {
            case .read(let request):
                answerRead(id, request, into: &outputs)
            case .failedWrite(let xid, let opCode):
                outputs.append(.reply(id, ReplyHeader(xid: xid, zxid: tree.lastProcessedZxid, err: ErrorCode.systemError.rawValue), .empty))
                if opCode == .closeSession { outputs.append(.close(id, reason: "session close could not be logged")) }
            case .deferred(let answers):
                outputs.append(contentsOf: answers)
            case .write, .connect, .forwarded, .forwardedConnect, .sync, .revalidating:
                preconditionFailure("popFrontUnlessWaiting returns no waiting item")
            }
        }
    }

    static func writeReply(opCode: OpCode, result: TxnResult) -> (ErrorCode, ResponseBody) {
        if opCode == .multi && result.type == .multi {
            return (.ok, .multi(result.multiResults.map(multiResult)))
        }
        guard result.error == .ok else { return (result.error, .empty) }
        switch opCode {
        case .create:
            return (.ok, .create(path: result.path ?? ""))
        case .create2, .createTTL, .createContainer:
            return (.ok, .create2(path: result.path ?? "", stat: result.stat ?? Stat()))
        case .setData, .setACL:
            return (.ok, .stat(result.stat ?? Stat()))
        default:
            return (.ok, .empty)
        }
    }

    static func multiResult(_ result: TxnResult) -> MultiOperationResult {
        switch result.type {
        case .check: return .check
        case .create: return .create(path: result.path ?? "")
        case .create2, .createTTL, .createContainer: return .create2(path: result.path ?? "", stat: result.stat ?? Stat())
        case .delete, .deleteContainer: return .delete
        case .setData: return .setData(stat: result.stat ?? Stat())
        default: return .error(result.error)
        }
    }

    /// The log could not make txns from `zxid` on durable (disk or quota full). None of them is
    /// applied: their requests get SystemError, sessions they would have created or closed go
    /// back to what the tree says, and prep starts again from the applied tree.
    public mutating func persistFailed(from zxid: Int64, nowMs: Int64, monotonicMs: Int64? = nil, into outputs: inout [CoreOutput]) {
        var touched = Set<ConnectionID>()
        while proposedHead < proposed.count, let last = proposed.last, last.txn.zxid >= zxid {
            let txn = proposed.removeLast().txn
            switch txn.body {
            case .createSession:
                sessions.remove(id: txn.header.clientId)
            case .closeSession:
                // Still open in the tree: give it a fresh deadline, so expiry tries again later.
                if let timeout = tree.sessions[txn.header.clientId] {
                    sessions.track(id: txn.header.clientId, timeoutMs: timeout, nowMs: monotonicMs ?? nowMs)
                }
            default:
                break
            }
            guard let connectionId = waitingWrites.removeValue(forKey: txn.zxid), var connection = connections[connectionId] else { continue }
            for index in connection.queueHead..<connection.queue.count {
                switch connection.queue[index] {
                case .write(let queuedZxid, let xid, let opCode) where queuedZxid == txn.zxid:
                    connection.queue[index] = .failedWrite(xid: xid, opCode: opCode)
                case .connect(let queuedZxid, _) where queuedZxid == txn.zxid:
                    connection.closing = true
                    outputs.append(.close(connectionId, reason: "transaction log full: session not created"))
                default:
                    break
                }
            }
            connections[connectionId] = connection
            touched.insert(connectionId)
        }
        lastProposedZxid = proposedHead < proposed.count ? proposed[proposed.count - 1].txn.zxid : tree.lastProcessedZxid
        // A leader keeps numbering in its own epoch (ZAB refuses anything else).
        if replication == .leader { lastProposedZxid = max(lastProposedZxid, leaderEpochStartZxid) }
        pending.reset(digest: tree.digest)
        for connectionId in touched.sorted() { drainReads(connectionId, into: &outputs) }
    }

    // MARK: - Time

    /// Expires sessions whose deadline passed: each gets a closeSession txn. Deadlines are
    /// compared with `monotonicMs` when given (the shell's monotonic clock), else `nowMs`.
    /// At most this many sessions expire per tick; the rest wait for the next (a new leader
    /// after a long outage must not propose tens of thousands of closes at once).
    public static let expirationsPerTickMax = 1000

    public mutating func tick(nowMs: Int64, monotonicMs: Int64? = nil, into outputs: inout [CoreOutput]) {
        expireSessionlessConnections(nowMs: monotonicMs ?? nowMs, into: &outputs)
        // Only the leader (or a standalone server) owns expiry.
        guard replication == .standalone || replication == .leader else { return }
        for sessionId in sessions.expire(nowMs: monotonicMs ?? nowMs, limit: Self.expirationsPerTickMax) {
            sessionsExpiredCount += 1
            let paths = pending.ephemerals(of: sessionId, in: tree)
            markEphemeralsDeleted(paths, zxid: lastProposedZxid + 1)
            propose(sessionId: sessionId, cxid: 0, body: .closeSession(pathsToDelete: paths), nowMs: nowMs, into: &outputs)
            if let connection = connectionBySession[sessionId] {
                outputs.append(.close(connection, reason: "session \(ZxidMath.hex(sessionId)) expired"))
            }
        }
    }

    /// Closes the connections whose ConnectRequest did not come in time, on every member and in
    /// every mode (ZooKeeper's ConnectionExpirerThread counts each in sessionless_connections_expired).
    mutating func expireSessionlessConnections(nowMs: Int64, into outputs: inout [CoreOutput]) {
        guard !sessionlessDeadlines.isEmpty else { return }
        let due = sessionlessDeadlines.filter { $0.value <= nowMs }.keys.sorted()
        for id in due {
            sessionlessDeadlines[id] = nil
            sessionlessConnectionsExpiredCount += 1
            outputs.append(.close(id, reason: "no ConnectRequest within \(configuration.sessionlessConnectionTimeoutMs) ms"))
        }
    }
}
