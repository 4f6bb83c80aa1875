import NIOCore
import ZKBase
import ZKWire

/// ZabMessage <-> ZooKeeper 3.8's QuorumPacket (docs/QUORUM-PROTOCOL.md section 3).
extension ZabMessage {
    /// The packet this message is on the wire. A SNAP's snapshot stream is not in the packet:
    /// it follows it on the stream (`wireBytes` writes both).
    public var quorumPacket: QuorumPacket {
        switch self {
        case .learnerInfo(let sid, let epoch, let observer, let version):
            var data = ByteBufferAllocator().buffer(capacity: 20)
            data.writeJuteLong(sid)
            data.writeJuteInt(version)
            data.writeJuteLong(0)  // configVersion: static configs are version 0
            return QuorumPacket(observer ? .observerInfo : .followerInfo, zxid: Zxid.epochStart(epoch).rawValue,
                                data: data.readBytes(length: data.readableBytes))
        case .leaderInfo(let epoch, let version):
            return QuorumPacket(.leaderInfo, zxid: Zxid.epochStart(epoch).rawValue, data: int32Bytes(version))
        case .ackEpoch(let lastLogged, let currentEpoch):
            return QuorumPacket(.ackEpoch, zxid: lastLogged.rawValue, data: int32Bytes(Int32(truncatingIfNeeded: currentEpoch)))
        case .diff(let zxid): return QuorumPacket(.diff, zxid: zxid.rawValue)
        case .trunc(let zxid): return QuorumPacket(.trunc, zxid: zxid.rawValue)
        case .snap(let zxid, _): return QuorumPacket(.snap, zxid: zxid.rawValue)
        // NEWLEADER's data is the config text; ZooKeeper learners read it only when longer than
        // one byte and use it only with reconfig on, so static ensembles send it empty.
        case .newLeader(let zxid): return QuorumPacket(.newLeader, zxid: zxid.rawValue, data: [])
        case .ack(let zxid): return QuorumPacket(.ack, zxid: zxid.rawValue)
        case .upToDate: return QuorumPacket(.upToDate, zxid: -1)
        case .proposal(let entry): return QuorumPacket(.proposal, zxid: entry.zxid.rawValue, data: entry.payload)
        case .commit(let zxid): return QuorumPacket(.commit, zxid: zxid.rawValue)
        case .inform(let entry): return QuorumPacket(.inform, zxid: entry.zxid.rawValue, data: entry.payload)
        // A learner's PING reply carries its session touches ({long id, int timeout}*); ZooKeeper's
        // leader reads the data unconditionally, so it must not be null (an empty list is fine).
        case .ping(let zxid, let touches):
            guard let touches else { return QuorumPacket(.ping, zxid: zxid.rawValue) }
            var data = ByteBufferAllocator().buffer(capacity: touches.count * 12)
            for touch in touches {
                data.writeJuteLong(touch.sessionId)
                data.writeJuteInt(touch.timeoutMs)
            }
            return QuorumPacket(.ping, zxid: zxid.rawValue, data: data.readBytes(length: data.readableBytes))
        case .request(let request):
            var data = ByteBufferAllocator().buffer(capacity: 16 + request.body.count)
            data.writeJuteLong(request.sessionId)
            data.writeJuteInt(request.cxid)
            data.writeJuteInt(request.type)
            data.writeBytes(request.body)
            return QuorumPacket(.request, zxid: -1, data: data.readBytes(length: data.readableBytes), authInfo: request.authInfo)
        case .sync: return QuorumPacket(.sync, zxid: 0)
        case .revalidate(let touch):
            var data = ByteBufferAllocator().buffer(capacity: 12)
            data.writeJuteLong(touch.sessionId)
            data.writeJuteInt(touch.timeoutMs)
            return QuorumPacket(.revalidate, zxid: -1, data: data.readBytes(length: 12))
        case .revalidated(let sessionId, let valid):
            var data = ByteBufferAllocator().buffer(capacity: 9)
            data.writeJuteLong(sessionId)
            data.writeJuteBool(valid)
            return QuorumPacket(.revalidate, zxid: -1, data: data.readBytes(length: 9))
        }
    }

