import ArgumentParser
import Foundation
import ZKLoad

/// `paddock bench load`: client load against any ZooKeeper-compatible server.
struct BenchLoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Pipelined client load over the wire protocol: ops/s and p50/p99/p999 latency (HDR histogram).")

    @Option(help: "Servers, host:port[,host:port...].") var hosts: String = "127.0.0.1:2181"
    @Option(help: "create | set | get | mixed:R (R = fraction of reads).") var op: String = "get"
    @Option(help: "Concurrent sessions.") var sessions: Int = 8
    @Option(help: "Requests in flight per session.") var inflight: Int = 16
    @Option(help: "Value size in bytes.") var size: Int = 1024
    @Flag(help: "Random bytes in every write (values that do not compress), instead of one patterned value per session.")
    var randomValues = false
    @Option(help: "Znodes that get/set use (created first).") var znodes: Int = 1000
    @Option(help: "Seconds of warm-up, not measured.") var warmup: Double = 2
    @Option(help: "Seconds measured.") var seconds: Double = 10
    @Option(help: "Event-loop threads of the generator.") var threads: Int = 1
    @Option(help: "Pid of the server, to report its CPU time per op.") var serverPid: Int32?
    @Option(help: "Root znode for the benchmark's nodes.") var root: String = "/paddock-bench"
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        guard let operation = LoadConfiguration.Operation(parsing: op) else {
            throw ValidationError("--op must be create, set, get or mixed:R with R in 0...1, not \(op)")
        }
        let targets = try hosts.split(separator: ",").map { part -> (host: String, port: Int) in
            let pieces = part.split(separator: ":")
            guard pieces.count == 2, let port = Int(pieces[1]) else { throw ValidationError("bad host:port \(part)") }
            return (String(pieces[0]), port)
        }
        guard sessions > 0, inflight > 0, seconds > 0, size >= 0, znodes > 0 else {
            throw ValidationError("sessions, inflight, znodes and seconds must be positive")
        }
        var configuration = LoadConfiguration(
            hosts: targets, operation: operation, sessions: sessions, inflight: inflight, valueBytes: size, znodes: znodes,
            warmupSeconds: warmup, seconds: seconds, threads: threads, root: root)
        configuration.randomValues = randomValues
        let report: LoadReport
        do {
            report = try LoadGenerator.run(configuration, serverPid: serverPid)
        } catch {
            FileHandle.standardError.write(Data("paddock bench load: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            FileHandle.standardOutput.write(try encoder.encode(report) + Data("\n".utf8))
            return
        }
        var lines = [
            "op \(report.operation), \(report.sessions) sessions x \(report.inflight) in flight, \(report.valueBytes) B values, \(String(format: "%.1f", report.seconds)) s",
            String(format: "ops/s           %.0f", report.operationsPerSecond),
            "latency us      p50 \(report.latencyMicrosecondsP50)  p99 \(report.latencyMicrosecondsP99)  p999 \(report.latencyMicrosecondsP999)  max \(report.latencyMicrosecondsMax)",
            "operations      \(report.operations) (\(report.errors) errors)",
            String(format: "client CPU/op   %.2f us", report.clientCPUMicrosecondsPerOperation),
        ]
        if let server = report.serverCPUMicrosecondsPerOperation { lines.append(String(format: "server CPU/op   %.2f us", server)) }
        print(lines.joined(separator: "\n"))
        if report.errors > 0 { throw ExitCode(1) }
    }
}
