import CoreMetrics
import NIOConcurrencyHelpers

/// mntr's summaries, as ZooKeeper's DefaultMetricsProvider keeps them: one AvgMinMaxCounter
/// (BASIC) or AvgMinMaxPercentileCounter (ADVANCED) per summary the server registers, and one
/// per key of a summary set. `TallyingMetricsFactory` fills it from every timer and aggregating
/// recorder `ServerMetrics` makes, beside the swift-metrics backend, so mntr shows every summary
/// the server records (none can be added to one and forgotten in the other).
///
/// Timers are shown in milliseconds (ZooKeeper's are), recorders as recorded. srst resets the
/// values (ZooKeeper's ServerStats.reset resets its metrics); the summaries stay registered.
final class MonitorTally: Sendable {
    struct Entry {
        let name: String
        /// A summary set's key (ZooKeeper's SummarySet: the `key` label in Prometheus).
        let key: String?
        let isTimer: Bool
        var summary: Summary
        /// A set's member shows from its first value on (ZooKeeper makes it then), srst or not.
        var recorded = false
    }

    private let entries = NIOLockedValueBox<[Entry]>([])
    let isAdvanced: @Sendable (String) -> Bool

    init(isAdvanced: @escaping @Sendable (String) -> Bool = { ServerMetrics.advancedSummaryNames.contains($0) }) {
        self.isAdvanced = isAdvanced
    }

    /// The entry of summary `name` with `dimensions` (made once: asking again gives the same one).
    func register(_ name: String, _ dimensions: [(String, String)], isTimer: Bool) -> Int {
        let key = dimensions.first(where: { $0.0 == "key" })?.1 ?? dimensions.first?.1
        let advanced = isAdvanced(name)
        return entries.withLockedValue { entries in
            if let index = entries.firstIndex(where: { $0.name == name && $0.key == key }) { return index }
            entries.append(Entry(name: name, key: key, isTimer: isTimer, summary: Summary(percentiles: advanced)))
            return entries.count - 1
        }
    }

    @inline(__always)
    func record(_ index: Int, _ value: Double) {
        entries.withLockedValue {
            $0[index].summary.record(value)
            $0[index].recorded = true
        }
    }

    /// srst: every summary back to no values.
    func reset() {
        entries.withLockedValue { entries in
            for index in entries.indices {
                entries[index].summary = Summary(percentiles: entries[index].summary.bucketCounts != nil)
            }
        }
    }

    /// mntr's summary rows in DefaultMetricsProvider.dump's order: the BASIC summaries, the
    /// ADVANCED ones, then the BASIC and the ADVANCED summary sets (each member as
    /// `<key>_<name>`); within a group, in registration order (ZooKeeper's is its hash map's).
    var rows: [(String, String)] {
        let snapshot = entries.withLockedValue { $0 }
        var groups: [[(String, String)]] = [[], [], [], []]
        for entry in snapshot where entry.key == nil || entry.recorded {
            let advanced = entry.summary.bucketCounts != nil
            let group = (entry.key == nil ? 0 : 2) + (advanced ? 1 : 0)
            groups[group] += entry.summary.rows(entry.key.map { "\($0)_\(entry.name)" } ?? entry.name)
        }
        return groups.flatMap { $0 }
    }

    /// The summary `name` (with `key` for a set member), for tests and reports.
    func summary(_ name: String, key: String? = nil) -> Summary? {
        entries.withLockedValue { entries in entries.first(where: { $0.name == name && $0.key == key })?.summary }
    }
}

/// The swift-metrics factory `ServerMetrics` records through: everything goes to `upstream`
/// (the bootstrapped backend, or the one the server was given); timers and aggregating
/// recorders also fill mntr's `MonitorTally`.
struct TallyingMetricsFactory: MetricsFactory {
    let upstream: any MetricsFactory
    let tally: MonitorTally

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        upstream.makeCounter(label: label, dimensions: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        upstream.makeFloatingPointCounter(label: label, dimensions: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        let handler = upstream.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
        guard aggregate else { return handler }
        return TalliedRecorder(upstream: handler, tally: tally, index: tally.register(label, dimensions, isTimer: false))
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        upstream.makeMeter(label: label, dimensions: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        TalliedTimer(upstream: upstream.makeTimer(label: label, dimensions: dimensions), tally: tally,
                     index: tally.register(label, dimensions, isTimer: true))
    }

    func destroyCounter(_ handler: any CounterHandler) { upstream.destroyCounter(handler) }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        upstream.destroyFloatingPointCounter(handler)
    }
    func destroyMeter(_ handler: any MeterHandler) { upstream.destroyMeter(handler) }
    func destroyRecorder(_ handler: any RecorderHandler) {
        upstream.destroyRecorder((handler as? TalliedRecorder)?.upstream ?? handler)
    }
    func destroyTimer(_ handler: any TimerHandler) {
        upstream.destroyTimer((handler as? TalliedTimer)?.upstream ?? handler)
    }
}

final class TalliedTimer: TimerHandler, Sendable {
    let upstream: any TimerHandler
    let tally: MonitorTally
    let index: Int

    init(upstream: any TimerHandler, tally: MonitorTally, index: Int) {
        self.upstream = upstream
        self.tally = tally
        self.index = index
    }

    func recordNanoseconds(_ duration: Int64) {
        upstream.recordNanoseconds(duration)
        tally.record(index, Double(duration) / 1_000_000)
    }

    func preferDisplayUnit(_ unit: TimeUnit) { upstream.preferDisplayUnit(unit) }
}

final class TalliedRecorder: RecorderHandler, Sendable {
    let upstream: any RecorderHandler
    let tally: MonitorTally
    let index: Int

    init(upstream: any RecorderHandler, tally: MonitorTally, index: Int) {
        self.upstream = upstream
        self.tally = tally
        self.index = index
    }

    func record(_ value: Int64) {
        upstream.record(value)
        tally.record(index, Double(value))
    }

    func record(_ value: Double) {
        upstream.record(value)
        tally.record(index, value)
    }
}
