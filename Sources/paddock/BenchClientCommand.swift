import ArgumentParser
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
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
    @Flag(help: "Run the calling tasks on the client's event loop (PaddockClient.taskExecutor) instead of the global executor.") var onClientLoop = false
    @Flag(help: "Install NIO's event loops as Swift's global executor (NIOSingletons) and run the client on them, instead of Swift's dispatch-based pool.") var nioGlobalExecutor = false
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        guard op == "get" || op == "set" else { throw ValidationError("--op must be get or set") }
        guard inflight > 0, seconds > 0 else { throw ValidationError("--inflight and --seconds must be positive") }
        let server = self.server, op = self.op, inflight = self.inflight, size = self.size
        let warmup = self.warmup, seconds = self.seconds, path = self.path, onClientLoop = self.onClientLoop
        let group: (any EventLoopGroup)?
        if nioGlobalExecutor {
            guard NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() else {
                throw ValidationError("NIO could not take over Swift's global executor here")
            }
            group = MultiThreadedEventLoopGroup.singleton
        } else {
            group = nil
        }
        let (operations, cpuMicroseconds) = try runBlocking {
            try await Self.measure(server: server, op: op, inflight: inflight, size: size, warmup: warmup, seconds: seconds, path: path, onClientLoop: onClientLoop, group: group)
        }
        let executor = onClientLoop ? " on the client's loop" : nioGlobalExecutor ? " on NIO's loops as the global executor" : ""
        let rate = Double(operations) / seconds
        let cpuPerOp = Double(cpuMicroseconds) / Double(max(1, operations))
        if json {
            print("{\"op\": \"\(op)\", \"onClientLoop\": \(onClientLoop), \"inflight\": \(inflight), \"valueBytes\": \(size), \"seconds\": \(seconds), \"operations\": \(operations), \"operationsPerSecond\": \(Int(rate)), \"clientCPUMicrosecondsPerOperation\": \(String(format: "%.2f", cpuPerOp))}")
        } else {
            print("PaddockClient \(op)\(executor), 1 session x \(inflight) in flight, \(size) B values, \(seconds) s: \(Int(rate)) ops/s (\(operations) ops), client CPU/op \(String(format: "%.2f", cpuPerOp)) us")
        }
    }

    /// Operations completed in the measured window, and the process's CPU time over it (us).
    static func measure(
        server: String, op: String, inflight: Int, size: Int, warmup: Double, seconds: Double, path: String, onClientLoop: Bool,
        group: (any EventLoopGroup)? = nil
    ) async throws -> (Int, Int64) {
        let client = try await PaddockClient.connect(server, eventLoopGroup: group)
        let value = [UInt8](repeating: 0x61, count: size)
        if try await client.exists(path) == nil { try await client.create(path, data: value) } else { try await client.setData(path, value) }
        let start = ContinuousClock.now
        let warmupEnd = start + .milliseconds(Int(warmup * 1000))
        let end = warmupEnd + .milliseconds(Int(seconds * 1000))
        let cpu = CPUWindow()
        // Each task counts on its own (no shared counter in the measured loop) and reads the
        // clock once per op.
        let operations = try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                try await Task.sleep(until: warmupEnd)
                cpu.begin()
                try await Task.sleep(until: end)
                cpu.finish()
                return 0
            }
            for _ in 0..<inflight {
                group.addTask {
                    try await Self.work(onClientLoop ? client.taskExecutor : nil) {
                        var counted = 0
                        var now = ContinuousClock.now
                        while now < end {
                            if op == "get" { _ = try await client.getData(path) } else { try await client.setData(path, value) }
                            now = ContinuousClock.now
                            if now >= warmupEnd && now < end { counted += 1 }
                        }
                        return counted
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        await client.close()
        return (operations, cpu.microseconds)
    }
}

extension BenchClientCommand {
    /// Runs `body` preferring `executor` when there is one.
    static func work<T: Sendable>(_ executor: (any TaskExecutor)?, _ body: @Sendable () async throws -> T) async throws -> T {
        guard let executor else { return try await body() }
        return try await withTaskExecutorPreference(executor) { try await body() }
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
