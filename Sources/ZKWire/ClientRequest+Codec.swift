import NIOCore
import ZKBase

/// MultiHeader{type, done, err}: a multi is a run of (header + op record) ended by {-1, true, -1}.
public struct MultiHeader: Sendable, Hashable, JuteRecord {
    public var type: Int32
    public var done: Bool
    public var err: Int32

    public init(type: Int32, done: Bool, err: Int32) {
        self.type = type
        self.done = done
        self.err = err
    }

    public static let end = MultiHeader(type: -1, done: true, err: -1)

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteInt(type)
        buffer.writeJuteBool(done)
        buffer.writeJuteInt(err)
    }

    public init(from buffer: inout ByteBuffer) throws {
        type = try buffer.readJuteInt("MultiHeader.type")
        done = try buffer.readJuteBool("MultiHeader.done")
        err = try buffer.readJuteInt("MultiHeader.err")
    }
}

extension CreateRequest {
    func encode(into buffer: inout ByteBuffer, withTTL: Bool) {
        buffer.writeJuteString(path)
        buffer.writeJuteBuffer(data)
        buffer.writeACLVector(acl)
        buffer.writeJuteInt(flags)
        if withTTL { buffer.writeJuteLong(ttl) }
    }

    static func decode(from buffer: inout ByteBuffer, withTTL: Bool) throws -> CreateRequest {
        let path = try buffer.readJuteNonNullString("CreateRequest.path")
        let data = try buffer.readJuteBuffer("CreateRequest.data")
        let acl = try buffer.readACLVector("CreateRequest.acl") ?? []
        let flags = try buffer.readJuteInt("CreateRequest.flags")
        let ttl = withTTL ? try buffer.readJuteLong("CreateTTLRequest.ttl") : 0
        return CreateRequest(path: path, data: data, acl: acl, flags: flags, ttl: ttl)
    }
}

extension ClientRequest {
    /// The largest number of operations a multi may hold; each takes at least a 9-byte header,
    /// so a frame within jute.maxbuffer holds far fewer, and this only bounds hostile input.
    public static let multiOperationsMax = 1 << 20

    /// Decodes RequestHeader + body from one frame's payload (the length prefix already removed).
    public static func decode(from buffer: inout ByteBuffer) throws -> ClientRequest {
        let header = try RequestHeader(from: &buffer)
        guard let opCode = OpCode(rawValue: header.type) else {
            return ClientRequest(xid: header.xid, opCodeRaw: header.type, body: .unknown(type: header.type))
        }
        let body = try decodeBody(opCode: opCode, rawType: header.type, from: &buffer)
        return ClientRequest(xid: header.xid, opCodeRaw: header.type, body: body)
    }

