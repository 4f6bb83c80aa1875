import NIOCore
import NIOHTTP1
import NIOPosix
import ZKConfig

/// ZooKeeper's PrometheusMetricsProvider, when zoo.cfg names it: `GET /metrics` on
/// metricsProvider.httpHost:httpPort (default 0.0.0.0:7000) in the Prometheus text format. The
/// text is the server's swift-metrics backend's (`ZooKeeperMetricsFactory.emit`, a swift-prometheus
/// registry plus ZooKeeper's summaries); mntr's gauges are published just before (as ZooKeeper
/// samples its gauges before each scrape).
public enum PrometheusEndpoint {
    public static let providerClassName = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"

    public static func isEnabled(_ configuration: ServerConfiguration) -> Bool {
        configuration.metricsProviderClassName == providerClassName
    }

    static func address(_ configuration: ServerConfiguration) -> (host: String, port: Int) {
        let entries = Dictionary(configuration.metricsProviderEntries.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
        return (entries["httpHost"] ?? "0.0.0.0", Int(entries["httpPort"] ?? "") ?? 7000)
    }

    static func bind(
        group: any EventLoopGroup, node: ServerNode, configuration: ServerConfiguration,
        exposition: @escaping @Sendable () -> [UInt8]
    ) throws -> any Channel {
        let (host, port) = address(configuration)
        return try ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(node: node, exposition: exposition))
                }
            }
            .bind(host: host, port: port).wait()
    }
}

final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let node: ServerNode
    private let exposition: @Sendable () -> [UInt8]
    private var path = ""

    init(node: ServerNode, exposition: @escaping @Sendable () -> [UInt8]) {
        self.node = node
        self.exposition = exposition
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            path = head.uri
        case .body:
            break
        case .end:
            let found = path == "/metrics" || path.hasPrefix("/metrics?")
            // The node's state lives on its loop; this handler runs there too (one group).
            if found { node.publishGauges() }
            let body = found ? exposition() : Array("not found\n".utf8)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
            headers.add(name: "Content-Length", value: "\(body.count)")
            headers.add(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: found ? .ok : .notFound, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension MetricsHTTPHandler: Sendable {}
