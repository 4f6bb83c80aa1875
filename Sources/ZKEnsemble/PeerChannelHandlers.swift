import NIOCore
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

struct QuorumDecoder: ByteToMessageDecoder {
    typealias InboundOut = ZabMessage
    var stream: QuorumStreamDecoder

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let message = try stream.next(from: &buffer) else { return .needMoreData }
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
