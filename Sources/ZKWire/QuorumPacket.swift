import NIOCore
import ZKBase

/// Packet types of ZooKeeper's quorum port (`Leader` constants).
public enum QuorumPacketType: Int32, Sendable, CaseIterable {
    case request = 1
    case proposal = 2
    case ack = 3
    case commit = 4
    case ping = 5
    case revalidate = 6
    case sync = 7
    case inform = 8
    case commitAndActivate = 9
    case newLeader = 10
    case followerInfo = 11
    case upToDate = 12
    case diff = 13
    case trunc = 14
    case snap = 15
    case observerInfo = 16
    case leaderInfo = 17
    case ackEpoch = 18
    case informAndActivate = 19
}

/// `QuorumPacket{int type, long zxid, buffer data, vector<Id> authinfo}` (zookeeper.jute): what
/// members exchange on the quorum port, written back to back with no length prefix. After a
/// SNAP packet the leader writes a snapshot stream inline (`ZooKeeperSnapshotStream`).
public struct QuorumPacket: Sendable, Equatable, CustomStringConvertible {
    public var type: Int32
    public var zxid: Int64
    public var data: [UInt8]?
    public var authInfo: [Id]?

    public init(type: Int32, zxid: Int64, data: [UInt8]? = nil, authInfo: [Id]? = nil) {
        self.type = type
        self.zxid = zxid
        self.data = data
        self.authInfo = authInfo
    }

    public init(_ type: QuorumPacketType, zxid: Int64, data: [UInt8]? = nil, authInfo: [Id]? = nil) {
        self.init(type: type.rawValue, zxid: zxid, data: data, authInfo: authInfo)
    }

    public var knownType: QuorumPacketType? { QuorumPacketType(rawValue: type) }

    public var description: String {
        let name = knownType.map { "\($0)" } ?? "type \(type)"
        return "\(name) zxid \(ZxidMath.hex(zxid)) data \(data.map { "\($0.count) B" } ?? "null")"
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteInt(type)
        buffer.writeJuteLong(zxid)
        buffer.writeJuteBuffer(data)
        guard let authInfo else {
            buffer.writeJuteInt(-1)
            return
        }
        buffer.writeJuteInt(Int32(authInfo.count))
        for id in authInfo { id.encode(into: &buffer) }
    }

    public func encodedBytes() -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 24 + (data?.count ?? 0))
        encode(into: &buffer)
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }
}

/// Why a peer's bytes were refused. The connection to that peer is closed; nothing else happens.
public enum QuorumWireError: Error, Equatable, Sendable, CustomStringConvertible {
    case lengthOutOfRange(field: String, length: Int64, maximum: Int)
    case malformed(String)
    case unknownProtocolVersion(Int64)

    public var description: String {
        switch self {
        case .lengthOutOfRange(let field, let length, let maximum): return "\(field) length \(length) outside 0...\(maximum)"
        case .malformed(let what): return "malformed peer message: \(what)"
        case .unknownProtocolVersion(let version): return "unrecognized election protocol version \(version)"
        }
    }
}

/// Bounds on what a peer may send (STYLE.md: a limit on everything).
public struct QuorumWireLimits: Sendable {
    /// Largest `data` buffer or string in a packet: jute.maxbuffer plus its extrasize
    /// (BinaryInputArchive.checkLength), 2 x 0xfffff by default.
    public var bufferBytesMax: Int
    /// Ids in a packet's authinfo.
    public var authIdsMax: Int
    /// Largest snapshot stream a learner accepts after SNAP.
    public var snapshotBytesMax: Int
    /// Sessions, ACL lists and nodes in a snapshot stream.
    public var snapshotItemsMax: Int

