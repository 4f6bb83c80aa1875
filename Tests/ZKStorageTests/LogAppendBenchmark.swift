import Foundation
import Testing
import ZKFormat
import ZKStorage

/// Durable append rate by batch size. Not a check: prints figures. Runs only when asked:
/// `PADDOCK_STORAGE_BENCH=1 swift test -c release --filter LogAppendBenchmark`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["PADDOCK_STORAGE_BENCH"] != nil), .serialized)
struct LogAppendBenchmark {
    @Test(arguments: [(1, 2000), (10, 1000), (100, 300), (1000, 50)])
    func durableAppendRate(batchRecords: Int, commits: Int) throws {
        for forceSync in [true, false] {
            try withTemporaryDirectory { path in
                let log = try LMDBTransactionLog(directory: path, configuration: LMDBConfiguration(forceSync: forceSync))
                defer { log.close() }
                let batches = (0..<commits).map { index in
                    makeRecords(Int64(index * batchRecords + 1)...Int64((index + 1) * batchRecords), payloadBytes: 1000)
                }
                var latenciesUs: [Double] = []
                latenciesUs.reserveCapacity(commits)
                let started = monotonicSeconds()
                for batch in batches {
                    let before = monotonicSeconds()
                    try log.append(batch)
                    latenciesUs.append((monotonicSeconds() - before) * 1e6)
                }
                let elapsed = monotonicSeconds() - started
                latenciesUs.sort()
                let first = batches[0][0]
                let recordBytes = LogRecord.encode(first.txn, digest: first.digest, previousCRC: 0).bytes.count
                let line = String(
                    format: "append %@ batch=%4d commits=%4d: %9.0f txns/s %7.0f commits/s %6.1f MB/s  p50 %6.0f us  p99 %6.0f us  file %.1f MB",
                    forceSync ? "durable" : "nosync ", batchRecords, commits,
                    Double(commits * batchRecords) / elapsed, Double(commits) / elapsed,
                    Double(commits * batchRecords * recordBytes) / elapsed / 1e6,
                    latenciesUs[commits / 2], latenciesUs[min(commits - 1, commits * 99 / 100)],
                    Double(log.environment.fileSizeBytes) / 1e6)
                print(line)
            }
        }
    }

    func monotonicSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
