import NIOCore
import ZKBase


/// The digest ZooKeeper 3.6+ appends to a logged txn: the tree digest after applying it.
public struct ZooKeeperTxnDigest: Sendable, Equatable {
    public var version: Int32
    public var value: UInt64

    public init(version: Int32, value: UInt64) {
        self.version = version
        self.value = value
    }
}

/// Turns the bytes of one ZooKeeper log entry into a Paddock txn (`SerializeUtils.deserializeTxn`):
/// TxnHeader, the record of its type, then an optional TxnDigest {int version, long digest}.
/// The records are ZKWire's, which are ZooKeeper's; the exceptions ZooKeeper also makes:
/// - `reconfig` (16) carries a SetDataTxn (of /zookeeper/config): replayed as a setData;
/// - a `create` too short for parentCVersion is a pre-3.3 CreateTxnV0: parentCVersion -1;
/// - a `closeSession` may have no CloseSessionTxn (written with closeSessionTxn.enabled=false,
///   or before 3.6): the session's ephemerals are then found in the tree.
public enum ZooKeeperTxnDecoding {
    static let digestBytes = 12

    public struct Failure: Error {
        public var reason: String
    }

    public static func decode(_ bytes: [UInt8]) throws(Failure) -> (txn: Txn, digest: ZooKeeperTxnDigest?) {
        var buffer = ByteBufferAllocator().buffer(bytes: bytes)
        var header: TxnHeader
        do {
            header = try TxnHeader(from: &buffer)
        } catch {
            throw Failure(reason: "TxnHeader: \(error)")
        }
        let bodyStart = buffer
        var body: TxnBody
        switch header.type {
        case OpCode.reconfig.rawValue:
            header.type = OpCode.setData.rawValue
            body = try decodeBody(type: OpCode.setData.rawValue, &buffer)
        case OpCode.create.rawValue:
            do {
                body = try TxnBody.decode(type: header.type, from: &buffer)
            } catch {
                buffer = bodyStart
                body = try decodeCreateV0(&buffer)
            }
        case OpCode.closeSession.rawValue:
            body = decodeCloseSession(&buffer)
        default:
            body = try decodeBody(type: header.type, &buffer)
        }
        return (Txn(header: header, body: body), readDigest(&buffer))
    }

    private static func decodeBody(type: Int32, _ buffer: inout ByteBuffer) throws(Failure) -> TxnBody {
        do {
            return try TxnBody.decode(type: type, from: &buffer)
        } catch {
            let name = OpCode(rawValue: type).map { "\($0)" } ?? "unknown type \(type)"
            throw Failure(reason: "\(name) txn: \(error)")
        }
    }

    /// CreateTxnV0: path, data, acl, ephemeral (no parentCVersion).
    private static func decodeCreateV0(_ buffer: inout ByteBuffer) throws(Failure) -> TxnBody {
        do {
            let path = try buffer.readJuteNonNullString("CreateTxnV0.path")
            let data = try buffer.readJuteBuffer("CreateTxnV0.data")
            let acl = try buffer.readACLVector("CreateTxnV0.acl") ?? []
            let ephemeral = try buffer.readJuteBool("CreateTxnV0.ephemeral")
            return .create(CreateTxn(path: path, data: data, acl: acl, ephemeral: ephemeral, parentCVersion: -1))
        } catch {
            throw Failure(reason: "create txn (nor CreateTxnV0): \(error)")
        }
    }

    /// A CloseSessionTxn when the bytes hold exactly one (plus an optional digest); otherwise
    /// none, as ZooKeeper treats a close without its record.
    private static func decodeCloseSession(_ buffer: inout ByteBuffer) -> TxnBody {
        var attempt = buffer
        if let body = try? TxnBody.decode(type: OpCode.closeSession.rawValue, from: &attempt),
            attempt.readableBytes == 0 || attempt.readableBytes == digestBytes {
            buffer = attempt
            return body
        }
        return .closeSession(pathsToDelete: [])
    }

    /// ZooKeeper reads a digest when at least its 12 bytes follow; fewer means none.
    private static func readDigest(_ buffer: inout ByteBuffer) -> ZooKeeperTxnDigest? {
        guard buffer.readableBytes >= digestBytes,
            let version = buffer.readInteger(endianness: .big, as: Int32.self),
            let value = buffer.readInteger(endianness: .big, as: UInt64.self)
        else { return nil }
        return ZooKeeperTxnDigest(version: version, value: value)
    }

    /// The bytes ZooKeeper logs for `txn` (header, record, optional digest): the inverse of
    /// `decode`, for writing logs in tests and tools.
    public static func encode(_ txn: Txn, digest: ZooKeeperTxnDigest?) -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 128)
        txn.encode(into: &buffer)
        if let digest {
            buffer.writeInteger(digest.version, endianness: .big)
            buffer.writeInteger(digest.value, endianness: .big)
        }
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }
}