    public init(bufferBytesMax: Int = 2 * 0xfffff, authIdsMax: Int = 64, snapshotBytesMax: Int = 16 << 30, snapshotItemsMax: Int = 100_000_000) {
        precondition(bufferBytesMax > 0 && authIdsMax >= 0 && snapshotBytesMax > 0 && snapshotItemsMax > 0)
        self.bufferBytesMax = bufferBytesMax
        self.authIdsMax = authIdsMax
        self.snapshotBytesMax = snapshotBytesMax
        self.snapshotItemsMax = snapshotItemsMax
    }
}

/// Peeks at bytes without consuming them: how long a record is, or nil when more bytes are needed.
struct QuorumScanner {
    let buffer: ByteBuffer
    var offset: Int
    let limits: QuorumWireLimits

    init(_ buffer: ByteBuffer, limits: QuorumWireLimits) {
        self.buffer = buffer
        self.offset = buffer.readerIndex
        self.limits = limits
    }

    var consumed: Int { offset - buffer.readerIndex }

    mutating func int() -> Int32? {
        guard let value = buffer.getInteger(at: offset, endianness: .big, as: Int32.self) else { return nil }
        offset += 4
        return value
    }

    mutating func long() -> Int64? {
        guard let value = buffer.getInteger(at: offset, endianness: .big, as: Int64.self) else { return nil }
        offset += 8
        return value
    }

    mutating func skip(_ count: Int) -> Bool {
        guard buffer.writerIndex - offset >= count else { return false }
        offset += count
        return true
    }

    /// A jute buffer or string: length (-1 = null) then bytes. Throws when the length is hostile.
    mutating func lengthPrefixed(_ field: String, maximum: Int) throws -> Bool {
        guard let length = int() else { return false }
        if length == -1 { return true }
        guard length >= 0, Int(length) <= maximum else {
            throw QuorumWireError.lengthOutOfRange(field: field, length: Int64(length), maximum: maximum)
        }
        return skip(Int(length))
    }

    /// The bytes one QuorumPacket takes, or nil if they have not all arrived.
    mutating func packet() throws -> Int? {
        let start = offset
        guard int() != nil, long() != nil, try lengthPrefixed("QuorumPacket.data", maximum: limits.bufferBytesMax) else { return nil }
        guard let count = int() else { return nil }
        if count != -1 {
            guard count >= 0, Int(count) <= limits.authIdsMax else {
                throw QuorumWireError.lengthOutOfRange(field: "QuorumPacket.authinfo", length: Int64(count), maximum: limits.authIdsMax)
            }
            for _ in 0..<count {
                guard try lengthPrefixed("Id.scheme", maximum: limits.bufferBytesMax),
                      try lengthPrefixed("Id.id", maximum: limits.bufferBytesMax) else { return nil }
            }
        }
        return offset - start
    }
}

extension QuorumPacket {
    /// Decodes one packet from the front of `buffer`; nil (nothing consumed) when it has not all
    /// arrived; throws when the bytes cannot be a packet within `limits`.
    public static func decode(from buffer: inout ByteBuffer, limits: QuorumWireLimits = QuorumWireLimits()) throws -> QuorumPacket? {
        var scanner = QuorumScanner(buffer, limits: limits)
        guard let length = try scanner.packet() else { return nil }
        guard var slice = buffer.readSlice(length: length) else { return nil }
        do {
            let type = try slice.readJuteInt("QuorumPacket.type")
            let zxid = try slice.readJuteLong("QuorumPacket.zxid")
            let data = try slice.readJuteBuffer("QuorumPacket.data")
            var authInfo: [Id]?
            if let count = try slice.readJuteVectorCount("QuorumPacket.authinfo", minimumElementBytes: 8) {
                var ids: [Id] = []
                ids.reserveCapacity(count)
                for _ in 0..<count { ids.append(try Id(from: &slice)) }
                authInfo = ids
            }
            return QuorumPacket(type: type, zxid: zxid, data: data, authInfo: authInfo)
        } catch {
            throw QuorumWireError.malformed("QuorumPacket: \(error)")
        }
    }
}
