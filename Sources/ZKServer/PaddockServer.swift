import Logging
import NIOCore
import NIOPosix
import ZKConfig
import ZKStorage
import ZKTree

/// Why the server could not start: one line for the operator.
public struct StartupError: Error, CustomStringConvertible {
    public var description: String
}

/// A standalone server: opens the data directory, recovers, binds the client port and runs the
/// node loop until stopped.
public final class PaddockServer: Sendable {
    public let configuration: ServerConfiguration
    let group: MultiThreadedEventLoopGroup
    let node: ServerNode
    let channel: any Channel
    let metricsChannel: (any Channel)?
    public let recovery: RecoveryReport

    public var localPort: Int { channel.localAddress?.port ?? 0 }

    public static func start(configuration: ServerConfiguration, logger: Logger) throws -> PaddockServer {
        let dataDirectory: DataDirectory
        do {
            dataDirectory = try DataDirectory.open(
                dataDirectory: configuration.dataDirectory, dataLogDirectory: configuration.configuredDataLogDirectory,
                createIfMissing: true, lock: true)
        } catch {
            throw StartupError(description: "data directory: \(error)")
        }
        let log: LMDBTransactionLog
        do {
            log = try LMDBTransactionLog(
                directory: dataDirectory.logDirectory,
                configuration: LMDBConfiguration(
                    forceSync: configuration.forceSync, mapSizeBytesInitial: min(64 << 20, configuration.logQuotaBytes),
                    mapSizeBytesMax: configuration.logQuotaBytes))
        } catch {
            dataDirectory.release()
            throw StartupError(description: "transaction log in \(dataDirectory.logDirectory): \(error)")
        }
        let tree: DataTree
        let report: RecoveryReport
        do {
            (tree, report) = try Recovery.recover(snapshotDirectory: dataDirectory.snapshotDirectory, log: log)
        } catch {
            log.close()
            dataDirectory.release()
            throw StartupError(description: "\(error)")
        }
        for skipped in report.skippedSnapshots {
            logger.warning("snapshot \(skipped.path) is invalid and was passed over: \(skipped.reason)")
        }
        logger.info("recovered in \(report.elapsedMs) ms: snapshot \(report.snapshotPath ?? "none") (\(report.snapshotLoadMs) ms), \(report.txnsReplayed) txns replayed (\(report.replayMs) ms), last zxid 0x\(String(UInt64(bitPattern: report.lastZxid), radix: 16)), \(tree.nodeCount) znodes, \(tree.sessions.count) sessions")

        // One loop: the node core and every client socket live on it (no hops on the read path).
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let node = ServerNode(
            loop: loop, configuration: configuration, dataDirectory: dataDirectory, log: log, tree: tree,
            recovery: report, logger: logger)
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
            throw StartupError(description: "cannot listen on \(host):\(port): \(error)")
        }
        var metricsChannel: (any Channel)?
        if PrometheusEndpoint.isEnabled(configuration) {
            do {
                metricsChannel = try PrometheusEndpoint.bind(group: group, node: node, configuration: configuration)
                let address = PrometheusEndpoint.address(configuration)
                logger.info("Prometheus metrics on http://\(address.host):\(metricsChannel?.localAddress?.port ?? address.port)/metrics")
            } catch {
                try? channel.close().wait()
                try? group.syncShutdownGracefully()
                node.shutdown()
                throw StartupError(description: "cannot serve Prometheus metrics: \(error)")
            }
        }
        let boundPort = channel.localAddress?.port
        try loop.submit {
            node.listeningPort = boundPort
            node.onFatal = { channel.close(promise: nil) }
            node.startTimers()
        }.wait()
        return PaddockServer(
            configuration: configuration, group: group, node: node, channel: channel, metricsChannel: metricsChannel,
            recovery: report)
    }

    init(
        configuration: ServerConfiguration, group: MultiThreadedEventLoopGroup, node: ServerNode, channel: any Channel,
        metricsChannel: (any Channel)?, recovery: RecoveryReport
    ) {
        self.configuration = configuration
        self.group = group
        self.node = node
        self.channel = channel
        self.metricsChannel = metricsChannel
        self.recovery = recovery
    }

    /// Blocks until the server stops; returns the fatal message when it stopped on an error.
    public func waitUntilClosed() throws -> String? {
        try channel.closeFuture.wait()
        return try node.loop.submit { self.node.fatalMessage }.wait()
    }

    /// Closes the listening socket: `waitUntilClosed` returns and the caller calls `stop()`.
    public func requestStop() { channel.close(promise: nil) }

    public func stop() {
        try? channel.close().wait()
        try? metricsChannel?.close().wait()
        try? group.syncShutdownGracefully()
        node.shutdown()
    }
}