    /// The bytes on the stream: the packet, and after a SNAP the snapshot stream.
    public func wireBytes() -> [UInt8] {
        var bytes = quorumPacket.encodedBytes()
        if case .snap(_, let snapshot) = self { bytes += snapshot }
        return bytes
    }

    /// The message a packet carries. Throws for packets the ZAB core does not take (REQUEST,
    /// REVALIDATE and SYNC belong to the session layer; reconfig packets are not supported) and
    /// for malformed ones: the shell closes that peer's connection and logs the reason.
    public init(packet: QuorumPacket, snapshot: [UInt8] = []) throws {
        guard let type = packet.knownType else { throw QuorumWireError.malformed("unknown packet type \(packet.type)") }
        let zxid = Zxid(packet.zxid)
        // Epochs beyond 2^31 - 1 cannot come from a sane peer (Zxid refuses to make them).
        switch type {
        case .followerInfo, .observerInfo, .leaderInfo, .newLeader:
            guard zxid.epoch >= 0 && zxid.epoch < Int64(Int32.max) else {
                throw QuorumWireError.malformed("\(type) with epoch \(zxid.epoch)")
            }
        default:
            break
        }
        switch type {
        case .followerInfo, .observerInfo:
            var data = ByteBufferAllocator().buffer(bytes: packet.data ?? [])
            guard let sid = data.readInteger(endianness: .big, as: Int64.self) else {
                throw QuorumWireError.malformed("\(type) without a LearnerInfo")
            }
            let version = data.readInteger(endianness: .big, as: Int32.self) ?? 0
            self = .learnerInfo(sid: sid, acceptedEpoch: zxid.epoch, observer: type == .observerInfo, protocolVersion: version)
        case .leaderInfo:
            self = .leaderInfo(newEpoch: zxid.epoch, protocolVersion: try Self.int32(packet.data, "LEADERINFO"))
        case .ackEpoch:
            self = .ackEpoch(lastLoggedZxid: zxid, currentEpoch: Int64(try Self.int32(packet.data, "ACKEPOCH")))
        case .diff: self = .diff(zxid)
        case .trunc: self = .trunc(zxid)
        case .snap: self = .snap(zxid, snapshot: snapshot)
        case .newLeader: self = .newLeader(zxid)
        case .ack: self = .ack(zxid)
        case .upToDate: self = .upToDate
        case .proposal: self = .proposal(ZabEntry(zxid: zxid, payload: packet.data ?? []))
        case .commit: self = .commit(zxid)
        case .inform: self = .inform(ZabEntry(zxid: zxid, payload: packet.data ?? []))
        case .ping:
            guard let bytes = packet.data else {
                self = .ping(zxid, touches: nil)
                return
            }
            guard bytes.count % 12 == 0 else { throw QuorumWireError.malformed("PING data of \(bytes.count) bytes") }
            var data = ByteBufferAllocator().buffer(bytes: bytes)
            var touches: [SessionTouch] = []
            while let id = data.readInteger(endianness: .big, as: Int64.self), let timeout = data.readInteger(endianness: .big, as: Int32.self) {
                touches.append(SessionTouch(sessionId: id, timeoutMs: timeout))
            }
            self = .ping(zxid, touches: touches)
        case .request:
            var data = ByteBufferAllocator().buffer(bytes: packet.data ?? [])
            guard let sessionId = data.readInteger(endianness: .big, as: Int64.self),
                  let cxid = data.readInteger(endianness: .big, as: Int32.self),
                  let opType = data.readInteger(endianness: .big, as: Int32.self) else {
                throw QuorumWireError.malformed("REQUEST shorter than its 16-byte header")
            }
            self = .request(ForwardedRequest(sessionId: sessionId, cxid: cxid, type: opType,
                                             body: data.readBytes(length: data.readableBytes) ?? [], authInfo: packet.authInfo))
        case .sync: self = .sync
        case .revalidate:
            // Learner.validateSession sends {long id, int timeout}; Leader.revalidateSession
            // answers {long id, boolean valid} in the same packet type.
            var data = ByteBufferAllocator().buffer(bytes: packet.data ?? [])
            guard let sessionId = data.readInteger(endianness: .big, as: Int64.self) else {
                throw QuorumWireError.malformed("REVALIDATE without a session id")
            }
            if data.readableBytes == 4, let timeout = data.readInteger(endianness: .big, as: Int32.self) {
                self = .revalidate(SessionTouch(sessionId: sessionId, timeoutMs: timeout))
            } else if data.readableBytes == 1, let valid = data.readInteger(as: UInt8.self) {
                self = .revalidated(sessionId: sessionId, valid: valid != 0)
            } else {
                throw QuorumWireError.malformed("REVALIDATE of \(packet.data?.count ?? 0) bytes")
            }
        case .commitAndActivate, .informAndActivate:
            throw QuorumWireError.malformed("\(type) is not handled by the ZAB core")
        }
    }

