import NIOCore
import ZKBase
import ZKTree
import ZKWire

/// The core as a member of a ZAB ensemble (ZooKeeper's LeaderZooKeeperServer,
/// FollowerZooKeeperServer and ObserverZooKeeperServer request pipelines, as one value).
///
/// - Leader: prep as standalone, but each txn leaves as `.replicate` and is applied only when
///   ZAB reports it committed (`applyCommitted`); learners' requests come in through
///   `prepareForwarded`; the leader alone expires sessions, from the activity learners report.
/// - Learner: reads are served from the local tree; writes, new sessions and closes go to the
///   leader (`.forward`) and are answered when their txn commits here, matched by (session, cxid)
///   since the learner cannot know the zxid the leader will give them.
/// - `sync` goes through the leader on every member and is answered by `syncDone`.
extension ServerCore {
    /// Moves the core to another replication role. Every client connection is closed (as
    /// ZooKeeper does when a member's role changes: clients reconnect and resume their
    /// sessions), everything pending is dropped, and the tree — the committed state — stays.
    /// A new leader starts numbering at `firstLeaderZxid` (its epoch, counter 0) and tracks
    /// every session in the tree with a full timeout from `monotonicMs`.
    public mutating func changeReplication(
        to mode: ReplicationMode, firstLeaderZxid: Int64? = nil, monotonicMs: Int64, into outputs: inout [CoreOutput]
    ) {
        for id in connections.keys.sorted() {
            outputs.append(.close(id, reason: "member changes role to \(mode)"))
            tree.dataWatches.removeWatcher(id)
            tree.childWatches.removeWatcher(id)
        }
        connections.removeAll()
        connectionBySession.removeAll()
        sessionlessDeadlines.removeAll()
        waitingRevalidation.removeAll()
        proposed.removeAll()
        proposedHead = 0
        waitingWrites.removeAll()
        waitingForwarded.removeAll()
        pending.reset(digest: tree.digest)
        sessions.removeAll()
        replication = mode
        lastProposedZxid = tree.lastProcessedZxid
        if mode == .leader {
            precondition(firstLeaderZxid.map { $0 >= tree.lastProcessedZxid } ?? false,
                         "a leader starts numbering after everything it has applied")
            lastProposedZxid = firstLeaderZxid!
            leaderEpochStartZxid = firstLeaderZxid!
            trackRecoveredSessions(nowMs: monotonicMs)
        }
    }

    /// ZooKeeper's tree digest with every pending txn applied (what a replicated txn carries).
    var pendingZooKeeperDigest: UInt64 {
        guard let root = pending.record(for: "/", in: tree) else { return pending.digest }
        return DataTree.zooKeeperDigest(paddockDigest: pending.digest, rootData: root.data, rootStat: root.stat)
    }

    // MARK: - Learner side

    mutating func learnerConnect(
        _ connection: inout Connection, _ request: ConnectRequest, timeout: Int32, readOnlyFlag: Bool?, into outputs: inout [CoreOutput]
    ) {
        let id = connection.id
        if request.sessionId == 0 {
            // LearnerSessionTracker: the id is made here (it carries our server id); the leader
            // makes the createSession txn; the client hears back once it is committed here.
            let sessionId = sessions.allocateSessionId()
            connection.sessionId = sessionId
            var body = ByteBufferAllocator().buffer(capacity: 4)
            body.writeInteger(timeout)
            outputs.append(.forward(ForwardedClientRequest(
                sessionId: sessionId, cxid: 0, type: OpCode.createSession.rawValue, body: Array(buffer: body),
                authInfo: connection.authInfo)))
            let response = ConnectResponse(
                timeoutMs: timeout, sessionId: sessionId, password: JavaRandom.sessionPassword(sessionId: sessionId),
                readOnly: readOnlyFlag)
            connection.queue.append(.forwardedConnect(response: response))
            waitingForwarded[ForwardKey(sessionId: sessionId, cxid: 0)] = id
            connections[id] = connection
            connectionBySession[sessionId] = id
            return
        }
        let sessionId = request.sessionId
        closePreviousConnection(of: sessionId, keeping: id, into: &outputs)
        // Only the password is checked here: whether the session lives is the leader's word (a
        // learner a little behind may not have applied its createSession yet).
        guard request.password == JavaRandom.sessionPassword(sessionId: sessionId) else {
            refuseSession(id, sessionId, readOnlyFlag: readOnlyFlag, into: &outputs)
            return
        }
        // Known from its committed createSession, but only the leader knows whether it has
        // expired meanwhile (its closeSession may not be committed yet): ask (REVALIDATE).
        connection.sessionId = sessionId
        connection.queue.append(.revalidating(response: ConnectResponse(
            timeoutMs: timeout, sessionId: sessionId, password: request.password, readOnly: readOnlyFlag)))
        if let waiting = waitingRevalidation[sessionId], waiting != id {
            outputs.append(.close(waiting, reason: "session \(ZxidMath.hex(sessionId)) reconnected on another connection"))
        }
        waitingRevalidation[sessionId] = id
        connections[id] = connection
        connectionBySession[sessionId] = id
        outputs.append(.revalidate(sessionId: sessionId, timeoutMs: timeout))
    }

