import Testing
import ZKBase
import ZKPipeline
import ZKTree
import ZKWire

/// Drives a ServerCore by hand: the test plays the shell (persisting is instant once `commit()` is called).
struct CoreHarness {
    static let firstSessionId: Int64 = 0x1000
    static let address = "127.0.0.1"

    var core: ServerCore
    var nowMs: Int64 = 1_000_000

    init(_ configuration: CoreConfiguration = CoreConfiguration(tickMs: 2000)) {
        core = ServerCore(configuration: configuration, initialSessionId: Self.firstSessionId)
    }

    mutating func open(_ id: ConnectionID, address: String = CoreHarness.address) {
        core.connectionOpened(id, address: address)
    }

    mutating func connect(
        _ id: ConnectionID, timeoutMs: Int32 = 10_000, sessionId: Int64 = 0,
        password: [UInt8] = [UInt8](repeating: 0, count: 16), lastZxidSeen: Int64 = 0, readOnly: Bool? = false
    ) -> [CoreOutput] {
        var outputs: [CoreOutput] = []
        let request = ConnectRequest(lastZxidSeen: lastZxidSeen, timeoutMs: timeoutMs, sessionId: sessionId, password: password, readOnly: readOnly)
        core.connect(id, request, nowMs: nowMs, into: &outputs)
        return outputs
    }

    mutating func send(_ id: ConnectionID, _ xid: Int32, _ body: RequestBody) -> [CoreOutput] {
        var outputs: [CoreOutput] = []
        core.receive(id, request(xid, body), nowMs: nowMs, into: &outputs)
        return outputs
    }

    mutating func send(_ id: ConnectionID, _ request: ClientRequest) -> [CoreOutput] {
        var outputs: [CoreOutput] = []
        core.receive(id, request, nowMs: nowMs, into: &outputs)
        return outputs
    }

    /// Reports everything proposed so far as durable.
    mutating func commit() -> [CoreOutput] {
        var outputs: [CoreOutput] = []
        core.committed(through: core.lastProposedZxid, into: &outputs)
        return outputs
    }

    /// send + commit: everything the request caused.
    mutating func call(_ id: ConnectionID, _ xid: Int32, _ body: RequestBody) -> [CoreOutput] {
        send(id, xid, body) + commit()
    }

    mutating func tick(at nowMs: Int64) -> [CoreOutput] {
        self.nowMs = nowMs
        var outputs: [CoreOutput] = []
        core.tick(nowMs: nowMs, into: &outputs)
        return outputs
    }

    mutating func reap(deletionsMax: Int = 100) -> [CoreOutput] {
        var outputs: [CoreOutput] = []
        core.reapContainers(nowMs: nowMs, deletionsMax: deletionsMax, into: &outputs)
        return outputs
    }

    /// open + connect + commit; returns the ConnectResponse.
    mutating func session(_ id: ConnectionID, timeoutMs: Int32 = 10_000, address: String = CoreHarness.address) -> ConnectResponse {
        open(id, address: address)
        let outputs = connect(id, timeoutMs: timeoutMs) + commit()
        guard let response = outputs.connected(id) else { fatalError("no ConnectResponse in \(outputs)") }
        return response
    }
}

// MARK: - Requests

