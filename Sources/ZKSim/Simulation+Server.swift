import NIOCore
import ZKBase
import ZKPipeline
import ZKTree
import ZKWire
import ZKZab

/// The request pipeline on top of each member's ZAB core, as `paddock server` runs it
/// (ServerNode+Ensemble does the same wiring with sockets and a disk): clients connect to any
/// serving member, create znodes and read them back; a learner forwards their sessions and
/// writes to the leader, the leader preps and proposes them, every member applies what commits
/// and answers its own clients. A write counts as acknowledged when its client has the reply.
///
/// Checked on top of the ZAB invariants: replies on one connection never go back in zxid; the
/// txn a client's reply names is the committed one; no member's tree ever disagrees with the
/// digest its proposer recorded; at the end every member's tree is the same and holds every
/// acknowledged znode.
extension Simulation {
    struct Client {
        var member: ServerID
        var incarnation: Int
        var connection: ConnectionID
        var sessionId: Int64?
        var nextXid: Int32 = 1
        var lastZxid: Int64 = 0
        /// xid -> the path its create asked for.
        var pending: [Int32: String] = [:]
    }

    var serverTime: Int64 { now * 10 }

    func bootServer(_ id: ServerID) {
        guard options.serverLayer else { return }
        let configuration = CoreConfiguration(tickMs: 200, minSessionTimeoutMs: 4000, maxSessionTimeoutMs: 40_000, serverId: id)
        var core = ServerCore(configuration: configuration, tree: members[id]!.disk.tree, initialSessionId: (id << 56) | Int64(members[id]!.incarnation) << 40)
        var ignored: [CoreOutput] = []
        core.changeReplication(to: .notServing, monotonicMs: serverTime, into: &ignored)
        members[id]!.server = core
        clients.removeAll { $0.member == id }
    }

    /// Runs `body` on a member's server core and carries out its outputs.
    func withServer(_ id: ServerID, _ body: (inout ServerCore, inout [CoreOutput]) -> Void) {
        guard options.serverLayer, var core = members[id]?.server, members[id]!.up else { return }
        members[id]!.server = nil
        var outputs: [CoreOutput] = []
        body(&core, &outputs)
        members[id]!.server = core
        for output in outputs {
            guard failure == nil, members[id]?.up == true else { return }
            serverOutput(id, output)
        }
    }

    func serverOutput(_ id: ServerID, _ output: CoreOutput) {
        switch output {
        case .replicate(let txn, let digest):
            let payload = ZooKeeperTxnDecoding.encode(txn, digest: ZooKeeperTxnDigest(version: 2, value: digest))
            deliver(id, .propose(ZabEntry(zxid: Zxid(txn.zxid), payload: payload)))
        case .forward(let request):
            deliver(id, .request(ForwardedRequest(
                sessionId: request.sessionId, cxid: request.cxid, type: request.type, body: request.body, authInfo: request.authInfo)))
        case .sessionActive(let sessionId, let timeoutMs):
            deliver(id, .touch(SessionTouch(sessionId: sessionId, timeoutMs: timeoutMs)))
        case .revalidate(let sessionId, let timeoutMs):
            deliver(id, .revalidate(SessionTouch(sessionId: sessionId, timeoutMs: timeoutMs)))
        case .persist(let txn, _):
            fail("\(id)'s pipeline made a standalone txn \(Zxid(txn.zxid)) while in an ensemble")
        case .digestMismatch(let zxid, let expected, let actual):
            fail("\(id) applied \(Zxid(zxid)) to digest \(actual), its proposer recorded \(expected)")
        case .connected(let connection, let response):
            guard let index = clients.firstIndex(where: { $0.connection == connection }) else { return }
            if response.sessionId == 0 {
                clients.remove(at: index)
            } else {
                clients[index].sessionId = response.sessionId
            }
        case .reply(let connection, let header, let body):
            clientReply(id, connection, header, body)
        case .replyFrame(let connection, let frame):
            // Only a getData is answered with a frame; the simulated clients only create.
            clientReply(id, connection, frame.header, (try? frame.decoded(as: .getData).body) ?? .empty)
        case .close(let connection, _):
            clients.removeAll { $0.connection == connection }
            withServerNoOutputs(id) { $0.connectionClosed(connection) }
        case .notify, .quotaWarning:
            break
        }
    }