    static func int32(_ data: [UInt8]?, _ what: String) throws -> Int32 {
        guard let data, data.count >= 4 else { throw QuorumWireError.malformed("\(what) without its 4-byte field") }
        return data[0..<4].reduce(0) { $0 << 8 | Int32($1) }
    }
}

func int32Bytes(_ value: Int32) -> [UInt8] {
    [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
}

/// A quorum-port byte stream decoded into ZabMessages, a SNAP's snapshot stream included.
public struct QuorumStreamDecoder: Sendable {
    public var limits: QuorumWireLimits
    var pendingSnap: QuorumPacket?
    /// The snapshot stream has no length prefix, so finding its end means scanning it; each
    /// read resumes where the last scan stopped (a 190 MB stream read 64 KiB at a time would
    /// otherwise be rescanned from its start thousands of times).
    var snapScan: ZooKeeperSnapshotStream.ScanProgress

    /// When true, a SNAP is returned as soon as its packet has arrived, with no snapshot bytes:
    /// the caller reads the stream that follows itself (as it arrives, not whole).
    public var leavesSnapshotStream: Bool

    public init(limits: QuorumWireLimits = QuorumWireLimits(), leavesSnapshotStream: Bool = false) {
        self.limits = limits
        self.leavesSnapshotStream = leavesSnapshotStream
        snapScan = ZooKeeperSnapshotStream.ScanProgress(limits: limits)
    }

    /// The next message, or nil until its bytes have arrived. Throws on bytes a peer must not send.
    public mutating func next(from buffer: inout ByteBuffer) throws -> ZabMessage? {
        if let snap = pendingSnap {
            guard let length = try ZooKeeperSnapshotStream.length(of: buffer, limits: limits, resuming: &snapScan) else { return nil }
            snapScan = ZooKeeperSnapshotStream.ScanProgress(limits: limits)
            let snapshot = buffer.readBytes(length: length) ?? []
            pendingSnap = nil
            return try ZabMessage(packet: snap, snapshot: snapshot)
        }
        guard let packet = try QuorumPacket.decode(from: &buffer, limits: limits) else { return nil }
        if packet.knownType == .snap {
            if leavesSnapshotStream { return try ZabMessage(packet: packet, snapshot: []) }
            pendingSnap = packet
            return try next(from: &buffer)
        }
        return try ZabMessage(packet: packet)
    }
}

extension ElectionNotification {
    /// The FastLeaderElection message (version 2, empty config: a static ensemble's config is
    /// version 0 and a peer advertising a higher one would restart ZooKeeper's elections).
    public var wireMessage: ElectionNotificationMessage {
        ElectionNotificationMessage(state: state.rawValue, leader: vote.leader, zxid: vote.zxid.rawValue,
                                    electionEpoch: electionEpoch, peerEpoch: vote.peerEpoch)
    }

    /// The notification a peer's message carries; nil for a state ZooKeeper would drop.
    public init?(message: ElectionNotificationMessage, sender: ServerID) {
        guard let state = PeerState(rawValue: message.state) else { return nil }
        self.init(vote: Vote(leader: message.leader, zxid: Zxid(message.zxid), peerEpoch: message.peerEpoch),
                  electionEpoch: message.electionEpoch, state: state, sender: sender)
    }
}
