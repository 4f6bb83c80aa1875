import NIOCore
import NIOHTTP1

/// One admin connection: reads one request, answers it, closes. Runs on the node loop.
final class AdminHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case reading(AdminRoute, isHead: Bool, bodyBytes: Int)
        case answered
    }

    private let server: AdminServer
    private var state = State.idle
    private var counted = false
    private var requestDeadline: Scheduled<Void>?

    init(server: AdminServer) { self.server = server }

    func channelActive(context: ChannelHandlerContext) {
        counted = server.connectionOpened()
        if !counted {
            context.close(promise: nil)
        } else {
            let channel = context.channel
            requestDeadline = context.eventLoop.scheduleTask(in: server.requestTimeout) { channel.close(promise: nil) }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted { server.connectionClosed() }
        counted = false
        requestDeadline?.cancel()
        requestDeadline = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .idle):
            let route = AdminRoute.of(method: head.method, uri: head.uri, commandURL: server.commandURL, limits: server.limits)
            state = .reading(route, isHead: head.method == .HEAD, bodyBytes: 0)
        case (.body(let chunk), .reading(let route, let isHead, let bodyBytes)):
            let total = bodyBytes + chunk.readableBytes
            guard total <= server.limits.bodyBytesMax else {
                return respond(context, status: .payloadTooLarge, contentType: "text/plain; charset=utf-8",
                               body: "request body too large\n", isHead: isHead)
            }
            state = .reading(route, isHead: isHead, bodyBytes: total)
        case (.end, .reading(let route, let isHead, _)):
            answer(route, isHead: isHead, context: context)
        default:
            // Anything after the answer (a pipelined request) is dropped: the connection is closing.
            break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func answer(_ route: AdminRoute, isHead: Bool, context: ChannelHandlerContext) {
        switch route {
        case .listing:
            let body = AdminCommands.primaryNames.map { "<a href=\"\(server.commandURL)/\($0)\">\($0)</a>\n<br/>\n" }.joined()
            respond(context, status: .ok, contentType: "text/html; charset=utf-8", body: body, isHead: isHead)
        case .command(let name):
            let body = AdminCommands.response(to: name, node: server.node).jacksonPretty
            respond(context, status: .ok, contentType: "application/json", body: body, isHead: isHead)
        case .notFound:
            respond(context, status: .notFound, contentType: "text/plain; charset=utf-8", body: "not found\n", isHead: isHead)
        case .methodNotAllowed:
            respond(context, status: .methodNotAllowed, contentType: "text/plain; charset=utf-8",
                    body: "HTTP method not supported by this URL\n", isHead: isHead)
        case .badRequest:
            respond(context, status: .badRequest, contentType: "text/plain; charset=utf-8", body: "bad request\n", isHead: isHead)
        case .uriTooLong:
            respond(context, status: .uriTooLong, contentType: "text/plain; charset=utf-8", body: "URI too long\n", isHead: isHead)
        }
    }

    private func respond(_ context: ChannelHandlerContext, status: HTTPResponseStatus, contentType: String, body: String, isHead: Bool) {
        state = .answered
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        headers.add(name: "Connection", value: "close")
        if status == .methodNotAllowed { headers.add(name: "Allow", value: "GET, HEAD") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if !isHead {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

@available(*, unavailable)
extension AdminHTTPHandler: Sendable {}
