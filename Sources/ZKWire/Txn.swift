import NIOCore
import ZKBase

/// TxnHeader: who asked (session, cxid), the zxid the leader stamped, the wall-clock time
/// (the only way time enters the tree) and the txn type (an OpCode value).
public struct TxnHeader: Sendable, Hashable, JuteRecord {
    public var clientId: Int64
    public var cxid: Int32
    public var zxid: Int64
    public var time: Int64
    public var type: Int32

    public init(clientId: Int64, cxid: Int32, zxid: Int64, time: Int64, type: Int32) {
        self.clientId = clientId
        self.cxid = cxid
        self.zxid = zxid
        self.time = time
        self.type = type
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteLong(clientId)
        buffer.writeJuteInt(cxid)
        buffer.writeJuteLong(zxid)
        buffer.writeJuteLong(time)
        buffer.writeJuteInt(type)
    }

    public init(from buffer: inout ByteBuffer) throws {
        clientId = try buffer.readJuteLong("TxnHeader.clientId")
        cxid = try buffer.readJuteInt("TxnHeader.cxid")
        zxid = try buffer.readJuteLong("TxnHeader.zxid")
        time = try buffer.readJuteLong("TxnHeader.time")
        type = try buffer.readJuteInt("TxnHeader.type")
    }
}

/// CreateTxn / CreateContainerTxn / CreateTTLTxn share these fields.
public struct CreateTxn: Sendable, Hashable {
    public var path: String
    public var data: [UInt8]?
    public var acl: [ACL]
    public var ephemeral: Bool
    public var parentCVersion: Int32
    public var ttl: Int64

    public init(path: String, data: [UInt8]?, acl: [ACL], ephemeral: Bool, parentCVersion: Int32, ttl: Int64 = 0) {
        self.path = path
        self.data = data
        self.acl = acl
        self.ephemeral = ephemeral
        self.parentCVersion = parentCVersion
        self.ttl = ttl
    }
}