    /// The leader's verdict on a reconnecting session (REVALIDATE's answer).
    /// `valid` nil: the leader could not be asked (this member is leaving it); the client loses
    /// its connection and reconnects elsewhere, rather than hearing that its session expired.
    public mutating func revalidated(sessionId: Int64, valid: Bool?, into outputs: inout [CoreOutput]) {
        guard let id = waitingRevalidation.removeValue(forKey: sessionId),
              case .revalidating(let response)? = connections[id]?.front
        else { return }
        switch valid {
        case true?:
            _ = connections[id]?.popFront()
            outputs.append(.connected(id, response))
            drainReads(id, into: &outputs)
        case false?:
            dropQueue(id)
            refuseSession(id, sessionId, readOnlyFlag: response.readOnly, into: &outputs)
        case nil:
            dropQueue(id)
            outputs.append(.close(id, reason: "session \(ZxidMath.hex(sessionId)) could not be revalidated: no leader"))
        }
    }

    /// Forgets everything a connection was waiting for (it is being closed).
    mutating func dropQueue(_ id: ConnectionID) {
        guard let connection = connections[id] else { return }
        for item in connection.queue[connection.queueHead...] {
            switch item {
            case .forwarded(let xid, _), .sync(let xid, _):
                let key = ForwardKey(sessionId: connection.sessionId, cxid: xid)
                if waitingForwarded[key] == id { waitingForwarded[key] = nil }
            default:
                break
            }
        }
        connections[id]?.queue.removeAll()
        connections[id]?.queueHead = 0
        connections[id]?.closing = true
    }

    /// A write (on a learner) or a `sync` (on any member): off to the leader, answered in order.
    mutating func forward(_ connection: inout Connection, _ request: ClientRequest, opCode: OpCode, into outputs: inout [CoreOutput]) {
        let id = connection.id
        var encoded = ByteBufferAllocator().buffer(capacity: 64)
        request.encode(into: &encoded)
        encoded.moveReaderIndex(forwardBy: 8)  // RequestHeader (xid, type): REQUEST carries them apart
        outputs.append(.forward(ForwardedClientRequest(
            sessionId: connection.sessionId, cxid: request.xid, type: request.opCodeRaw, body: Array(buffer: encoded),
            authInfo: connection.authInfo)))
        if opCode == .closeSession { connection.closing = true }
        connections[id] = nil  // so the append below owns the queue (see ServerCore.receive)
        if case .sync(let path) = request.body {
            connection.queue.append(.sync(xid: request.xid, path: path))
        } else {
            connection.queue.append(.forwarded(xid: request.xid, opCode: opCode))
        }
        waitingForwarded[ForwardKey(sessionId: connection.sessionId, cxid: request.xid)] = id
        connections[id] = connection
    }

