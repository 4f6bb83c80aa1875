import Logging
import NIOCore
import ZKPipeline
import ZKWire

/// One client socket: decodes the connect request, then requests, and hands them to the node.
/// Bad input (undecodable records, a four-letter word mid-stream) closes this connection only.
final class ClientConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = InboundFrame
    typealias OutboundOut = ByteBuffer

    private let node: ServerNode
    private var connectionId: ConnectionID?
    private var handshakeDone = false
    /// On the secure port: the client certificate's subject, announced before channelActive.
    private var certificateSubject: String?

    /// On the secure client port (TLS) or the plain one.
    private let secure: Bool

    init(node: ServerNode, secure: Bool = false) {
        self.node = node
        self.secure = secure
    }

    func channelActive(context: ChannelHandlerContext) {
        connectionId = node.open(channel: context.channel, certificateSubject: certificateSubject, secure: secure)
        if connectionId == nil { context.close(promise: nil) }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let identity = event as? ClientCertificateIdentity {
            certificateSubject = identity.subject
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let connectionId { node.closed(connectionId) }
        connectionId = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let connectionId else { return }
        switch unwrapInboundIn(data) {
        case .fourLetterWord(let word):
            node.noteFourLetterWordReceived()
            node.noteClosingByServer(connectionId)
            let text = FourLetterWords.respond(word, node: node, connection: connectionId)
            var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
            buffer.writeString(text)
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            context.close(mode: .output, promise: nil)
        case .frame(var frame):
            node.noteBytesReceived(frame.readableBytes + 4)
            do {
                if !handshakeDone {
                    let request = try ConnectRequest(from: &frame)
                    handshakeDone = true
                    node.connect(connectionId, request)
                } else {
                    let request = try ClientRequest.decode(from: &frame)
                    node.receive(connectionId, request)
                }
            } catch {
                node.noteClosingByServer(connectionId)
                node.logger.warning("closing connection from \(context.remoteAddress?.description ?? "?"): undecodable \(handshakeDone ? "request" : "connect request"): \(error)")
                context.close(promise: nil)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        node.readCycleComplete()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let connectionId { node.writabilityChanged(connectionId, writable: context.channel.isWritable) }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let connectionId { node.noteClosingByServer(connectionId) }
        node.logger.warning("closing connection from \(context.remoteAddress?.description ?? "?"): \(error)")
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ClientConnectionHandler: Sendable {}