    func withServerNoOutputs(_ id: ServerID, _ body: (inout ServerCore) -> Void) {
        guard var core = members[id]?.server else { return }
        members[id]!.server = nil
        body(&core)
        members[id]!.server = core
    }

    func clientReply(_ id: ServerID, _ connection: ConnectionID, _ header: ReplyHeader, _ body: ResponseBody) {
        guard let index = clients.firstIndex(where: { $0.connection == connection }) else { return }
        if header.zxid < clients[index].lastZxid && header.zxid >= 0 {
            return fail("client \(connection) at \(id) got a reply at \(Zxid(header.zxid)) after one at \(Zxid(clients[index].lastZxid))")
        }
        clients[index].lastZxid = max(clients[index].lastZxid, header.zxid)
        guard let path = clients[index].pending.removeValue(forKey: header.xid) else { return }
        guard header.err == ErrorCode.ok.rawValue else { return }
        guard body == .create(path: path) else { return fail("client \(connection) at \(id) asked to create \(path) and got \(body)") }
        let zxid = Zxid(header.zxid)
        guard let position = committedIndex[zxid] else {
            return fail("\(id) acknowledged \(path) at \(zxid), which is not in the committed sequence")
        }
        let entry = committed[position]
        guard let decoded = try? ZooKeeperTxnDecoding.decode(entry.payload), case .create(let created) = decoded.txn.body,
              created.path == path else {
            return fail("\(id) acknowledged \(path) at \(zxid), where the committed txn is another")
        }
        acknowledged[zxid] = entry.payload
        acknowledgedPaths.append(path)
        if healed { probeAcknowledged = true }
    }

    /// A client write: a create of a new znode at a random serving member, from a client
    /// session there (made first when the member has none).
    func submitClientWrite() {
        let serving = memberIds.filter { members[$0]!.zab?.isServing == true && members[$0]!.pausedUntil == nil && members[$0]!.server != nil }
        guard let id = serving.randomElement(using: &random) else { return }
        let incarnation = members[id]!.incarnation
        guard let index = clients.firstIndex(where: { $0.member == id && $0.incarnation == incarnation }) else {
            nextConnection += 1
            let connection = nextConnection
            clients.append(Client(member: id, incarnation: incarnation, connection: connection))
            withServer(id) { core, outputs in
                core.connectionOpened(connection, address: "10.0.0.\(id)")
                core.connect(connection, ConnectRequest(lastZxidSeen: 0, timeoutMs: 6000, sessionId: 0, password: [UInt8](repeating: 0, count: 16), readOnly: false),
                             nowMs: serverTime, monotonicMs: serverTime, into: &outputs)
            }
            return
        }
        guard clients[index].sessionId != nil else { return }
        if chance(0.3), let path = acknowledgedPaths.randomElement(using: &random) {
            // A read: answered locally, its reply's zxid must not go back on this connection.
            let xid = clients[index].nextXid
            clients[index].nextXid += 1
            let connection = clients[index].connection
            let request = ClientRequest(xid: xid, opCodeRaw: OpCode.exists.rawValue, body: .exists(path: path, watch: false))
            withServer(id) { core, outputs in core.receive(connection, request, nowMs: serverTime, monotonicMs: serverTime, into: &outputs) }
            report.clientReads += 1
            return
        }
        writeCounter += 1
        let path = "/w\(writeCounter)"
        let xid = clients[index].nextXid
        clients[index].nextXid += 1
        clients[index].pending[xid] = path
        let connection = clients[index].connection
        let request = ClientRequest(xid: xid, opCodeRaw: OpCode.create.rawValue,
                                    body: .create(opCode: .create, CreateRequest(path: path, data: Array(path.utf8), acl: ACL.openUnsafe, flags: 0)))
        withServer(id) { core, outputs in
            core.receive(connection, request, nowMs: serverTime, monotonicMs: serverTime, into: &outputs)
        }
    }

