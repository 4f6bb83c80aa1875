import CoreMetrics
import Foundation
import NIOConcurrencyHelpers

/// A Prometheus summary (quantiles, `_count`, `_sum`) as ZooKeeper's PrometheusMetricsProvider
/// exposes its Summary metrics. swift-prometheus 2.4.1 has counters, gauges and histograms but no
/// summary type, so Paddock keeps this one beside its registry (see `ZooKeeperMetricsFactory`).
///
/// Quantiles come from a log-linear histogram (32 sub-buckets per power of two: a reported
/// quantile is the middle of its bucket, within 1/64 = 1.6% of the true value; values under 32
/// units are exact) over a sliding window of five rotating age buckets, as the Prometheus Java
/// client's Summary (ZooKeeper 3.8: ten minutes, five buckets). `_count` and `_sum` are
/// cumulative since the start, like every Prometheus summary. Recording is one lock and three
/// additions: no allocation, no clock read (age buckets rotate when the summary is read).
final class QuantileSummary: TimerHandler, RecorderHandler, @unchecked Sendable {
    static let subBucketBits = 5
    static let subBuckets = 1 << subBucketBits
    static let bucketCount = (64 - subBucketBits + 1) * subBuckets
    static let ageBucketCount = 5

    let name: String
    let labels: [(String, String)]
    let quantiles: [Double]
    /// Recorded units per exposed unit: 1_000_000 for timers (nanoseconds recorded, milliseconds
    /// exposed, ZooKeeper's unit), 1000 for value recorders (kept in thousandths).
    let unitsPerExposedUnit: Double
    let ageBucketDurationNanoseconds: UInt64

    private let lock = NIOLock()
    private var counts: [UInt32]
    private var currentAgeBucket = 0
    private var currentAgeBucketStartNanoseconds: UInt64
    private var count: UInt64 = 0
    private var sum: UInt64 = 0

    init(name: String, labels: [(String, String)], quantiles: [Double], unitsPerExposedUnit: Double,
         windowNanoseconds: UInt64 = 600_000_000_000)
    {
        self.name = name
        self.labels = labels
        self.quantiles = quantiles
        self.unitsPerExposedUnit = unitsPerExposedUnit
        self.ageBucketDurationNanoseconds = max(1, windowNanoseconds / UInt64(Self.ageBucketCount))
        self.counts = [UInt32](repeating: 0, count: Self.bucketCount * Self.ageBucketCount)
        self.currentAgeBucketStartNanoseconds = Self.nowNanoseconds()
    }

    static func nowNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// The histogram bucket of a value: exact below 32, then 32 per power of two.
    @inline(__always)
    static func bucketIndex(_ value: UInt64) -> Int {
        if value < UInt64(subBuckets) { return Int(value) }
        let exponent = 63 - value.leadingZeroBitCount
        let subBucket = Int((value >> UInt64(exponent - subBucketBits)) & UInt64(subBuckets - 1))
        return (exponent - subBucketBits + 1) * subBuckets + subBucket
    }

    /// The middle of a bucket, in recorded units.
    static func bucketMiddle(_ index: Int) -> Double {
        if index < subBuckets { return Double(index) }
        let exponent = index / subBuckets + subBucketBits - 1
        let subBucket = index % subBuckets
        let width = Double(UInt64(1) << UInt64(exponent - subBucketBits))
        return Double(subBuckets + subBucket) * width + width / 2
    }

    @inline(__always)
    func observe(_ value: UInt64) {
        let index = Self.bucketIndex(value)
        lock.withLockVoid {
            counts[currentAgeBucket * Self.bucketCount + index] &+= 1
            count &+= 1
            sum &+= value
        }
    }

    // MARK: swift-metrics handlers

    func recordNanoseconds(_ duration: Int64) { observe(UInt64(max(0, duration))) }
    func record(_ value: Int64) { observe(UInt64(max(0, value)) &* 1000) }
    func record(_ value: Double) {
        guard value.isFinite, value > 0 else { return observe(0) }
        observe(UInt64(min(value * 1000, 9.0e18)))
    }

    // MARK: Reading

    struct Snapshot {
        var quantileValues: [(quantile: Double, value: Double)]
        var count: UInt64
        var sum: Double
    }

    /// The quantiles over the window, and the cumulative count and sum, in exposed units.
    func snapshot(nowNanoseconds: UInt64 = QuantileSummary.nowNanoseconds()) -> Snapshot {
        var merged = [UInt64](repeating: 0, count: Self.bucketCount)
        let (total, totalSum) = lock.withLock { () -> (UInt64, UInt64) in
            rotate(nowNanoseconds: nowNanoseconds)
            for age in 0..<Self.ageBucketCount {
                let base = age * Self.bucketCount
                for index in 0..<Self.bucketCount where counts[base + index] != 0 {
                    merged[index] += UInt64(counts[base + index])
                }
            }
            return (count, sum)
        }
        let windowCount = merged.reduce(0, +)
        var values: [(Double, Double)] = []
        for quantile in quantiles {
            guard windowCount > 0 else {
                values.append((quantile, .nan))
                continue
            }
            let rank = max(1, UInt64((quantile * Double(windowCount)).rounded(.up)))
            var seen: UInt64 = 0
            var found = Self.bucketCount - 1
            for index in 0..<Self.bucketCount {
                seen += merged[index]
                if seen >= rank {
                    found = index
                    break
                }
            }
            values.append((quantile, Self.bucketMiddle(found) / unitsPerExposedUnit))
        }
        return Snapshot(quantileValues: values, count: total, sum: Double(totalSum) / unitsPerExposedUnit)
    }

    /// Moves to the next age bucket (clearing it) for each bucket duration passed. Lock held.
    private func rotate(nowNanoseconds: UInt64) {
        guard nowNanoseconds > currentAgeBucketStartNanoseconds else { return }
        var passed = (nowNanoseconds - currentAgeBucketStartNanoseconds) / ageBucketDurationNanoseconds
        guard passed > 0 else { return }
        currentAgeBucketStartNanoseconds += passed * ageBucketDurationNanoseconds
        passed = min(passed, UInt64(Self.ageBucketCount))
        for _ in 0..<passed {
            currentAgeBucket = (currentAgeBucket + 1) % Self.ageBucketCount
            let base = currentAgeBucket * Self.bucketCount
            for index in 0..<Self.bucketCount { counts[base + index] = 0 }
        }
    }

    /// The text exposition of this summary's samples (no TYPE line: one per family).
    func emit(into text: inout String) {
        let state = snapshot()
        let labelText = labels.map { "\($0.0)=\"\(Self.escaped($0.1))\"" }
        for (quantile, value) in state.quantileValues {
            let all = labelText + ["quantile=\"\(quantile)\""]
            text += "\(name){\(all.joined(separator: ","))} \(Self.number(value))\n"
        }
        let suffix = labelText.isEmpty ? "" : "{\(labelText.joined(separator: ","))}"
        text += "\(name)_count\(suffix) \(state.count)\n"
        text += "\(name)_sum\(suffix) \(Self.number(state.sum))\n"
    }

    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == value.rounded(), abs(value) < 1e15 { return "\(Int64(value)).0" }
        return "\(value)"
    }

    static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
