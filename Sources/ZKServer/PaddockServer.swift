import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ZKConfig
import ZKStorage
import ZKTree
import ZKEnsemble
import ZKZab

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
    /// The plain client port's listener, or the secure one's when there is no plain port.
    let channel: any Channel
    let secureChannel: (any Channel)?
    let metricsChannel: (any Channel)?
    /// The admin HTTP server's listening socket; nil when disabled or when its port could not be bound.
    let adminChannel: (any Channel)?
    public let recovery: RecoveryReport
    /// The Prometheus backend whose text /metrics serves; nil without ZooKeeper's Prometheus provider.
    public let prometheusMetrics: ZooKeeperMetricsFactory?
    /// Completed when the node stops on an error (`fatalMessage`) or is asked to stop.
    let stopped: EventLoopPromise<Void>
    /// Set once the node loop, log and data directory are shut down (`stop()` runs once).
    let finished = NIOLockedValueBox(false)

    /// The plain client port (the secure one when the server has only that).
    public var localPort: Int { channel.localAddress?.port ?? 0 }
    /// The admin server's bound port; nil when it is not running.
    public var adminPort: Int? { adminChannel?.localAddress?.port }
    /// The bound secureClientPort; nil without one.
    public var secureLocalPort: Int? { secureChannel?.localAddress?.port }
    /// The bound plain client port; nil when the server has only the secure one.
    public var plainLocalPort: Int? { secureChannel === channel ? nil : localPort }
    /// The member's id when it runs in an ensemble; nil for a standalone server.
    public var memberId: Int64? { node.myId }

    /// Opens, recovers and binds every port. `metricsFactory`: where the server's metrics go
    /// (ZooKeeper's names, `ServerMetrics`); by default the process's swift-metrics backend
    /// (`MetricsSystem.factory`), or, when zoo.cfg names ZooKeeper's Prometheus provider, a
    /// `ZooKeeperMetricsFactory` whose text /metrics serves (pass one to share it).
    public static func start(
        configuration: ServerConfiguration, logger: Logger, metricsFactory: (any MetricsFactory)? = nil
    ) throws -> PaddockServer {
        var prometheus: ZooKeeperMetricsFactory?
        if PrometheusEndpoint.isEnabled(configuration) {
            prometheus = (metricsFactory as? ZooKeeperMetricsFactory) ?? (MetricsSystem.factory as? ZooKeeperMetricsFactory)
                ?? ZooKeeperMetricsFactory()
        }
        let metrics = ServerMetrics(factory: metricsFactory ?? prometheus ?? MetricsSystem.factory)
        // The key and trust stores are read first: a bad file stops the server before it touches the data.
        let secureContext = try configuration.secureClientPort.map { _ in try ClientTLSContext.make(configuration.tls) }
        // An ensemble member (two or more voters, or standaloneEnabled=false) reads its id from
        // dataDir/myid, as ZooKeeper does.
        var myId: Int64?
        if configuration.isDistributed {
            let path = configuration.dataDirectory + "/" + DataDirectory.memberIdFileName
            guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                  let id = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines))
            else {
                throw StartupError(description: "\(path) is missing or does not hold a server id: an ensemble member needs it (write the N of its server.N line there)")
            }
            guard configuration.servers.contains(where: { $0.id == id }) else {
                throw StartupError(description: "myid \(id) has no server.\(id) line in the configuration")
            }
            myId = id
        }
        try ZooKeeperTakeover.importIfZooKeeperData(configuration, logger: logger)
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
            // A member replays only what a snapshot needs: the rest of its log may not be
            // committed yet, and ZAB applies it once it is.
            (tree, report) = try Recovery.recover(
                snapshotDirectory: dataDirectory.snapshotDirectory, log: log, replayWholeLog: myId == nil)
        } catch {
            log.close()
            dataDirectory.release()
            throw StartupError(description: "\(error)")
        }
        for skipped in report.skippedSnapshots {
            logger.warning("snapshot \(skipped.path) is invalid and was passed over: \(skipped.reason)")
        }
        for mismatch in report.quotaMismatches {
            logger.warning("quota \(mismatch) (a client wrote the stats node; the next snapshot load recomputes it)")
        }
        if report.quotasChecked > 0 {
            logger.info("\(report.quotasChecked) quota(s) checked against their subtrees, \(report.quotaMismatches.count) mismatch(es)")
        }
        logger.info("recovered in \(report.elapsedMs) ms: snapshot \(report.snapshotPath ?? "none") (\(report.snapshotLoadMs) ms), \(report.txnsReplayed) txns replayed (\(report.replayMs) ms), last zxid 0x\(String(UInt64(bitPattern: report.lastZxid), radix: 16)), \(tree.nodeCount) znodes, \(tree.sessions.count) sessions")

        // One loop: the node core and every client socket live on it (no hops on the read path).
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let node = ServerNode(
            loop: loop, configuration: configuration, dataDirectory: dataDirectory, log: log, tree: tree,
            recovery: report, logger: logger, myId: myId, metrics: metrics)
        let member = configuration.servers.first { $0.id == myId }
        if configuration.secureClientPort != nil, configuration.tls.clientAuthentication != .none,
           !configuration.tls.x509ProviderEnabled
        {
            logger.warning("secureClientPort: ssl.clientAuth=\(configuration.tls.clientAuthentication.rawValue) but no authProvider.N=\(ClientTLSConfiguration.x509ProviderClassName): clients that present a certificate are refused, as in ZooKeeper")
        }
        // The plain port: clientPort (or the member's), or 2181 when no port at all is configured.
        let plainPort = member?.clientPort ?? configuration.clientPort
            ?? (configuration.secureClientPort == nil ? ServerConfiguration.clientPortDefault : nil)
        var listeners: [any Channel] = []
        var secureChannel: (any Channel)?
        do {
            if let plainPort {
                let host = member?.clientAddress ?? configuration.clientPortAddress ?? "0.0.0.0"
                listeners.append(try bind(configuration: configuration, group: group, node: node, tls: nil, logger: logger, host: host, port: plainPort))
            }
            if let securePort = configuration.secureClientPort, let secureContext {
                let host = configuration.secureClientPortAddress ?? "0.0.0.0"
                let channel = try bind(configuration: configuration, group: group, node: node, tls: secureContext, logger: logger, host: host, port: securePort)
                listeners.append(channel)
                secureChannel = channel
                logger.info("serving TLS clients on \(host):\(channel.localAddress?.port ?? securePort) (ssl.clientAuth=\(configuration.tls.clientAuthentication.rawValue))")
            }
        } catch {
            for listener in listeners { try? listener.close().wait() }
            try? group.syncShutdownGracefully()
            node.shutdown()
            throw error
        }
        let channel = listeners[0]
        let openListeners = listeners
        var metricsChannel: (any Channel)?
        if let prometheus {
            do {
                metricsChannel = try PrometheusEndpoint.bind(
                    group: group, node: node, configuration: configuration, exposition: { prometheus.emit() })
                let address = PrometheusEndpoint.address(configuration)
                logger.info("Prometheus metrics on http://\(address.host):\(metricsChannel?.localAddress?.port ?? address.port)/metrics")
            } catch {
                for listener in listeners { try? listener.close().wait() }
                try? group.syncShutdownGracefully()
                node.shutdown()
                throw StartupError(description: "cannot serve Prometheus metrics: \(error)")
            }
        }
        let boundPort = plainPort == nil ? nil : channel.localAddress?.port
        let stopped = loop.makePromise(of: Void.self)
        try loop.submit {
            node.listeningPort = boundPort
            node.onFatal = {
                for listener in openListeners { listener.close(promise: nil) }
                stopped.succeed(())
            }
            node.startTimers()
        }.wait()
        if let myId {
            do {
                let zab = ZabConfiguration.fromZooCfg(configuration, myId: myId)
                let addresses = configuration.servers.map {
                    PeerAddress(id: $0.id, host: $0.host, quorumPort: $0.quorumPort, electionPort: $0.electionPort)
                }
                // Made on the node loop: loading reads the core, which the loop owns.
                let peer = try loop.submit { () throws -> ZabPeer in
                    let peer = try ZabPeer(configuration: zab.configuration, addresses: addresses, store: node, group: loop,
                                           tickMs: zab.tickMs, logger: Logger(label: "paddock.zab"))
                    node.peer = peer
                    peer.serverLayer = node
                    return peer
                }.wait()
                try peer.start(bindAttempts: configuration.electionPortBindRetry)
            } catch {
                stopped.succeed(())
                for listener in listeners { try? listener.close().wait() }
                try? group.syncShutdownGracefully()
                node.shutdown()
                throw StartupError(description: "ensemble member \(myId): \(error)")
            }
        }
        // Last, like ZooKeeper (which starts it after the client port): a port already taken only
        // costs the admin server, never the client service.
        let adminChannel = AdminServer.start(group: group, node: node, configuration: configuration, logger: logger)
        return PaddockServer(
            configuration: configuration, group: group, node: node, channel: channel, secureChannel: secureChannel,
            metricsChannel: metricsChannel, adminChannel: adminChannel, recovery: report, prometheusMetrics: prometheus,
            stopped: stopped)
    }

    /// One client port: the plain pipeline, behind TLS when `tls` is given (secureClientPort).
    static func bind(
        configuration: ServerConfiguration, group: MultiThreadedEventLoopGroup, node: ServerNode, tls: NIOSSLContext?,
        logger: Logger, host: String, port: Int
    ) throws -> any Channel {
        let frameBytesMax = configuration.juteBufferBytesMax
        let settings = configuration.tls
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: Int32(configuration.clientPortListenBacklog > 0 ? configuration.clientPortListenBacklog : 128))
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 1 << 20, high: 4 << 20))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                        try channel.pipeline.syncOperations.addHandler(TLSHandshakeHandler(settings: settings, logger: logger, node: node))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(frameBytesMax: frameBytesMax)))
                    try channel.pipeline.syncOperations.addHandler(ClientConnectionHandler(node: node, secure: tls != nil))
                }
            }
        do {
            return try bootstrap.bind(host: host, port: port).wait()
        } catch {
            throw StartupError(description: "cannot listen on \(host):\(port)\(tls == nil ? "" : " (secureClientPort)"): \(error)")
        }
    }

    init(
        configuration: ServerConfiguration, group: MultiThreadedEventLoopGroup, node: ServerNode, channel: any Channel,
        secureChannel: (any Channel)?, metricsChannel: (any Channel)?, adminChannel: (any Channel)?, recovery: RecoveryReport,
        prometheusMetrics: ZooKeeperMetricsFactory?, stopped: EventLoopPromise<Void>
    ) {
        self.prometheusMetrics = prometheusMetrics
        self.stopped = stopped
        self.configuration = configuration
        self.group = group
        self.node = node
        self.channel = channel
        self.secureChannel = secureChannel
        self.metricsChannel = metricsChannel
        self.adminChannel = adminChannel
        self.recovery = recovery
    }

    /// Blocks until the server stops; returns the fatal message when it stopped on an error.
    public func waitUntilClosed() throws -> String? {
        try channel.closeFuture.wait()
        return try node.loop.submit { self.node.fatalMessage }.wait()
    }

    /// Closes the listening socket: `waitUntilClosed` returns and the caller calls `stop()`.
    public func requestStop() {
        secureChannel?.close(promise: nil)
        channel.close(promise: nil)
    }

    public func stop() {
        guard finished.withLockedValue({ done in defer { done = true }; return !done }) else { return }
        stopped.succeed(())
        // The peer's ports and timer live on the node loop: closed while it still runs.
        node.peer?.stop()
        try? channel.close().wait()
        try? secureChannel?.close().wait()
        try? metricsChannel?.close().wait()
        try? adminChannel?.close().wait()
        try? group.syncShutdownGracefully()
        node.shutdown()
    }
}