    static func decodeBody(opCode: OpCode, rawType: Int32, from buffer: inout ByteBuffer) throws -> RequestBody {
        switch opCode {
        case .create, .create2, .createContainer:
            return .create(opCode: opCode, try CreateRequest.decode(from: &buffer, withTTL: false))
        case .createTTL:
            return .create(opCode: opCode, try CreateRequest.decode(from: &buffer, withTTL: true))
        case .delete, .deleteContainer:
            return .delete(
                path: try buffer.readJuteNonNullString("DeleteRequest.path"),
                version: try buffer.readJuteInt("DeleteRequest.version"))
        case .exists:
            return .exists(
                path: try buffer.readJuteNonNullString("ExistsRequest.path"),
                watch: try buffer.readJuteBool("ExistsRequest.watch"))
        case .getData:
            return .getData(
                path: try buffer.readJuteNonNullString("GetDataRequest.path"),
                watch: try buffer.readJuteBool("GetDataRequest.watch"))
        case .setData:
            return .setData(
                path: try buffer.readJuteNonNullString("SetDataRequest.path"),
                data: try buffer.readJuteBuffer("SetDataRequest.data"),
                version: try buffer.readJuteInt("SetDataRequest.version"))
        case .getACL:
            return .getACL(path: try buffer.readJuteNonNullString("GetACLRequest.path"))
        case .setACL:
            return .setACL(
                path: try buffer.readJuteNonNullString("SetACLRequest.path"),
                acl: try buffer.readACLVector("SetACLRequest.acl") ?? [],
                version: try buffer.readJuteInt("SetACLRequest.version"))
        case .getChildren, .getChildren2:
            return .getChildren(
                opCode: opCode, path: try buffer.readJuteNonNullString("GetChildrenRequest.path"),
                watch: try buffer.readJuteBool("GetChildrenRequest.watch"))
        case .sync:
            return .sync(path: try buffer.readJuteNonNullString("SyncRequest.path"))
        case .check:
            return .check(
                path: try buffer.readJuteNonNullString("CheckVersionRequest.path"),
                version: try buffer.readJuteInt("CheckVersionRequest.version"))
        case .multi, .multiRead:
            do {
                let operations = try decodeMultiOperations(from: &buffer)
                // Decoded, but of the wrong kind for the opcode: processing fails with MarshallingError.
                if operations.contains(where: { $0.isRead != (opCode == .multiRead) }) { return .wrongKindMulti(opCode: opCode) }
                return opCode == .multi ? .multi(operations) : .multiRead(operations)
            } catch JuteDecodingError.invalidValue(field: "MultiHeader.type", _) {
                return .malformedMulti
            }
        case .reconfig:
            return .reconfig(
                joiningServers: try buffer.readJuteString("ReconfigRequest.joiningServers"),
                leavingServers: try buffer.readJuteString("ReconfigRequest.leavingServers"),
                newMembers: try buffer.readJuteString("ReconfigRequest.newMembers"),
                currentConfigId: try buffer.readJuteLong("ReconfigRequest.curConfigId"))
        case .checkWatches:
            return .checkWatches(
                path: try buffer.readJuteNonNullString("CheckWatchesRequest.path"),
                type: try buffer.readJuteInt("CheckWatchesRequest.type"))
        case .removeWatches:
            return .removeWatches(
                path: try buffer.readJuteNonNullString("RemoveWatchesRequest.path"),
                type: try buffer.readJuteInt("RemoveWatchesRequest.type"))
        case .auth:
            return .auth(
                type: try buffer.readJuteInt("AuthPacket.type"),
                scheme: try buffer.readJuteNonNullString("AuthPacket.scheme"),
                auth: try buffer.readJuteBuffer("AuthPacket.auth") ?? [])
        case .setWatches, .setWatches2:
            return .setWatches(opCode: opCode, try decodeSetWatches(from: &buffer, version2: opCode == .setWatches2))
        case .getEphemerals:
            return .getEphemerals(prefixPath: try buffer.readJuteNonNullString("GetEphemeralsRequest.prefixPath"))
        case .getAllChildrenNumber:
            return .getAllChildrenNumber(path: try buffer.readJuteNonNullString("GetAllChildrenNumberRequest.path"))
        case .addWatch:
            return .addWatch(
                path: try buffer.readJuteNonNullString("AddWatchRequest.path"),
                mode: try buffer.readJuteInt("AddWatchRequest.mode"))
        case .whoAmI:
            return .whoAmI
        case .ping:
            return .ping
        case .closeSession:
            return .closeSession
        case .sasl:
            return .sasl
        case .notification, .createSession, .error:
            return .unknown(type: rawType)
        }
    }

    static func decodeSetWatches(from buffer: inout ByteBuffer, version2: Bool) throws -> SetWatchesRequest {
        var request = SetWatchesRequest(relativeZxid: try buffer.readJuteLong("SetWatches.relativeZxid"))
        request.dataWatches = try buffer.readJuteStringVector("SetWatches.dataWatches") ?? []
        request.existWatches = try buffer.readJuteStringVector("SetWatches.existWatches") ?? []
        request.childWatches = try buffer.readJuteStringVector("SetWatches.childWatches") ?? []
        if version2 {
            request.persistentWatches = try buffer.readJuteStringVector("SetWatches2.persistentWatches") ?? []
            request.persistentRecursiveWatches =
                try buffer.readJuteStringVector("SetWatches2.persistentRecursiveWatches") ?? []
        }
        return request
    }

    /// MultiOperationRecord.deserialize: every op type a multi may carry is decoded; an unknown
    /// type, a TTL mode sent without its TTL, or read ops mixed with write ops fail the whole record
    /// (JuteDecodingError.invalidValue on "MultiHeader.type", answered with MarshallingError).
    static func decodeMultiOperations(from buffer: inout ByteBuffer) throws -> [MultiOperation] {
        var operations: [MultiOperation] = []
        var readKind: Bool? = nil
        while true {
            let header = try MultiHeader(from: &buffer)
            if header.done { return operations }
            guard operations.count < multiOperationsMax else {
                throw JuteDecodingError.lengthOutOfRange(field: "MultiHeader", length: Int32(operations.count))
            }
            let invalid = JuteDecodingError.invalidValue(field: "MultiHeader.type", value: Int64(header.type))
            guard let opCode = OpCode(rawValue: header.type) else { throw invalid }
            let operation: MultiOperation
            switch opCode {
            case .create, .create2, .createContainer, .createTTL:
                // The wire type is kept (the record re-encodes byte for byte); ZooKeeper then
                // handles the op by its flags (`MultiOperation.asZooKeeperRebuildsIt`).
                let request = try CreateRequest.decode(from: &buffer, withTTL: opCode == .createTTL)
                if opCode != .createTTL && Self.multiCreateOpCode(flags: request.flags) == .createTTL {
                    operation = .createTTLWithoutTTL(request)
                } else {
                    operation = .create(opCode: opCode, request)
                }
            case .delete:
                operation = .delete(
                    path: try buffer.readJuteNonNullString("DeleteRequest.path"),
                    version: try buffer.readJuteInt("DeleteRequest.version"))
            case .setData:
                operation = .setData(
                    path: try buffer.readJuteNonNullString("SetDataRequest.path"),
                    data: try buffer.readJuteBuffer("SetDataRequest.data"),
                    version: try buffer.readJuteInt("SetDataRequest.version"))
            case .check:
                operation = .check(
                    path: try buffer.readJuteNonNullString("CheckVersionRequest.path"),
                    version: try buffer.readJuteInt("CheckVersionRequest.version"))
            case .getChildren:
                // Op.GetChildren is sent as a full GetChildrenRequest, watch flag included.
                let path = try buffer.readJuteNonNullString("GetChildrenRequest.path")
                _ = try buffer.readJuteBool("GetChildrenRequest.watch")
                operation = .getChildren(path: path)
            case .getData:
                let path = try buffer.readJuteNonNullString("GetDataRequest.path")
                _ = try buffer.readJuteBool("GetDataRequest.watch")
                operation = .getData(path: path)
            default:
                throw invalid
            }
            let isRead = operation.isRead
            if let kind = readKind, kind != isRead { throw invalid }
            readKind = isRead
            operations.append(operation)
        }
    }

