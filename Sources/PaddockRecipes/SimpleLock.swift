import PaddockClient
import ZKBase

/// The paper's simple lock (section 2.4, "Simple Locks"): the holder is whoever created the
/// ephemeral `path`. Guarantee: at most one live session holds it; it is freed by `release` or
/// by the end of the holder's session. Every waiter watches the same node, so a release wakes
/// them all (the herd effect `DistributedLock` avoids) and there is no order among waiters:
/// use it where contention is low.
public struct SimpleLock: Sendable {
    public let client: PaddockClient
    public let path: String

    public init(client: PaddockClient, path: String) {
        self.client = client
        self.path = path
    }

    public func acquire() async throws(ZooKeeperError) {
        try await RecipeSupport.ensurePath(client, PathValidation.parent(of: path))
        while true {
            let created = await RecipeSupport.outcome { () throws(ZooKeeperError) in try await client.create(path, mode: .ephemeral) }
            switch created {
            case .success:
                return
            case .failure(let error) where error.code == .nodeExists || error.outcomeUnknown:
                // After a ConnectionLoss the create may have landed: the node's owner says whose it is.
                let (stat, watch) = try await client.existsWatch(path)
                guard let stat else { continue }
                if stat.ephemeralOwner == client.sessionId { return }
                _ = try await RecipeSupport.nextEvent(watch, waitingFor: "\(path) to be released")
            case .failure(let error):
                throw error
            }
        }
    }

    public func release() async throws(ZooKeeperError) {
        try await RecipeSupport.deleteIfPresent(client, path)
    }
}
