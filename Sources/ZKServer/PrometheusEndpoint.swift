import NIOCore
import NIOHTTP1
import NIOPosix
import ZKConfig

/// ZooKeeper's PrometheusMetricsProvider, when zoo.cfg names it: `GET /metrics` on
/// metricsProvider.httpHost:httpPort (default 0.0.0.0:7000) in the Prometheus text format, with
/// ZooKeeper's metric names (mntr's without the `zk_` prefix; summaries as `_count` / `_sum`).
enum PrometheusEndpoint {
    static let providerClassName = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"

    static func isEnabled(_ configuration: ServerConfiguration) -> Bool {
        configuration.metricsProviderClassName == providerClassName
    }

    static func address(_ configuration: ServerConfiguration) -> (host: String, port: Int) {
        let entries = Dictionary(configuration.metricsProviderEntries.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
        return (entries["httpHost"] ?? "0.0.0.0", Int(entries["httpPort"] ?? "") ?? 7000)
    }

    static func bind(group: any EventLoopGroup, node: ServerNode, configuration: ServerConfiguration) throws -> any Channel {
        let (host, port) = address(configuration)
        return try ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(node: node))
                }
            }
            .bind(host: host, port: port).wait()
    }

    /// The text exposition of mntr's numeric rows.
    static func render(_ rows: [(String, String)]) -> String {
        var text = ""
        var summaries: [String: (count: String, sum: String)] = [:]
        var summaryOrder: [String] = []
        for (key, value) in rows where key.hasPrefix("zk_") {
            let name = String(key.dropFirst(3))
            if let summary = ["cnt_", "sum_"].first(where: { name.hasPrefix($0) }) {
                let base = String(name.dropFirst(summary.count))
                if summaries[base] == nil { summaryOrder.append(base) }
                var entry = summaries[base] ?? ("0", "0")
                if summary == "cnt_" { entry.count = value } else { entry.sum = value }
                summaries[base] = entry
            } else if name.hasPrefix("avg_") || name.hasPrefix("min_") || name.hasPrefix("max_") {
                continue
            } else if Double(value) != nil {
                text += "# TYPE \(name) gauge\n\(name) \(value)\n"
            }
        }
        for base in summaryOrder {
            guard let entry = summaries[base] else { continue }
            text += "# TYPE \(base) summary\n\(base)_count \(entry.count)\n\(base)_sum \(entry.sum)\n"
        }
        return text
    }
}

final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let node: ServerNode
    private var path = ""

    init(node: ServerNode) { self.node = node }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            path = head.uri
        case .body:
            break
        case .end:
            let found = path == "/metrics" || path.hasPrefix("/metrics?")
            // The node's state lives on its loop; this handler runs there too (one group).
            let body = found ? PrometheusEndpoint.render(FourLetterWords.monitorRows(node)) : "not found\n"
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
            headers.add(name: "Content-Length", value: "\(body.utf8.count)")
            headers.add(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: found ? .ok : .notFound, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension MetricsHTTPHandler: Sendable {}
