import NIOCore
import ZKBase

/// The result of one op inside a multi / multiRead.
public enum MultiOperationResult: Sendable, Hashable {
    case create(path: String)
    case create2(path: String, stat: Stat)
    case delete
    case setData(stat: Stat)
    case check
    case getChildren(children: [String])
    case getData(data: [UInt8]?, stat: Stat)
    case error(ErrorCode)
}

/// A reply body; the ReplyHeader carries xid, zxid and err. Error replies have no body.
public enum ResponseBody: Sendable, Hashable {
    case empty
    case create(path: String)
    case create2(path: String, stat: Stat)
    case stat(Stat)
    case getData(data: [UInt8]?, stat: Stat)
    case getACL(acl: [ACL], stat: Stat)
    case children([String])
    case children2([String], stat: Stat)
    case sync(path: String)
    case multi([MultiOperationResult])
    case ephemerals([String])
    case allChildrenNumber(Int32)
    case whoAmI([ClientInfo])
    case reconfig(data: [UInt8]?, stat: Stat)
    /// ErrorResponse{err}: what addWatch answers with (always 0).
    case errorResponse(Int32)

    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .empty:
            break
        case .create(let path), .sync(let path):
            buffer.writeJuteString(path)
        case .create2(let path, let stat):
            buffer.writeJuteString(path)
            stat.encode(into: &buffer)
        case .stat(let stat):
            stat.encode(into: &buffer)
        case .getData(let data, let stat), .reconfig(let data, let stat):
            buffer.writeJuteBuffer(data)
            stat.encode(into: &buffer)
        case .getACL(let acl, let stat):
            buffer.writeACLVector(acl)
            stat.encode(into: &buffer)
        case .children(let children), .ephemerals(let children):
            buffer.writeJuteStringVector(children)
        case .children2(let children, let stat):
            buffer.writeJuteStringVector(children)
            stat.encode(into: &buffer)
        case .multi(let results):
            for result in results { Self.encode(result, into: &buffer) }
            MultiHeader.end.encode(into: &buffer)
        case .allChildrenNumber(let total), .errorResponse(let total):
            buffer.writeJuteInt(total)
        case .whoAmI(let infos):
            buffer.writeJuteInt(Int32(infos.count))
            for info in infos {
                buffer.writeJuteString(info.authScheme)
                buffer.writeJuteString(info.user)
            }
        }
    }

    static func encode(_ result: MultiOperationResult, into buffer: inout ByteBuffer) {
        switch result {
        case .create(let path):
            MultiHeader(type: OpCode.create.rawValue, done: false, err: 0).encode(into: &buffer)
            buffer.writeJuteString(path)
        case .create2(let path, let stat):
            MultiHeader(type: OpCode.create2.rawValue, done: false, err: 0).encode(into: &buffer)
            buffer.writeJuteString(path)
            stat.encode(into: &buffer)
        case .delete:
            MultiHeader(type: OpCode.delete.rawValue, done: false, err: 0).encode(into: &buffer)
        case .setData(let stat):
            MultiHeader(type: OpCode.setData.rawValue, done: false, err: 0).encode(into: &buffer)
            stat.encode(into: &buffer)
        case .check:
            MultiHeader(type: OpCode.check.rawValue, done: false, err: 0).encode(into: &buffer)
        case .getChildren(let children):
            MultiHeader(type: OpCode.getChildren.rawValue, done: false, err: 0).encode(into: &buffer)
            buffer.writeJuteStringVector(children)
        case .getData(let data, let stat):
            MultiHeader(type: OpCode.getData.rawValue, done: false, err: 0).encode(into: &buffer)
            buffer.writeJuteBuffer(data)
            stat.encode(into: &buffer)
        case .error(let code):
            MultiHeader(type: OpCode.error.rawValue, done: false, err: code.rawValue).encode(into: &buffer)
            buffer.writeJuteInt(code.rawValue)
        }
    }

    /// Decodes a reply body for the given request opcode (used by tests and the load generator).
    public static func decode(opCode: OpCode, from buffer: inout ByteBuffer) throws -> ResponseBody {
        switch opCode {
        case .create:
            return .create(path: try buffer.readJuteNonNullString("CreateResponse.path"))
        case .create2, .createContainer, .createTTL:
            return .create2(path: try buffer.readJuteNonNullString("Create2Response.path"), stat: try Stat(from: &buffer))
        case .exists, .setData, .setACL:
            return .stat(try Stat(from: &buffer))
        case .getData:
            return .getData(data: try buffer.readJuteBuffer("GetDataResponse.data"), stat: try Stat(from: &buffer))
        case .getACL:
            return .getACL(acl: try buffer.readACLVector("GetACLResponse.acl") ?? [], stat: try Stat(from: &buffer))
        case .getChildren:
            return .children(try buffer.readJuteStringVector("GetChildrenResponse.children") ?? [])
        case .getChildren2:
            return .children2(
                try buffer.readJuteStringVector("GetChildren2Response.children") ?? [], stat: try Stat(from: &buffer))
        case .sync:
            return .sync(path: try buffer.readJuteNonNullString("SyncResponse.path"))
        case .multi, .multiRead:
            return .multi(try decodeMultiResults(from: &buffer))
        case .getEphemerals:
            return .ephemerals(try buffer.readJuteStringVector("GetEphemeralsResponse.ephemerals") ?? [])
        case .getAllChildrenNumber:
            return .allChildrenNumber(try buffer.readJuteInt("GetAllChildrenNumberResponse.totalNumber"))
        case .addWatch:
            return .errorResponse(try buffer.readJuteInt("ErrorResponse.err"))
        case .reconfig:
            return .reconfig(data: try buffer.readJuteBuffer("GetDataResponse.data"), stat: try Stat(from: &buffer))
        case .whoAmI:
            guard let count = try buffer.readJuteVectorCount("WhoAmIResponse.clientInfo", minimumElementBytes: 8) else {
                return .whoAmI([])
            }
            var infos: [ClientInfo] = []
            for _ in 0..<count {
                infos.append(ClientInfo(
                    authScheme: try buffer.readJuteNonNullString("ClientInfo.authScheme"),
                    user: try buffer.readJuteNonNullString("ClientInfo.user")))
            }
            return .whoAmI(infos)
        default:
            return .empty
        }
    }

    static func decodeMultiResults(from buffer: inout ByteBuffer) throws -> [MultiOperationResult] {
        var results: [MultiOperationResult] = []
        while true {
            let header = try MultiHeader(from: &buffer)
            if header.done { return results }
            switch OpCode(rawValue: header.type) {
            case .create:
                results.append(.create(path: try buffer.readJuteNonNullString("CreateResponse.path")))
            case .create2:
                results.append(.create2(path: try buffer.readJuteNonNullString("Create2Response.path"), stat: try Stat(from: &buffer)))
            case .delete:
                results.append(.delete)
            case .setData:
                results.append(.setData(stat: try Stat(from: &buffer)))
            case .check:
                results.append(.check)
            case .getChildren:
                results.append(.getChildren(children: try buffer.readJuteStringVector("GetChildrenResponse.children") ?? []))
            case .getData:
                results.append(.getData(data: try buffer.readJuteBuffer("GetDataResponse.data"), stat: try Stat(from: &buffer)))
            case .error:
                let raw = try buffer.readJuteInt("ErrorResponse.err")
                results.append(.error(ErrorCode(rawValue: raw) ?? .systemError))
            default:
                throw JuteDecodingError.invalidValue(field: "MultiHeader.type", value: Int64(header.type))
            }
        }
    }
}

/// ClientInfo{authScheme, user} as returned by whoAmI.
public struct ClientInfo: Sendable, Hashable {
    public var authScheme: String
    public var user: String

    public init(authScheme: String, user: String) {
        self.authScheme = authScheme
        self.user = user
    }
}
