import NIOCore
import ZKBase
import ZKWire
import ZKZab

/// What arrives on an election-port connection: the initial message (only on connections the
/// other side opened), then notification frames.
enum ElectionInbound {
    case handshake(ElectionHandshake)
    case notification(ElectionNotificationMessage)
}

struct ElectionDecoder: ByteToMessageDecoder {
    typealias InboundOut = ElectionInbound
    var expectsHandshake: Bool

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if expectsHandshake {
            guard let handshake = try ElectionHandshake.decode(from: &buffer) else { return .needMoreData }
            expectsHandshake = false
            context.fireChannelRead(wrapInboundOut(.handshake(handshake)))
            return .continue
        }
        guard let payload = try ElectionNotificationMessage.readFrame(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(.notification(try ElectionNotificationMessage(payload: payload))))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        .needMoreData
    }
}

/// Quorum packets, and on a learner's connection the snapshot stream after SNAP, which goes to
/// the store's sink as it arrives; the core gets the SNAP once the whole stream has been read.
struct QuorumDecoder: ByteToMessageDecoder {
    typealias InboundOut = ZabMessage
    var stream = QuorumStreamDecoder(leavesSnapshotStream: true)
    /// Where snapshot streams go (nil on connections a leader accepted: no SNAP comes that way).
    let snapshotSinks: (any ZabStore)?
    var receiving: (zxid: Zxid, sink: any ZabSnapshotSink)?

    init(snapshotSinks: (any ZabStore)?) { self.snapshotSinks = snapshotSinks }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if let (zxid, sink) = receiving {
            guard try sink.consume(&buffer) else { return .needMoreData }
            receiving = nil
            context.fireChannelRead(wrapInboundOut(.snap(zxid, snapshot: sink.snapshotBytes)))
            return .continue
        }
        guard let message = try stream.next(from: &buffer) else { return .needMoreData }
        if case .snap(let zxid, _) = message {
            guard let snapshotSinks else { throw QuorumWireError.malformed("SNAP on a connection that is not a learner's") }
            receiving = (zxid, snapshotSinks.snapshotSink(zxid))
            return .continue
        }
        context.fireChannelRead(wrapInboundOut(message))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        .needMoreData
    }
}

/// Hands an election connection's events to the peer (all on the peer's one event loop).
final class ElectionHandler: ChannelInboundHandler {
    typealias InboundIn = ElectionInbound
    let peer: ZabPeer
    /// The server id at the other end: known from the start on connections we opened.
    var remote: ServerID?

    init(peer: ZabPeer, remote: ServerID?) {
        self.peer = peer
        self.remote = remote
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .handshake(let handshake):
            remote = handshake.serverId
            peer.electionHandshake(from: handshake.serverId, channel: context.channel)
        case .notification(let message):
            guard let remote else { return context.close(promise: nil) }
            peer.electionMessage(message, from: remote)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let remote { peer.electionChannelClosed(remote, context.channel) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        peer.logPeerError("election connection to \(remote.map(String.init) ?? "?")", error)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ElectionHandler: Sendable {}

final class QuorumHandler: ChannelInboundHandler {
    typealias InboundIn = ZabMessage
    let peer: ZabPeer
    let link: LinkID

    init(peer: ZabPeer, link: LinkID) {
        self.peer = peer
        self.link = link
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        peer.quorumMessage(unwrapInboundIn(data), on: link)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        peer.quorumReadComplete(link)
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer.quorumChannelClosed(link)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        peer.logPeerError("quorum \(link)", error)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension QuorumHandler: Sendable {}
