import ArgumentParser
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import ZKConfig
import ZKServer

@main
struct Paddock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paddock",
        abstract: "A ZooKeeper-compatible coordination service.",
        subcommands: [ServerCommand.self, DataCommand.self, SnapshotCommand.self, BenchCommand.self, ClientCommand.self, DebugCommand.self])

    /// ArgumentParser exits 64 on a usage error; Paddock's tools promise 2 for usage or I/O errors.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

struct ServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run a standalone server (ready when the `srvr` four-letter word shows `Mode: standalone`).")

    @Option(name: .long, help: "An Apache ZooKeeper zoo.cfg, read as it is.")
    var config: String?

    @Option(name: .long, help: "Client port (overrides clientPort).")
    var port: Int?

    @Option(name: .customLong("data-dir"), help: "Data directory (overrides dataDir).")
    var dataDirectory: String?

    func run() throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        // Block SIGTERM/SIGINT before any thread starts (threads inherit the mask): no thread
        // takes them with the default action (exit 143 mid-batch); the ServiceGroup's signal
        // sources (libdispatch, signalfd on Linux) receive them and stop the server in order.
        blockTerminationSignals()
        MallocTuning.apply()
        let logger = Logger(label: "paddock")
        let configuration: ServerConfiguration
        do {
            if let config {
                configuration = try ServerConfiguration.load(path: config).overriding(clientPort: port, dataDirectory: dataDirectory)
            } else {
                var defaults = ServerConfiguration(dataDirectory: "./data", clientPort: ServerConfiguration.clientPortDefault)
                defaults.clientPortAddress = "127.0.0.1"
                // Without a zoo.cfg the admin server, like the client port, listens on loopback only.
                defaults.adminServerAddress = "127.0.0.1"
                defaults.tickTimeMs = 2000
                defaults.sessionTimeoutMsMin = 4000
                defaults.sessionTimeoutMsMax = 40000
                configuration = try defaults.overriding(clientPort: port, dataDirectory: dataDirectory)
            }
        } catch {
            FileHandle.standardError.write(Data("paddock: configuration error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        // ZooKeeper's Prometheus provider: the process's swift-metrics backend is a
        // ZooKeeperMetricsFactory, whose text /metrics serves.
        var metricsFactory: ZooKeeperMetricsFactory?
        if PrometheusEndpoint.isEnabled(configuration) {
            let factory = ZooKeeperMetricsFactory()
            MetricsSystem.bootstrap(factory)
            metricsFactory = factory
        }
        let server: PaddockServer
        do {
            server = try PaddockServer.start(configuration: configuration, logger: logger, metricsFactory: metricsFactory)
        } catch {
            FileHandle.standardError.write(Data("paddock: cannot start server: \(error)\n".utf8))
            throw ExitCode(1)
        }
        var listeners: [String] = []
        if let port = server.plainLocalPort { listeners.append("\(configuration.clientPortAddress ?? "0.0.0.0"):\(port)") }
        if let port = server.secureLocalPort { listeners.append("\(configuration.secureClientPortAddress ?? "0.0.0.0"):\(port) (TLS)") }
        let address = listeners.joined(separator: " and ")
        if let myId = server.memberId {
            let voters = configuration.participants.count
            say("paddock: ensemble member \(myId) of \(voters) voters and \(configuration.observers.count) observers listening on \(address), dataDir \(configuration.dataDirectory), tickTime \(configuration.tickTimeMs) ms")
        } else {
            say("paddock: standalone server listening on \(address), dataDir \(configuration.dataDirectory), tickTime \(configuration.tickTimeMs) ms")
        }
        let recovery = server.recovery
        say("paddock: recovered \(recovery.txnsReplayed) txns after snapshot \(recovery.snapshotPath ?? "none") in \(recovery.elapsedMs) ms; last zxid 0x\(String(UInt64(bitPattern: recovery.lastZxid), radix: 16))")
        if !configuration.forceSync {
            say("paddock: WARNING: forceSync=no: commits are not fsynced; acknowledged writes can be lost if the machine crashes (for benchmarks only)")
        }
        // The parts run as a ServiceGroup; SIGTERM or SIGINT stops them in order (see
        // PaddockServer.serviceConfigurations) and the process exits 0.
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: server.serviceConfigurations(), gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        var failure: (any Error)?
        do {
            try runBlocking { try await group.run() }
        } catch {
            failure = error
        }
        server.stop()
        if let failure {
            FileHandle.standardError.write(Data("paddock: stopped: \(failure)\n".utf8))
            throw ExitCode(1)
        }
        say("paddock: stopped")
    }
}

/// Unbuffered stdout line (tests wait on these lines).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func terminationSignals() -> sigset_t {
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGTERM)
    sigaddset(&set, SIGINT)
    return set
}

func blockTerminationSignals() {
    var set = terminationSignals()
    pthread_sigmask(SIG_BLOCK, &set, nil)
}