/// The body of a txn, one case per txn type, encoded exactly as ZooKeeper's txn records
/// (so Apache ZooKeeper logs and snapshots can be imported and exported).
public indirect enum TxnBody: Sendable, Hashable {
    case create(CreateTxn)
    case create2(CreateTxn)
    case createContainer(CreateTxn)
    case createTTL(CreateTxn)
    case delete(path: String)
    case deleteContainer(path: String)
    case setData(path: String, data: [UInt8]?, version: Int32)
    case setACL(path: String, acl: [ACL], version: Int32)
    case check(path: String, version: Int32)
    case createSession(timeoutMs: Int32)
    case closeSession(pathsToDelete: [String])
    case error(ErrorCode)
    case multi([TxnBody])

    public var opCode: OpCode {
        switch self {
        case .create: return .create
        case .create2: return .create2
        case .createContainer: return .createContainer
        case .createTTL: return .createTTL
        case .delete: return .delete
        case .deleteContainer: return .deleteContainer
        case .setData: return .setData
        case .setACL: return .setACL
        case .check: return .check
        case .createSession: return .createSession
        case .closeSession: return .closeSession
        case .error: return .error
        case .multi: return .multi
        }
    }

    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .create(let txn), .create2(let txn):
            buffer.writeJuteString(txn.path)
            buffer.writeJuteBuffer(txn.data)
            buffer.writeACLVector(txn.acl)
            buffer.writeJuteBool(txn.ephemeral)
            buffer.writeJuteInt(txn.parentCVersion)
        case .createContainer(let txn):
            buffer.writeJuteString(txn.path)
            buffer.writeJuteBuffer(txn.data)
            buffer.writeACLVector(txn.acl)
            buffer.writeJuteInt(txn.parentCVersion)
        case .createTTL(let txn):
            buffer.writeJuteString(txn.path)
            buffer.writeJuteBuffer(txn.data)
            buffer.writeACLVector(txn.acl)
            buffer.writeJuteInt(txn.parentCVersion)
            buffer.writeJuteLong(txn.ttl)
        case .delete(let path), .deleteContainer(let path):
            buffer.writeJuteString(path)
        case .setData(let path, let data, let version):
            buffer.writeJuteString(path)
            buffer.writeJuteBuffer(data)
            buffer.writeJuteInt(version)
        case .setACL(let path, let acl, let version):
            buffer.writeJuteString(path)
            buffer.writeACLVector(acl)
            buffer.writeJuteInt(version)
        case .check(let path, let version):
            buffer.writeJuteString(path)
            buffer.writeJuteInt(version)
        case .createSession(let timeoutMs):
            buffer.writeJuteInt(timeoutMs)
        case .closeSession(let paths):
            buffer.writeJuteStringVector(paths)
        case .error(let code):
            buffer.writeJuteInt(code.rawValue)
        case .multi(let txns):
            buffer.writeJuteInt(Int32(txns.count))
            for txn in txns {
                buffer.writeJuteInt(txn.opCode.rawValue)
                var inner = ByteBufferAllocator().buffer(capacity: 64)
                txn.encode(into: &inner)
                buffer.writeJuteInt(Int32(inner.readableBytes))
                buffer.writeBuffer(&inner)
            }
        }
    }

    public static func decode(type: Int32, from buffer: inout ByteBuffer) throws -> TxnBody {
        guard let opCode = OpCode(rawValue: type) else {
            throw JuteDecodingError.invalidValue(field: "TxnHeader.type", value: Int64(type))
        }
        switch opCode {
        case .create, .create2:
            let txn = CreateTxn(
                path: try buffer.readJuteNonNullString("CreateTxn.path"),
                data: try buffer.readJuteBuffer("CreateTxn.data"),
                acl: try buffer.readACLVector("CreateTxn.acl") ?? [],
                ephemeral: try buffer.readJuteBool("CreateTxn.ephemeral"),
                parentCVersion: try buffer.readJuteInt("CreateTxn.parentCVersion"))
            return opCode == .create ? .create(txn) : .create2(txn)
        case .createContainer:
            return .createContainer(CreateTxn(
                path: try buffer.readJuteNonNullString("CreateContainerTxn.path"),
                data: try buffer.readJuteBuffer("CreateContainerTxn.data"),
                acl: try buffer.readACLVector("CreateContainerTxn.acl") ?? [],
                ephemeral: false,
                parentCVersion: try buffer.readJuteInt("CreateContainerTxn.parentCVersion")))
        case .createTTL:
            let path = try buffer.readJuteNonNullString("CreateTTLTxn.path")
            let data = try buffer.readJuteBuffer("CreateTTLTxn.data")
            let acl = try buffer.readACLVector("CreateTTLTxn.acl") ?? []
            let parentCVersion = try buffer.readJuteInt("CreateTTLTxn.parentCVersion")
            let ttl = try buffer.readJuteLong("CreateTTLTxn.ttl")
            return .createTTL(CreateTxn(
                path: path, data: data, acl: acl, ephemeral: false, parentCVersion: parentCVersion, ttl: ttl))
        case .delete:
            return .delete(path: try buffer.readJuteNonNullString("DeleteTxn.path"))
        case .deleteContainer:
            return .deleteContainer(path: try buffer.readJuteNonNullString("DeleteTxn.path"))
        case .setData:
            return .setData(
                path: try buffer.readJuteNonNullString("SetDataTxn.path"),
                data: try buffer.readJuteBuffer("SetDataTxn.data"),
                version: try buffer.readJuteInt("SetDataTxn.version"))
        case .setACL:
            return .setACL(
                path: try buffer.readJuteNonNullString("SetACLTxn.path"),
                acl: try buffer.readACLVector("SetACLTxn.acl") ?? [],
                version: try buffer.readJuteInt("SetACLTxn.version"))
        case .check:
            return .check(
                path: try buffer.readJuteNonNullString("CheckVersionTxn.path"),
                version: try buffer.readJuteInt("CheckVersionTxn.version"))
        case .createSession:
            return .createSession(timeoutMs: try buffer.readJuteInt("CreateSessionTxn.timeOut"))
        case .closeSession:
            // Logs written before CloseSessionTxn existed have an empty body.
            if buffer.readableBytes == 0 { return .closeSession(pathsToDelete: []) }
            return .closeSession(pathsToDelete: try buffer.readJuteStringVector("CloseSessionTxn.paths2Delete") ?? [])
        case .error:
            let raw = try buffer.readJuteInt("ErrorTxn.err")
            return .error(ErrorCode(rawValue: raw) ?? .systemError)
        case .multi:
            guard let count = try buffer.readJuteVectorCount("MultiTxn.txns", minimumElementBytes: 8) else {
                return .multi([])
            }
            var txns: [TxnBody] = []
            for _ in 0..<count {
                let subType = try buffer.readJuteInt("Txn.type")
                // A multi never nests: refuse before decoding, so hostile input cannot recurse.
                if subType == OpCode.multi.rawValue {
                    throw JuteDecodingError.invalidValue(field: "Txn.type", value: Int64(subType))
                }
                guard let bytes = try buffer.readJuteBuffer("Txn.data") else {
                    throw JuteDecodingError.truncated(field: "Txn.data")
                }
                var inner = ByteBufferAllocator().buffer(bytes: bytes)
                let body = try TxnBody.decode(type: subType, from: &inner)
                if case .multi = body {
                    throw JuteDecodingError.invalidValue(field: "Txn.type", value: Int64(subType))
                }
                txns.append(body)
            }
            return .multi(txns)
        default:
            throw JuteDecodingError.invalidValue(field: "TxnHeader.type", value: Int64(type))
        }
    }
}

/// One logged transaction: header plus body. Applying it is idempotent (fuzzy snapshot replay).
public struct Txn: Sendable, Hashable {
    public var header: TxnHeader
    public var body: TxnBody

    public init(header: TxnHeader, body: TxnBody) {
        self.header = header
        self.body = body
    }

    public var zxid: Int64 { header.zxid }

    public func encode(into buffer: inout ByteBuffer) {
        header.encode(into: &buffer)
        body.encode(into: &buffer)
    }

    public static func decode(from buffer: inout ByteBuffer) throws -> Txn {
        let header = try TxnHeader(from: &buffer)
        let body = try TxnBody.decode(type: header.type, from: &buffer)
        return Txn(header: header, body: body)
    }
}
