import Logging
import NIOCore
import NIOSSL
import NIOTLS
import ZKConfig

/// What the secure port learned from the TLS handshake: the subject DN (RFC 2253, as Java prints
/// it) of the client's verified certificate, nil when the client presented none.
struct ClientCertificateIdentity {
    var subject: String?
}

/// Right after NIOSSLServerHandler on a `secureClientPort` connection. It holds the connection back
/// from the client pipeline until the handshake finishes (as NettyServerCnxnFactory adds the
/// connection only then), turns the client certificate into its identity, and closes the
/// connection when the handshake fails or takes longer than `ssl.handshakeDetectionTimeoutMillis`.
/// Every refusal is one log line and closes this connection only.
final class TLSHandshakeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum State {
        case handshaking
        case established
        case refused
    }

    private let settings: ClientTLSConfiguration
    private let logger: Logger
    private var state = State.handshaking
    private var timeout: Scheduled<Void>?

    /// Told of handshakes in progress and of unsuccessful ones (the server's metrics); on its loop.
    private let node: ServerNode?
    private var counted = false

    init(settings: ClientTLSConfiguration, logger: Logger, node: ServerNode? = nil) {
        self.settings = settings
        self.logger = logger
        self.node = node
    }

    /// The handshake is over (or the connection is): no longer outstanding.
    private func handshakeEnded() {
        guard counted else { return }
        counted = false
        node?.noteTLSHandshake(inProgress: false)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startTimer(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        // Not passed on: the client pipeline sees the connection once the handshake is done.
        startTimer(context: context)
    }

    private func startTimer(context: ChannelHandlerContext) {
        guard timeout == nil, state == .handshaking else { return }
        if !counted, let node {
            counted = true
            node.noteTLSHandshake(inProgress: true)
        }
        let limitMs = settings.handshakeTimeoutMs
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: .milliseconds(Int64(limitMs))) {
            let (handler, context) = loopBound.value
            handler.refuse(context: context, "TLS handshake did not finish within \(limitMs) ms (ssl.handshakeDetectionTimeoutMillis)")
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        timeout = nil
        handshakeEnded()
        if state == .established { context.fireChannelInactive() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard state == .handshaking, let tlsEvent = event as? TLSUserEvent,
              case .handshakeCompleted = tlsEvent
        else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        timeout?.cancel()
        timeout = nil
        handshakeEnded()
        let certificate: NIOSSLCertificate?
        do {
            certificate = try context.pipeline.syncOperations.nioSSL_peerCertificate()
        } catch {
            refuse(context: context, "cannot read the client certificate: \(error)")
            return
        }
        var subject: String?
        if let certificate, settings.clientAuthentication != .none {
            // NettyServerCnxnFactory.CertificateVerifier: a certificate needs the provider named by
            // ssl.authProvider, which ZooKeeper registers only through authProvider.N.
            guard settings.x509ProviderEnabled else {
                refuse(context: context, "X509 auth provider not found: \(settings.authProviderScheme) (add authProvider.1=\(ClientTLSConfiguration.x509ProviderClassName))")
                return
            }
            do {
                subject = try X509DistinguishedName.subject(ofCertificate: try certificate.toDERBytes())
            } catch {
                refuse(context: context, "cannot read the client certificate's subject: \(error)")
                return
            }
        } else if settings.clientAuthentication == .need {
            refuse(context: context, "no client certificate, and ssl.clientAuth=need")
            return
        }
        state = .established
        logger.debug("TLS client \(context.remoteAddress?.description ?? "?") authenticated as \(subject.map { "x509:\($0)" } ?? "nobody")")
        context.fireUserInboundEventTriggered(ClientCertificateIdentity(subject: subject))
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // NIOSSL delivers application data only after the handshake; drop anything else.
        if state == .established { context.fireChannelRead(data) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard state == .handshaking else {
            // Most clients (kazoo, the Java client) drop the socket without a TLS close_notify:
            // an ordinary end of a connection, not worth a warning.
            if let tlsError = error as? NIOSSLError, case .uncleanShutdown = tlsError {
                logger.debug("TLS client \(context.remoteAddress?.description ?? "?") closed without close_notify")
                context.close(promise: nil)
                return
            }
            if state == .established { context.fireErrorCaught(error) }
            return
        }
        refuse(context: context, "TLS handshake failed: \(error)")
    }

    private func refuse(context: ChannelHandlerContext, _ reason: String) {
        guard state == .handshaking else { return }
        state = .refused
        timeout?.cancel()
        timeout = nil
        handshakeEnded()
        node?.noteUnsuccessfulHandshake()
        logger.warning("closing secure connection from \(context.remoteAddress?.description ?? "?"): \(reason)")
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension TLSHandshakeHandler: Sendable {}