    static func multiCreateOpCode(flags: Int32) -> OpCode {
        switch CreateMode(rawValue: flags) {
        case .container: return .createContainer
        case .persistentWithTTL, .persistentSequentialWithTTL: return .createTTL
        default: return .create
        }
    }

    /// Encodes RequestHeader + body (what a client sends; used by tests and the load generator).
    public func encode(into buffer: inout ByteBuffer) {
        RequestHeader(xid: xid, type: opCodeRaw).encode(into: &buffer)
        switch body {
        case .create(let opCode, let request):
            request.encode(into: &buffer, withTTL: opCode == .createTTL)
        case .delete(let path, let version), .check(let path, let version):
            buffer.writeJuteString(path)
            buffer.writeJuteInt(version)
        case .exists(let path, let watch), .getData(let path, let watch), .getChildren(_, let path, let watch):
            buffer.writeJuteString(path)
            buffer.writeJuteBool(watch)
        case .setData(let path, let data, let version):
            buffer.writeJuteString(path)
            buffer.writeJuteBuffer(data)
            buffer.writeJuteInt(version)
        case .getACL(let path), .sync(let path), .getEphemerals(let path), .getAllChildrenNumber(let path):
            buffer.writeJuteString(path)
        case .setACL(let path, let acl, let version):
            buffer.writeJuteString(path)
            buffer.writeACLVector(acl)
            buffer.writeJuteInt(version)
        case .multi(let operations), .multiRead(let operations):
            for operation in operations { Self.encode(operation, into: &buffer) }
            MultiHeader.end.encode(into: &buffer)
        case .reconfig(let joining, let leaving, let newMembers, let configId):
            buffer.writeJuteString(joining)
            buffer.writeJuteString(leaving)
            buffer.writeJuteString(newMembers)
            buffer.writeJuteLong(configId)
        case .checkWatches(let path, let type), .removeWatches(let path, let type), .addWatch(let path, let type):
            buffer.writeJuteString(path)
            buffer.writeJuteInt(type)
        case .auth(let type, let scheme, let auth):
            buffer.writeJuteInt(type)
            buffer.writeJuteString(scheme)
            buffer.writeJuteBuffer(auth)
        case .setWatches(let opCode, let request):
            buffer.writeJuteLong(request.relativeZxid)
            buffer.writeJuteStringVector(request.dataWatches)
            buffer.writeJuteStringVector(request.existWatches)
            buffer.writeJuteStringVector(request.childWatches)
            if opCode == .setWatches2 {
                buffer.writeJuteStringVector(request.persistentWatches)
                buffer.writeJuteStringVector(request.persistentRecursiveWatches)
            }
        case .whoAmI, .ping, .closeSession, .sasl, .unknown, .malformedMulti, .wrongKindMulti:
            break
        }
    }

    static func encode(_ operation: MultiOperation, into buffer: inout ByteBuffer) {
        let wireType = operation.isTTLWithoutTTL ? OpCode.create : operation.opCode
        MultiHeader(type: wireType.rawValue, done: false, err: -1).encode(into: &buffer)
        switch operation {
        case .create(let opCode, let request):
            request.encode(into: &buffer, withTTL: opCode == .createTTL)
        case .createTTLWithoutTTL(let request):
            request.encode(into: &buffer, withTTL: false)
        case .delete(let path, let version), .check(let path, let version):
            buffer.writeJuteString(path)
            buffer.writeJuteInt(version)
        case .setData(let path, let data, let version):
            buffer.writeJuteString(path)
            buffer.writeJuteBuffer(data)
            buffer.writeJuteInt(version)
        case .getChildren(let path), .getData(let path):
            buffer.writeJuteString(path)
            buffer.writeJuteBool(false)
        }
    }
}
