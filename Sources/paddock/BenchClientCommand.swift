import ArgumentParser
import Foundation
import NIOConcurrencyHelpers
import PaddockClient

/// `paddock bench client`: gets or sets per second through PaddockClient on one session with N
/// requests in flight — beside `paddock bench load --sessions 1 --inflight N` (the raw-protocol
/// ceiling on the same server), what the client's own cost is.
struct BenchClientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Ops/s through PaddockClient on one session with N requests in flight.")

    @Option(help: "Connect string.") var server: String = "127.0.0.1:2181"
    @Option(help: "get | set") var op: String = "get"
    @Option(help: "Requests in flight.") var inflight: Int = 100
    @Option(help: "Value size in bytes.") var size: Int = 1024
    @Option(help: "Seconds of warm-up, not measured.") var warmup: Double = 2
    @Option(help: "Seconds measured.") var seconds: Double = 10
    @Option(help: "Znode the benchmark uses (created or overwritten).") var path: String = "/paddock-bench-client"
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        guard op == "get" || op == "set" else { throw ValidationError("--op must be get or set") }
        guard inflight > 0, seconds > 0 else { throw ValidationError("--inflight and --seconds must be positive") }
        let server = self.server, op = self.op, inflight = self.inflight, size = self.size
        let warmup = self.warmup, seconds = self.seconds, path = self.path
        let (operations, cpuMicroseconds) = try runBlocking {
            try await Self.measure(server: server, op: op, inflight: inflight, size: size, warmup: warmup, seconds: seconds, path: path)
        }
        let rate = Double(operations) / seconds
        let cpuPerOp = Double(cpuMicroseconds) / Double(max(1, operations))
        if json {
            print("{\"op\": \"\(op)\", \"inflight\": \(inflight), \"valueBytes\": \(size), \"seconds\": \(seconds), \"operations\": \(operations), \"operationsPerSecond\": \(Int(rate)), \"clientCPUMicrosecondsPerOperation\": \(String(format: "%.2f", cpuPerOp))}")
        } else {
            print("PaddockClient \(op), 1 session x \(inflight) in flight, \(size) B values, \(seconds) s: \(Int(rate)) ops/s (\(operations) ops), client CPU/op \(String(format: "%.2f", cpuPerOp)) us")
        }
    }

    /// Operations completed in the measured window, and the process's CPU time over it (us).
    static func measure(server: String, op: String, inflight: Int, size: Int, warmup: Double, seconds: Double, path: String) async throws -> (Int, Int64) {
        let client = try await PaddockClient.connect(server)
        let value = [UInt8](repeating: 0x61, count: size)
        if try await client.exists(path) == nil { try await client.create(path, data: value) } else { try await client.setData(path, value) }
        let counting = NIOLockedValueBox(0)
        let start = ContinuousClock.now
        let warmupEnd = start + .milliseconds(Int(warmup * 1000))
        let end = warmupEnd + .milliseconds(Int(seconds * 1000))
        let cpu = CPUWindow()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await Task.sleep(until: warmupEnd)
                cpu.begin()
                try await Task.sleep(until: end)
                cpu.finish()
            }
            for _ in 0..<inflight {
                group.addTask {
                    while true {
                        let now = ContinuousClock.now
                        if now >= end { return }
                        if op == "get" { _ = try await client.getData(path) } else { try await client.setData(path, value) }
                        let done = ContinuousClock.now
                        if done >= warmupEnd && done < end { counting.withLockedValue { $0 += 1 } }
                    }
                }
            }
            try await group.waitForAll()
        }
        await client.close()
        return (counting.withLockedValue { $0 }, cpu.microseconds)
    }
}

/// User + system CPU time of this process between `begin` and `finish`.
final class CPUWindow: Sendable {
    private let window = NIOLockedValueBox<(started: Int64, total: Int64)>((0, 0))

    static func now() -> Int64 {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int64(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000 + Int64(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
    }

    func begin() { window.withLockedValue { $0.started = Self.now() } }
    func finish() { window.withLockedValue { $0.total = Self.now() - $0.started } }
    var microseconds: Int64 { window.withLockedValue { $0.total } }
}
