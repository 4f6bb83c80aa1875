import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ZKConfig

/// Bounds of the admin HTTP server. A request past any of them gets an HTTP error and its
/// connection is closed; other connections and the client port are unaffected.
struct AdminServerLimits: Sendable {
    /// The request target, in bytes. Jetty's whole request head defaults to 8 KiB; the
    /// longest command URL is far below this.
    var uriBytesMax = 4096
    /// The request head as a whole is bounded by NIOHTTP1's parser (80 KiB, llhttp's
    /// HTTP_MAX_HEADER_SIZE): past it the parser fails and the connection gets a 400.
    /// A GET has no body; a body past this is refused with 413.
    var bodyBytesMax = 16 << 10
    /// Open admin connections; one more is closed on accept.
    var connectionsMax = 64
}

/// ZooKeeper's AdminServer (JettyAdminServer): `GET <commandURL>` lists the commands as links,
/// `GET <commandURL>/<name>` runs one (`AdminCommands`) and answers with its JSON. Bound on the
/// server's single event loop, so handlers read the node directly, as the client handlers do.
/// Each response closes its connection (one request per connection keeps the state small).
final class AdminServer: @unchecked Sendable {
    let node: ServerNode
    let commandURL: String
    let limits: AdminServerLimits
    /// `admin.idleTimeout`: a connection silent this long is closed (IdleStateHandler), and a
    /// request must be complete this long after the connection opened (a client trickling bytes
    /// would otherwise keep one of the `connectionsMax` slots for ever).
    let requestTimeout: TimeAmount
    /// Open admin connections; read and written on the node loop only.
    private var openConnections = 0

    init(node: ServerNode, commandURL: String, requestTimeout: TimeAmount, limits: AdminServerLimits = AdminServerLimits()) {
        precondition(limits.uriBytesMax > 0 && limits.bodyBytesMax >= 0 && limits.connectionsMax > 0, "admin server limits \(limits)")
        precondition(commandURL.hasPrefix("/"), "admin command URL \(commandURL) does not start with /")
        self.node = node
        self.commandURL = commandURL
        self.limits = limits
        self.requestTimeout = requestTimeout
    }

    /// Binds `admin.serverAddress:admin.serverPort`. A failure is ZooKeeper's "Problem starting
    /// AdminServer": logged as an error, and the server goes on serving clients without it.
    static func start(group: any EventLoopGroup, node: ServerNode, configuration: ServerConfiguration, logger: Logger) -> (any Channel)? {
        guard configuration.adminServerEnabled else { return nil }
        let host = configuration.adminServerAddress
        let port = configuration.adminServerPort
        let url = configuration.adminCommandURL
        let problem = "Problem starting AdminServer on address \(host), port \(port) and command URL \(url)"
        // Jetty refuses a servlet path that does not start with "/".
        guard url.hasPrefix("/") else {
            logger.error("\(problem): the command URL must start with \"/\"")
            return nil
        }
        let idleTimeout = TimeAmount.milliseconds(Int64(configuration.adminIdleTimeoutMs))
        let server = AdminServer(
            node: node, commandURL: url.count > 1 && url.hasSuffix("/") ? String(url.dropLast()) : url, requestTimeout: idleTimeout)
        do {
            let channel = try ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(AdminHTTPHandler(server: server))
                    }
                }
                .bind(host: host, port: port).wait()
            logger.info("Started AdminServer on address \(host), port \(channel.localAddress?.port ?? port) and command URL \(url)")
            return channel
        } catch {
            logger.error("\(problem): \(error)")
            return nil
        }
    }

    /// Counts a new connection; false when the bound is reached (the caller closes it).
    func connectionOpened() -> Bool {
        node.loop.preconditionInEventLoop()
        guard openConnections < limits.connectionsMax else { return false }
        openConnections += 1
        return true
    }

    func connectionClosed() {
        node.loop.preconditionInEventLoop()
        openConnections -= 1
        precondition(openConnections >= 0, "admin connection count went negative")
    }
}
