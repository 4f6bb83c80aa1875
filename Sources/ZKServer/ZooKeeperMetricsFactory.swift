import CoreMetrics
import NIOConcurrencyHelpers
import Prometheus

/// The swift-metrics backend `paddock server` bootstraps when zoo.cfg names ZooKeeper's
/// PrometheusMetricsProvider: counters, gauges and meters go to a swift-prometheus
/// `PrometheusCollectorRegistry`; timers and aggregating recorders become Prometheus summaries
/// with ZooKeeper's quantiles (`QuantileSummary`: swift-prometheus 2.4.1 would make them
/// histograms, with `_bucket{le=…}` series that ZooKeeper's dashboards do not read).
/// `/metrics` serves the registry's `emit` followed by the summaries.
///
/// A program embedding Paddock can bootstrap any other swift-metrics backend instead: the server
/// records through swift-metrics only and never needs this type.
public final class ZooKeeperMetricsFactory: MetricsFactory, Sendable {
    public let registry: PrometheusCollectorRegistry
    let prometheus: PrometheusMetricsFactory
    let quantilesByName: @Sendable (String) -> [Double]
    private let summaries = NIOLockedValueBox<[String: [QuantileSummary]]>([:])

    /// `quantilesByName`: the quantiles a summary shows (ZooKeeper: 0.5, 0.9 and 0.99 for its
    /// ADVANCED summaries, 0.5 for the BASIC ones; `ServerMetrics.quantiles(for:)`).
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
                quantilesByName: @escaping @Sendable (String) -> [Double] = ServerMetrics.quantiles(for:))
    {
        self.registry = registry
        self.prometheus = PrometheusMetricsFactory(registry: registry)
        self.quantilesByName = quantilesByName
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        prometheus.makeCounter(label: label, dimensions: dimensions)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        prometheus.makeFloatingPointCounter(label: label, dimensions: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return prometheus.makeRecorder(label: label, dimensions: dimensions, aggregate: false) }
        return summary(label, dimensions, unitsPerExposedUnit: 1000)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        prometheus.makeMeter(label: label, dimensions: dimensions)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        summary(label, dimensions, unitsPerExposedUnit: 1_000_000)
    }

    /// One summary per name and labels: asking again returns the same one (as the registry does).
    func summary(_ name: String, _ labels: [(String, String)], unitsPerExposedUnit: Double) -> QuantileSummary {
        summaries.withLockedValue { table in
            if let existing = table[name]?.first(where: { $0.labels.elementsEqual(labels, by: ==) }) { return existing }
            let made = QuantileSummary(name: name, labels: labels, quantiles: quantilesByName(name),
                                       unitsPerExposedUnit: unitsPerExposedUnit)
            table[name, default: []].append(made)
            return made
        }
    }

    public func destroyCounter(_ handler: any CounterHandler) { prometheus.destroyCounter(handler) }
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        prometheus.destroyFloatingPointCounter(handler)
    }
    public func destroyMeter(_ handler: any MeterHandler) { prometheus.destroyMeter(handler) }
    public func destroyRecorder(_ handler: any RecorderHandler) {
        guard let summary = handler as? QuantileSummary else { return prometheus.destroyRecorder(handler) }
        remove(summary)
    }
    public func destroyTimer(_ handler: any TimerHandler) {
        if let summary = handler as? QuantileSummary { remove(summary) }
    }

    private func remove(_ summary: QuantileSummary) {
        summaries.withLockedValue { table in
            table[summary.name]?.removeAll { $0 === summary }
            if table[summary.name]?.isEmpty == true { table[summary.name] = nil }
        }
    }

    /// The Prometheus text exposition: the registry's metrics, then the summaries by name.
    public func emit() -> [UInt8] {
        var bytes = registry.emitToBuffer()
        let families = summaries.withLockedValue { $0 }.sorted { $0.key < $1.key }
        var text = ""
        for (name, members) in families {
            text += "# TYPE \(name) summary\n"
            for summary in members { summary.emit(into: &text) }
        }
        bytes.append(contentsOf: text.utf8)
        return bytes
    }
}
