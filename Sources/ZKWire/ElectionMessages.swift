import NIOCore
import ZKBase

/// QuorumCnxManager's initial message on the election port, sent once by the connecting side:
/// `long protocolVersion (-65536), long sid, int length, "host:port"` (V1; V2 = -65535 allows
/// `a|b` address lists). A first long >= 0 is a pre-3.5 peer that sent only its sid.
public struct ElectionHandshake: Sendable, Equatable {
    public static let protocolVersionV1: Int64 = -65536
    public static let protocolVersionV2: Int64 = -65535
    /// QuorumCnxManager.maxBuffer: the longest address string accepted.
    public static let addressBytesMax = 2048

    public var protocolVersion: Int64
    public var serverId: Int64
    public var address: String?

    public init(protocolVersion: Int64 = ElectionHandshake.protocolVersionV1, serverId: Int64, address: String?) {
        self.protocolVersion = protocolVersion
        self.serverId = serverId
        self.address = address
    }

    /// One buffer: ZooKeeper reads the address with a single read(), so it must go in one write.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteLong(protocolVersion)
        buffer.writeJuteLong(serverId)
        let bytes = Array((address ?? "").utf8)
        buffer.writeJuteInt(Int32(bytes.count))
        buffer.writeBytes(bytes)
    }

    /// Decodes the initial message; nil when it has not all arrived.
    public static func decode(from buffer: inout ByteBuffer) throws -> ElectionHandshake? {
        guard let first = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int64.self) else { return nil }
        if first >= 0 {
            buffer.moveReaderIndex(forwardBy: 8)
            return ElectionHandshake(protocolVersion: first, serverId: first, address: nil)
        }
        guard first == protocolVersionV1 || first == protocolVersionV2 else { throw QuorumWireError.unknownProtocolVersion(first) }
        guard let serverId = buffer.getInteger(at: buffer.readerIndex + 8, endianness: .big, as: Int64.self),
              let length = buffer.getInteger(at: buffer.readerIndex + 16, endianness: .big, as: Int32.self) else { return nil }
        guard length > 0, Int(length) <= addressBytesMax else {
            throw QuorumWireError.lengthOutOfRange(field: "election address", length: Int64(length), maximum: addressBytesMax)
        }
        guard buffer.readableBytes >= 20 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 20)
        let address = buffer.readString(length: Int(length))
        return ElectionHandshake(protocolVersion: first, serverId: serverId, address: address)
    }
}

/// One FastLeaderElection notification (`FastLeaderElection.buildMsg`), the payload of an
/// election frame: `int state, long leader, long zxid, long electionEpoch, long peerEpoch,
/// int version (2), int configLength, config` — 28- and 40-byte messages of older peers decode too.
public struct ElectionNotificationMessage: Sendable, Equatable {
    public static let currentVersion: Int32 = 2
    /// QuorumCnxManager.PACKETMAXSIZE: the largest frame payload.
    public static let frameBytesMax = 512 * 1024

    public var state: Int32
    public var leader: Int64
    public var zxid: Int64
    public var electionEpoch: Int64
    public var peerEpoch: Int64
    public var version: Int32
    public var config: [UInt8]

    public init(state: Int32, leader: Int64, zxid: Int64, electionEpoch: Int64, peerEpoch: Int64,
                version: Int32 = ElectionNotificationMessage.currentVersion, config: [UInt8] = []) {
        self.state = state
        self.leader = leader
        self.zxid = zxid
        self.electionEpoch = electionEpoch
        self.peerEpoch = peerEpoch
        self.version = version
        self.config = config
    }

    /// The frame: int length + payload.
    public func encodeFrame(into buffer: inout ByteBuffer) {
        buffer.writeJuteInt(Int32(44 + config.count))
        buffer.writeJuteInt(state)
        buffer.writeJuteLong(leader)
        buffer.writeJuteLong(zxid)
        buffer.writeJuteLong(electionEpoch)
        buffer.writeJuteLong(peerEpoch)
        buffer.writeJuteInt(version)
        buffer.writeJuteInt(Int32(config.count))
        buffer.writeBytes(config)
    }

    public func frameBytes() -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 48 + config.count)
        encodeFrame(into: &buffer)
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    /// Reads one frame's payload (int length, 1...512 KiB, then the bytes); nil until it has all arrived.
    public static func readFrame(from buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int32.self) else { return nil }
        guard length > 0, Int(length) <= frameBytesMax else {
            throw QuorumWireError.lengthOutOfRange(field: "election frame", length: Int64(length), maximum: frameBytesMax)
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readSlice(length: Int(length))
    }

    /// Decodes a payload as WorkerReceiver does: under 28 bytes is refused; 28 bytes have no peer
    /// epoch (it is the zxid's epoch); 40 bytes have no version; a config length beyond the
    /// payload is refused.
    public init(payload: ByteBuffer) throws {
        var payload = payload
        let size = payload.readableBytes
        guard size >= 28, let state = payload.readInteger(endianness: .big, as: Int32.self),
              let leader = payload.readInteger(endianness: .big, as: Int64.self),
              let zxid = payload.readInteger(endianness: .big, as: Int64.self),
              let round = payload.readInteger(endianness: .big, as: Int64.self) else {
            throw QuorumWireError.malformed("election notification of \(size) bytes")
        }
        self.init(state: state, leader: leader, zxid: zxid, electionEpoch: round, peerEpoch: zxid >> 32, version: 0)
        guard size > 28 else { return }
        guard let peerEpoch = payload.readInteger(endianness: .big, as: Int64.self) else {
            throw QuorumWireError.malformed("election notification of \(size) bytes")
        }
        self.peerEpoch = peerEpoch
        guard size > 40, let version = payload.readInteger(endianness: .big, as: Int32.self) else { return }
        self.version = version
        guard version > 1 else { return }
        guard let length = payload.readInteger(endianness: .big, as: Int32.self), length >= 0, Int(length) <= payload.readableBytes else {
            throw QuorumWireError.malformed("election notification config length")
        }
        self.config = payload.readBytes(length: Int(length)) ?? []
    }
}
