import Logging
import NIOCore
import ServiceLifecycle

/// The server's parts as swift-service-lifecycle Services, for a ServiceGroup (`paddock server`
/// runs one with SIGTERM and SIGINT as its graceful-shutdown signals). A ServiceGroup shuts its
/// services down one at a time in reverse order, so the list runs from the storage (stopped
/// last) to the metrics endpoint (stopped first):
///
/// 1. node: the node loop and its timers (sessions, containers, autopurge), the snapshot thread,
///    the log and the data directory. Ends the group with an error when the node stops on one.
/// 2. ensemble peer ports (a member only).
/// 3. client ports: stop accepting, stop reading, let the log batch in flight become durable and
///    its replies go out, close the connections (the sessions stay valid).
/// 4. admin server, 5. Prometheus endpoint.
extension PaddockServer {
    public func serviceConfigurations() -> [ServiceGroupConfiguration.ServiceConfiguration] {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: StopStep(name: "node", run: { try await self.runNode() }, stop: { self.stop() })),
        ]
        if let peer = node.peer {
            services.append(.init(service: StopStep(name: "ensemble peer", stop: { peer.stop() })))
        }
        services.append(.init(service: StopStep(name: "client ports", stop: { await self.stopClientService() })))
        if let adminChannel {
            services.append(.init(service: StopStep(name: "admin server", stop: { try? await adminChannel.close() })))
        }
        if let metricsChannel {
            services.append(.init(service: StopStep(name: "metrics endpoint", stop: { try? await metricsChannel.close() })))
        }
        return services
    }

    /// Until the node stops on an error (thrown) or a graceful shutdown reaches it.
    func runNode() async throws {
        let stopped = self.stopped
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                try? await stopped.futureResult.get()
            } onCancel: {
                stopped.succeed(())
            }
        } onGracefulShutdown: {
            stopped.succeed(())
        }
        if let fatal = try? await node.loop.submit({ self.node.fatalMessage }).get() {
            throw StartupError(description: fatal)
        }
    }

    /// Stops accepting, drains the txns in flight (at most `drainTimeMax`), closes the connections.
    func stopClientService() async {
        try? await secureChannel?.close()
        try? await channel.close()
        let node = self.node
        let deadline = NIODeadline.now() + Self.drainTimeMax
        try? await node.loop.flatSubmit { node.drain(deadline: deadline) }.get()
        try? await node.loop.flatSubmit { node.closeClientConnections() }.get()
    }

    /// How long a stop waits for txns in flight (a member without a quorum may never commit them).
    static let drainTimeMax = TimeAmount.seconds(5)
}

/// One part of the server: waits for the graceful shutdown (or cancellation), then stops its part.
struct StopStep: Service, CustomStringConvertible {
    let name: String
    var run: (@Sendable () async throws -> Void)? = nil
    let stop: @Sendable () async -> Void

    var description: String { name }

    func run() async throws {
        // A body that throws (the node's error) leaves the stopping to the group's owner.
        if let run { try await run() } else { try? await gracefulShutdown() }
        await stop()
    }
}
