import NIOCore
import ZKBase

public struct CreateRequest: Sendable, Hashable {
    public var path: String
    /// nil is a null buffer (length -1), which ZooKeeper stores and returns as null.
    public var data: [UInt8]?
    public var acl: [ACL]
    public var flags: Int32
    /// Only for createTTL (opcode 21) and TTL modes; 0 otherwise.
    public var ttl: Int64

    public init(path: String, data: [UInt8]?, acl: [ACL], flags: Int32, ttl: Int64 = 0) {
        self.path = path
        self.data = data
        self.acl = acl
        self.flags = flags
        self.ttl = ttl
    }
}

public struct SetWatchesRequest: Sendable, Hashable {
    public var relativeZxid: Int64
    public var dataWatches: [String]
    public var existWatches: [String]
    public var childWatches: [String]
    public var persistentWatches: [String]
    public var persistentRecursiveWatches: [String]

    public init(
        relativeZxid: Int64, dataWatches: [String] = [], existWatches: [String] = [], childWatches: [String] = [],
        persistentWatches: [String] = [], persistentRecursiveWatches: [String] = []
    ) {
        self.relativeZxid = relativeZxid
        self.dataWatches = dataWatches
        self.existWatches = existWatches
        self.childWatches = childWatches
        self.persistentWatches = persistentWatches
        self.persistentRecursiveWatches = persistentRecursiveWatches
    }
}

/// One operation inside a multi or multiRead.
public enum MultiOperation: Sendable, Hashable {
    case create(opCode: OpCode, CreateRequest)
    case delete(path: String, version: Int32)
    case setData(path: String, data: [UInt8]?, version: Int32)
    case check(path: String, version: Int32)
    case getChildren(path: String)
    case getData(path: String)
    /// A create whose flags ask for a TTL but that came as a plain create op (no TTL field):
    /// ZooKeeper decodes it, then fails the whole multi with MarshallingError when it reaches it.
    case createTTLWithoutTTL(CreateRequest)

    /// The op as ZooKeeper's MultiOperationRecord rebuilds it: every create becomes
    /// Op.create(flags), whose type comes from the mode (container, TTL or plain create) whatever
    /// the wire type said (so a create2 in a multi is answered as a create, without a stat).
    public var asZooKeeperRebuildsIt: MultiOperation {
        guard case .create(_, let request) = self else { return self }
        return .create(opCode: ClientRequest.multiCreateOpCode(flags: request.flags), request)
    }

    /// The wire type (a create's as it came, see `asZooKeeperRebuildsIt`).
    public var opCode: OpCode {
        switch self {
        case .create(let opCode, _): return opCode
        case .delete: return .delete
        case .setData: return .setData
        case .check: return .check
        case .getChildren: return .getChildren
        case .getData: return .getData
        case .createTTLWithoutTTL: return .createTTL
        }
    }

    var isTTLWithoutTTL: Bool {
        if case .createTTLWithoutTTL = self { return true }
        return false
    }

    public var isRead: Bool {
        switch self {
        case .getChildren, .getData: return true
        default: return false
        }
    }

    public var path: String {
        switch self {
        case .create(_, let request), .createTTLWithoutTTL(let request): return request.path
        case .delete(let path, _), .setData(let path, _, _), .check(let path, _), .getChildren(let path),
            .getData(let path):
            return path
        }
    }
}

/// A decoded client request body, one case per opcode family.
public enum RequestBody: Sendable, Hashable {
    case create(opCode: OpCode, CreateRequest)
    case delete(path: String, version: Int32)
    case exists(path: String, watch: Bool)
    case getData(path: String, watch: Bool)
    case setData(path: String, data: [UInt8]?, version: Int32)
    case getACL(path: String)
    case setACL(path: String, acl: [ACL], version: Int32)
    case getChildren(opCode: OpCode, path: String, watch: Bool)
    case sync(path: String)
    case check(path: String, version: Int32)
    case multi([MultiOperation])
    case multiRead([MultiOperation])
    case reconfig(joiningServers: String?, leavingServers: String?, newMembers: String?, currentConfigId: Int64)
    case checkWatches(path: String, type: Int32)
    case removeWatches(path: String, type: Int32)
    case auth(type: Int32, scheme: String, auth: [UInt8])
    case setWatches(opCode: OpCode, SetWatchesRequest)
    case getEphemerals(prefixPath: String)
    case getAllChildrenNumber(path: String)
    case addWatch(path: String, mode: Int32)
    case whoAmI
    case ping
    case closeSession
    case sasl
    /// A multi / multiRead holding an op it may not (ZooKeeper: "Invalid type of op"); answered
    /// with MarshallingError, the connection stays open.
    case malformedMulti
    /// A multi holding only read ops, or a multiRead holding only write ops: decodable, but
    /// ZooKeeper fails it while processing (MarshallingError; a multiRead also sends an empty result).
    case wrongKindMulti(opCode: OpCode)
    /// An opcode the server does not know: answered with Unimplemented, then the connection closes.
    case unknown(type: Int32)
}

public struct ClientRequest: Sendable, Hashable {
    public var xid: Int32
    public var opCodeRaw: Int32
    public var body: RequestBody

    public init(xid: Int32, opCodeRaw: Int32, body: RequestBody) {
        self.xid = xid
        self.opCodeRaw = opCodeRaw
        self.body = body
    }

    public var opCode: OpCode? { OpCode(rawValue: opCodeRaw) }
}