func opCodeRaw(for body: RequestBody) -> Int32 {
    switch body {
    case .create(let opCode, _), .getChildren(let opCode, _, _), .setWatches(let opCode, _): return opCode.rawValue
    case .delete: return OpCode.delete.rawValue
    case .exists: return OpCode.exists.rawValue
    case .getData: return OpCode.getData.rawValue
    case .setData: return OpCode.setData.rawValue
    case .getACL: return OpCode.getACL.rawValue
    case .setACL: return OpCode.setACL.rawValue
    case .sync: return OpCode.sync.rawValue
    case .check: return OpCode.check.rawValue
    case .multi, .malformedMulti: return OpCode.multi.rawValue
    case .wrongKindMulti(let opCode): return opCode.rawValue
    case .multiRead: return OpCode.multiRead.rawValue
    case .reconfig: return OpCode.reconfig.rawValue
    case .checkWatches: return OpCode.checkWatches.rawValue
    case .removeWatches: return OpCode.removeWatches.rawValue
    case .auth: return OpCode.auth.rawValue
    case .getEphemerals: return OpCode.getEphemerals.rawValue
    case .getAllChildrenNumber: return OpCode.getAllChildrenNumber.rawValue
    case .addWatch: return OpCode.addWatch.rawValue
    case .whoAmI: return OpCode.whoAmI.rawValue
    case .ping: return OpCode.ping.rawValue
    case .closeSession: return OpCode.closeSession.rawValue
    case .sasl: return OpCode.sasl.rawValue
    case .unknown(let type): return type
    }
}

func request(_ xid: Int32, _ body: RequestBody) -> ClientRequest {
    ClientRequest(xid: xid, opCodeRaw: opCodeRaw(for: body), body: body)
}

func create(
    _ path: String, _ data: String = "", mode: CreateMode = .persistent, acl: [ACL] = ACL.openUnsafe,
    opCode: OpCode = .create, ttl: Int64 = -1
) -> RequestBody {
    .create(opCode: opCode, CreateRequest(path: path, data: Array(data.utf8), acl: acl, flags: mode.rawValue, ttl: ttl))
}

func createOp(_ path: String, _ data: String = "", mode: CreateMode = .persistent) -> MultiOperation {
    .create(opCode: .create, CreateRequest(path: path, data: Array(data.utf8), acl: ACL.openUnsafe, flags: mode.rawValue, ttl: 0))
}

func auth(_ userAndPassword: String) -> RequestBody {
    .auth(type: 0, scheme: "digest", auth: Array(userAndPassword.utf8))
}

func digestId(_ userAndPassword: String) -> Id {
    Id(scheme: "digest", id: DigestAuthentication.digest(userAndPassword: userAndPassword))
}

// MARK: - Reading outputs

extension Array where Element == CoreOutput {
    var persisted: [Txn] {
        compactMap { if case .persist(let txn, _) = $0 { return txn } else { return nil } }
    }

    func connected(_ id: ConnectionID) -> ConnectResponse? {
        for output in self { if case .connected(id, let response) = output { return response } }
        return nil
    }

    func replies(_ id: ConnectionID) -> [(header: ReplyHeader, body: ResponseBody)] {
        compactMap { output in output.reply.flatMap { $0.connection == id ? ($0.header, $0.body) : nil } }
    }

    func reply(_ id: ConnectionID, xid: Int32) -> (header: ReplyHeader, body: ResponseBody)? {
        replies(id).first { $0.header.xid == xid }
    }

    func error(_ id: ConnectionID, xid: Int32) -> ErrorCode? {
        reply(id, xid: xid).flatMap { ErrorCode(rawValue: $0.header.err) }
    }

    func events(_ id: ConnectionID) -> [String] {
        compactMap {
            guard case .notify(id, let event) = $0 else { return nil }
            return "\(EventType(rawValue: event.type).map { "\($0)" } ?? "?") \(event.path)"
        }
    }

    var closed: [ConnectionID] {
        compactMap { if case .close(let id, _) = $0 { return id } else { return nil } }
    }
}

extension CoreOutput {
    /// A reply as values, whether it left as one or as a frame encoded by the core (a getData's,
    /// read back through the client's decoder).
    var reply: (connection: ConnectionID, header: ReplyHeader, body: ResponseBody)? {
        switch self {
        case .reply(let id, let header, let body):
            return (id, header, body)
        case .replyFrame(let id, let frame):
            guard let decoded = try? frame.decoded(as: .getData) else {
                Issue.record("reply frame \(frame.bytes) does not decode as a getData reply")
                return nil
            }
            #expect(decoded.header == frame.header, "a frame's header and its bytes agree")
            return (id, decoded.header, decoded.body)
        default:
            return nil
        }
    }
}
