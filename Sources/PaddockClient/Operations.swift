import ZKBase
import ZKWire

/// The connection as Curator names it: `connecting` until the first session, `connected`
/// while a server serves the session, `suspended` when the connection is lost and the client
/// is looking for another member (the session may still be alive), `lost` once the session
/// timeout has passed without a server (the session is probably gone), `expired` when a server
/// said so (terminal), `closed` after `close()` (terminal).
public enum ConnectionState: Sendable, Hashable {
    case connecting
    case connected
    case suspended
    case lost
    case expired
    case closed

    public var isTerminal: Bool { self == .expired || self == .closed }
}

/// One op of a multi or multiRead.
public enum Operation: Sendable, Hashable {
    case create(path: String, data: [UInt8]?, acl: [ACL] = ACL.openUnsafe, mode: CreateMode = .persistent, ttl: Int64 = 0)
    case delete(path: String, version: Int32 = -1)
    case setData(path: String, data: [UInt8]?, version: Int32 = -1)
    case check(path: String, version: Int32)
    case getData(path: String)
    case getChildren(path: String)

    func wire(_ connect: ConnectString) -> MultiOperation {
        switch self {
        case .create(let path, let data, let acl, let mode, let ttl):
            let request = CreateRequest(path: connect.serverPath(path), data: data, acl: acl, flags: mode.rawValue, ttl: ttl)
            let opCode: OpCode = mode.isContainer ? .createContainer : mode.isTTL ? .createTTL : .create
            return .create(opCode: opCode, request)
        case .delete(let path, let version): return .delete(path: connect.serverPath(path), version: version)
        case .setData(let path, let data, let version): return .setData(path: connect.serverPath(path), data: data, version: version)
        case .check(let path, let version): return .check(path: connect.serverPath(path), version: version)
        case .getData(let path): return .getData(path: connect.serverPath(path))
        case .getChildren(let path): return .getChildren(path: connect.serverPath(path))
        }
    }
}

/// One op's result in a multi or multiRead, in op order.
public enum OperationResult: Sendable, Hashable {
    case created(path: String)
    case deleted
    case dataSet(Stat)
    case checked
    case data([UInt8]?, Stat)
    case children([String])
    case error(ErrorCode)

    init(_ result: MultiOperationResult, _ connect: ConnectString) {
        switch result {
        case .create(let path), .create2(let path, _): self = .created(path: connect.clientPath(path))
        case .delete: self = .deleted
        case .setData(let stat): self = .dataSet(stat)
        case .check: self = .checked
        case .getChildren(let children): self = .children(children)
        case .getData(let data, let stat): self = .data(data, stat)
        case .error(let code): self = .error(code)
        }
    }
}

/// A watch notification as the application sees it (path relative to the chroot).
public struct WatchEvent: Sendable, Hashable {
    public var type: EventType
    public var path: String

    public init(type: EventType, path: String) {
        self.type = type
        self.path = path
    }
}

/// The kinds of one-shot watch a read can leave (ZooKeeper's ZKWatchManager tables).
enum WatchKind: Sendable, Hashable {
    case data
    case exist
    case child
}

/// Identifies a request to the shell (its continuation).
typealias RequestID = UInt64
/// Identifies a watcher to the shell (its stream).
typealias WatcherID = UInt64