    /// The leader says everything committed before this member's `sync` reached it is applied here.
    public mutating func syncDone(sessionId: Int64, cxid: Int32, into outputs: inout [CoreOutput]) {
        guard let id = waitingForwarded.removeValue(forKey: ForwardKey(sessionId: sessionId, cxid: cxid)) else { return }
        guard case .sync(let xid, let path)? = connections[id]?.front, xid == cxid else {
            outputs.append(.close(id, reason: "sync answer out of order for cxid \(cxid)"))
            return
        }
        _ = connections[id]?.popFront()
        outputs.append(.reply(id, ReplyHeader(xid: xid, zxid: tree.lastProcessedZxid, err: ErrorCode.ok.rawValue), .sync(path: path)))
        drainReads(id, into: &outputs)
    }

    /// A forwarded request that cannot complete (the leader is gone): the client's connection
    /// is lost, as in ZooKeeper; it reconnects and retries.
    public mutating func forwardFailed(sessionId: Int64, cxid: Int32, reason: String, into outputs: inout [CoreOutput]) {
        guard let id = waitingForwarded.removeValue(forKey: ForwardKey(sessionId: sessionId, cxid: cxid)) else { return }
        outputs.append(.close(id, reason: reason))
    }

    // MARK: - Both sides: committed txns

    /// ZAB committed this txn (`zooKeeperDigest`: the tree digest the proposer recorded, if
    /// any). The leader's own proposals are applied from its prep queue; anything else (a
    /// learner's stream, a new leader's initial history) is applied as it comes.
    public mutating func applyCommitted(_ txn: Txn, zooKeeperDigest: UInt64?, into outputs: inout [CoreOutput]) {
        if proposedHead < proposed.count && proposed[proposedHead].txn.zxid == txn.zxid {
            committed(through: txn.zxid, into: &outputs)
            return
        }
        precondition(proposedHead == proposed.count, "a committed txn \(ZxidMath.hex(txn.zxid)) is not the next proposed one")
        var notifications: [WatchNotification] = []
        let result = tree.apply(txn, notifications: &notifications)
        if let expected = zooKeeperDigest {
            let actual = tree.zooKeeperDigest
            if actual == expected {
                inFuzzySnapshotWindow = false
            } else if !inFuzzySnapshotWindow {
                digestMismatchCount += 1
                outputs.append(.digestMismatch(zxid: txn.zxid, expected: expected, actual: actual))
            }
        }
        for notification in notifications {
            guard let watcher = connections[notification.watcher] else { continue }
            if let acl = notification.acl, !AccessControl.check(acl, .read, authInfo: watcher.authInfo) { continue }
            outputs.append(.notify(notification.watcher, notification.event))
        }
        pending.reset(digest: tree.digest)
        lastProposedZxid = max(lastProposedZxid, tree.lastProcessedZxid)
        let sessionId = txn.header.clientId
        let key = ForwardKey(sessionId: sessionId, cxid: txn.header.cxid)
        if let id = waitingForwarded[key], case .createSession = txn.body, case .forwardedConnect? = connections[id]?.front {
            waitingForwarded[key] = nil
            finishForwarded(id, txn: txn, result: result, into: &outputs)
        } else if case .createSession = txn.body {
            // Another member's session (or one whose client left): nothing to answer here.
        } else if let id = waitingForwarded.removeValue(forKey: key) {
            // The request of that (session, cxid) committed: its connection answers it if it is
            // still waiting for exactly that request at the front, else the client is gone.
            if case .forwarded(let xid, _)? = connections[id]?.front, xid == txn.header.cxid {
                finishForwarded(id, txn: txn, result: result, into: &outputs)
            } else if connections[id] != nil {
                outputs.append(.close(id, reason: "reply to cxid \(txn.header.cxid) out of order"))
            }
        }
        if case .closeSession = txn.body, let id = connectionBySession[sessionId], connections[id]?.closing != true {
            // The leader expired the session: its client here is told by losing the connection.
            outputs.append(.close(id, reason: "session \(ZxidMath.hex(sessionId)) expired"))
        }
    }