    /// ZAB actions that belong to the request pipeline (Simulation+Events hands them here).
    func serverAction(_ id: ServerID, _ action: ZabAction) -> Bool {
        guard options.serverLayer else { return false }
        switch action {
        case .apply(let entries):
            // The ZAB-level checks first (they extend the committed sequence), then the pipeline,
            // whose replies are checked against that sequence.
            for entry in entries where failure == nil { apply(id, entry) }
            guard failure == nil else { return true }
            withServer(id) { core, outputs in
                for entry in entries {
                    if core.oldestProposedZxid == entry.zxid.rawValue {
                        core.committed(through: entry.zxid.rawValue, into: &outputs)
                    } else if let decoded = try? ZooKeeperTxnDecoding.decode(entry.payload) {
                        core.applyCommitted(decoded.txn, zooKeeperDigest: decoded.digest?.value, into: &outputs)
                    }
                }
            }
            return true
        case .prepare(let request, _):
            let forwarded = ForwardedClientRequest(
                sessionId: request.sessionId, cxid: request.cxid, type: request.type, body: request.body, authInfo: request.authInfo ?? [])
            withServer(id) { core, outputs in core.prepareForwarded(forwarded, nowMs: serverTime, monotonicMs: serverTime, into: &outputs) }
            return true
        case .roleChanged(let role):
            var mode = ReplicationMode.notServing
            var first: Int64?
            switch role {
            case .leading(let epoch, true):
                mode = .leader
                first = Zxid.epochStart(epoch).rawValue
            case .following(_, true), .observing(_, true):
                mode = .learner
            default:
                break
            }
            if members[id]!.server?.replication != mode || mode == .leader {
                withServer(id) { core, outputs in core.changeReplication(to: mode, firstLeaderZxid: first, monotonicMs: serverTime, into: &outputs) }
            }
            return false
        case .requestRefused(let request, let reason) where request.sessionId >= 1 << 56:
            withServer(id) { core, outputs in core.forwardFailed(sessionId: request.sessionId, cxid: request.cxid, reason: reason, into: &outputs) }
            return true
        case .sessionsTouched(let touches, _):
            withServerNoOutputs(id) { $0.sessionsTouched(touches.map { ($0.sessionId, $0.timeoutMs) }, monotonicMs: serverTime) }
            return false
        case .revalidateSession(let touch, let link, _) where touch.sessionId >= 1 << 56:
            var valid = false
            withServerNoOutputs(id) { valid = $0.revalidate(sessionId: touch.sessionId, timeoutMs: touch.timeoutMs, monotonicMs: serverTime) }
            deliver(id, .revalidationAnswer(link: link, sessionId: touch.sessionId, valid: valid))
            return true
        case .revalidationDone(let sessionId, let valid) where sessionId >= 1 << 56:
            withServer(id) { core, outputs in core.revalidated(sessionId: sessionId, valid: valid, into: &outputs) }
            return true
        case .writeRefused(let reason):
            // As the real shell: the pipeline already numbered the txn, so the member steps down.
            deliver(id, .stepDown(reason: "proposal refused: \(reason)"))
            return true
        default:
            return false
        }
    }

    func serverTick(_ id: ServerID) {
        withServer(id) { core, outputs in core.tick(nowMs: serverTime, monotonicMs: serverTime, into: &outputs) }
    }

    /// At the end: every member's tree is the same and holds every acknowledged znode.
    func finalServerChecks() {
        guard options.serverLayer else { return }
        guard let reference = members[memberIds[0]]!.server?.tree else { return fail("\(memberIds[0]) has no pipeline at the end") }
        for id in memberIds {
            guard let tree = members[id]!.server?.tree else { return fail("\(id) has no pipeline at the end") }
            guard tree.lastProcessedZxid == reference.lastProcessedZxid, tree.digest == reference.digest else {
                return fail("\(id)'s tree ends at \(Zxid(tree.lastProcessedZxid)) digest \(tree.digest), \(memberIds[0])'s at \(Zxid(reference.lastProcessedZxid)) digest \(reference.digest)")
            }
            if let mismatches = members[id]!.server?.digestMismatchCount, mismatches > 0 {
                return fail("\(id) counted \(mismatches) digest mismatches")
            }
        }
        for path in acknowledgedPaths where reference.node(path) == nil {
            return fail("acknowledged znode \(path) is missing at the end")
        }
        report.clientWritesAcknowledged = acknowledgedPaths.count
    }
}
