import PaddockClient
import ZKBase

/// Rendezvous (the paper's section 2.4): a coordinator creates an empty node and hands its path to
/// a master and its workers, which start in any order; the master fills the node in with what
/// the workers need (its address, say) and the workers wait for it. Guarantee: `waitForData` returns the
/// master's data to a worker whether the worker asked before or after it was published, and never
/// returns an empty node. If the coordinator makes the node ephemeral, its removal at the end of
/// the coordinator's session tells master and workers to clean up (`waitForEnd`).
public struct Rendezvous: Sendable {
    public let client: PaddockClient
    public let path: String

    public init(client: PaddockClient, path: String) {
        self.client = client
        self.path = path
    }

    /// The coordinator's step: the empty rendezvous node (ephemeral by default, see above).
    public func create(ephemeral: Bool = true) async throws(ZooKeeperError) {
        try await RecipeSupport.ensurePath(client, PathValidation.parent(of: path))
        try await client.create(path, data: [], mode: ephemeral ? .ephemeral : .persistent)
    }

    /// The master's step: what the workers need. Empty data is refused (it means "not yet").
    public func publish(_ data: [UInt8]) async throws(ZooKeeperError) {
        guard !data.isEmpty else { throw ZooKeeperError(.badArguments, "a rendezvous needs non-empty data") }
        _ = try await client.setData(path, data)
    }

    /// A worker's step: waits for the master's data. Fails with `.noNode` if the rendezvous
    /// node does not exist or goes away first (the coordinator ended).
    public func waitForData() async throws(ZooKeeperError) -> [UInt8] {
        while true {
            let (data, _, watch) = try await client.getDataWatch(path)
            if let data, !data.isEmpty { return data }
            let event = try await RecipeSupport.nextEvent(watch, waitingFor: "the data of \(path)")
            if event.type == .nodeDeleted { throw ZooKeeperError(.noNode, "the rendezvous \(path) ended before it was filled in") }
        }
    }

    /// Returns once the rendezvous node is gone.
    public func waitForEnd() async throws(ZooKeeperError) {
        while true {
            let (stat, watch) = try await client.existsWatch(path)
            guard stat != nil else { return }
            _ = try await RecipeSupport.nextEvent(watch, waitingFor: "\(path) to go")
        }
    }
}
