import Logging
import NIOCore
import NIOPosix
import ZKConfig
import ZKStorage

/// A standalone server: binds the client port and runs the node loop until stopped.
public final class PaddockServer: Sendable {
    public let configuration: ServerConfiguration
    let group: MultiThreadedEventLoopGroup
    let node: ServerNode
    let channel: any Channel

    public var localPort: Int { channel.localAddress?.port ?? 0 }

    public static func start(configuration: ServerConfiguration, logger: Logger) throws -> PaddockServer {
        // One loop: the node core and every client socket live on it (no hops on the read path).
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let node = ServerNode(loop: loop, configuration: configuration, log: InMemoryTransactionLog(), logger: logger)
        let frameBytesMax = configuration.juteBufferBytesMax
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: Int32(configuration.clientPortListenBacklog > 0 ? configuration.clientPortListenBacklog : 128))
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 1 << 20, high: 4 << 20))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(frameBytesMax: frameBytesMax)))
                    try channel.pipeline.syncOperations.addHandler(ClientConnectionHandler(node: node))
                }
            }
        let host = configuration.clientPortAddress ?? "0.0.0.0"
        let port = configuration.clientPort ?? ServerConfiguration.clientPortDefault
        let channel: any Channel
        do {
            channel = try bootstrap.bind(host: host, port: port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            node.shutdown()
            throw error
        }
        let boundPort = channel.localAddress?.port
        try loop.submit {
            node.listeningPort = boundPort
            node.startTimers()
        }.wait()
        return PaddockServer(configuration: configuration, group: group, node: node, channel: channel)
    }

    init(configuration: ServerConfiguration, group: MultiThreadedEventLoopGroup, node: ServerNode, channel: any Channel) {
        self.configuration = configuration
        self.group = group
        self.node = node
        self.channel = channel
    }

    public func waitUntilClosed() throws { try channel.closeFuture.wait() }

    public func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
        node.shutdown()
    }
}