    mutating func finishForwarded(_ id: ConnectionID, txn: Txn, result: TxnResult, into outputs: inout [CoreOutput]) {
        guard let item = connections[id]?.popFront() else { return }
        switch item {
        case .forwardedConnect(let response):
            outputs.append(.connected(id, response))
        case .forwarded(let xid, let opCode):
            let (error, body) = Self.writeReply(opCode: opCode, result: result)
            outputs.append(.reply(id, ReplyHeader(xid: xid, zxid: txn.zxid, err: error.rawValue), body))
            if opCode == .closeSession {
                outputs.append(.close(id, reason: "session closed by client"))
                return
            }
        default:
            preconditionFailure("finishForwarded on an item that waits for no txn")
        }
        drainReads(id, into: &outputs)
    }

    // MARK: - Leader side

    /// Leader: a request a learner forwarded (REQUEST). Prepped like a local one, but nobody
    /// here waits for it: the learner answers its client when the txn commits there.
    public mutating func prepareForwarded(
        _ request: ForwardedClientRequest, nowMs: Int64, monotonicMs: Int64, into outputs: inout [CoreOutput]
    ) {
        guard replication == .leader else { return }
        let sessionId = request.sessionId
        switch request.type {
        case OpCode.createSession.rawValue:
            var body = ByteBufferAllocator().buffer(bytes: request.body)
            let timeout = negotiatedTimeout(body.readInteger(as: Int32.self) ?? configuration.minSessionTimeoutMs)
            sessions.track(id: sessionId, timeoutMs: timeout, nowMs: monotonicMs)
            propose(sessionId: sessionId, cxid: request.cxid, body: .createSession(timeoutMs: timeout), nowMs: nowMs, into: &outputs)
            return
        case OpCode.closeSession.rawValue:
            sessions.markClosing(sessionId)
            let body = prepare(.closeSession, sessionId: sessionId, authInfo: request.authInfo, nowMs: nowMs)
            propose(sessionId: sessionId, cxid: request.cxid, body: body, nowMs: nowMs, into: &outputs)
            return
        default:
            break
        }
        guard sessions.touch(id: sessionId, nowMs: monotonicMs) else {
            propose(sessionId: sessionId, cxid: request.cxid, body: .error(.sessionExpired), nowMs: nowMs, into: &outputs)
            return
        }
        var frame = ByteBufferAllocator().buffer(capacity: request.body.count + 8)
        RequestHeader(xid: request.cxid, type: request.type).encode(into: &frame)
        frame.writeBytes(request.body)
        let body: TxnBody
        if let decoded = try? ClientRequest.decode(from: &frame), let opCode = decoded.opCode, opCode.isWrite {
            body = prepare(decoded.body, sessionId: sessionId, authInfo: request.authInfo, nowMs: nowMs)
        } else {
            body = .error(.marshallingError)
        }
        propose(sessionId: sessionId, cxid: request.cxid, body: body, nowMs: nowMs, into: &outputs)
    }

    /// Leader: sessions a learner's clients kept alive.
    public mutating func sessionsTouched(_ touches: [(sessionId: Int64, timeoutMs: Int32)], monotonicMs: Int64) {
        guard replication == .leader else { return }
        for touch in touches { sessions.touch(id: touch.sessionId, nowMs: monotonicMs, timeoutMs: touch.timeoutMs) }
    }

    /// Leader: is this session alive (a client reconnecting to a learner)? Alive ones get a fresh deadline.
    public mutating func revalidate(sessionId: Int64, timeoutMs: Int32, monotonicMs: Int64) -> Bool {
        guard replication == .leader else { return false }
        return sessions.touch(id: sessionId, nowMs: monotonicMs, timeoutMs: timeoutMs)
    }

    /// A snapshot received from the leader replaced the committed state.
    public mutating func replaceTree(_ newTree: DataTree, monotonicMs: Int64, into outputs: inout [CoreOutput]) {
        tree = newTree
        inFuzzySnapshotWindow = true
        changeReplication(to: .notServing, monotonicMs: monotonicMs, into: &outputs)
    }
}
