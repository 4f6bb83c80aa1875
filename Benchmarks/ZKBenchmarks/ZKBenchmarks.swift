import Benchmark

// Micro-benchmarks of Paddock's hot paths: `swift package benchmark --target ZKBenchmarks`
// (README "Micro-benchmarks"). Every benchmark reports wall clock, throughput and the number of
// mallocs; those at `scalingFactor: .kilo` do 1,000 operations per measured iteration and are
// shown per operation.
let benchmarks: @Sendable () -> Void = {
    codecBenchmarks()
    treeBenchmarks()
    checksumBenchmarks()
    logRecordBenchmarks()
    logAppendBenchmarks()
    snapshotBenchmarks()
}

enum BenchConfiguration {
    static let metrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal]

    /// 1,000 operations per iteration: for anything under a few microseconds.
    static var micro: Benchmark.Configuration {
        Benchmark.Configuration(metrics: metrics, scalingFactor: .kilo, maxDuration: .seconds(1), maxIterations: 10_000)
    }

    /// One operation per iteration, at most `iterations` of them.
    static func single(iterations: Int, seconds: Int64 = 2, extraMetrics: [BenchmarkMetric] = []) -> Benchmark.Configuration {
        Benchmark.Configuration(
            metrics: metrics + extraMetrics, scalingFactor: .one, maxDuration: .seconds(seconds), maxIterations: iterations)
    }
}
