import PaddockClient
import ZKBase

/// A double barrier (the paper's section 2.4): `count` participants enter, none starts its
/// computation before all have entered; none leaves before all have finished.
///
/// Each participant adds an ephemeral child of `path`; the one that sees `count` children
/// creates `path/ready`, whose creation everyone waits for. Leaving, each deletes its child and
/// waits until no participant child is left. Guarantee: `enter` returns to no one before
/// `count` participants have entered; `leave` returns to no one while another participant that
/// entered has not left (or lost its session). A path serves one round: `ready` stays, so use a
/// fresh path (e.g. with a round number) for the next.
public struct DoubleBarrier: Sendable {
    public let client: PaddockClient
    public let path: String
    public let count: Int

    public init(client: PaddockClient, path: String, count: Int) {
        precondition(count > 0, "a barrier for no participant")
        self.client = client
        self.path = path
        self.count = count
    }

    var readyPath: String { path + "/ready" }

    /// Joins as `name` (unique among the participants) and waits for the others.
    public func enter(as name: String) async throws(ZooKeeperError) {
        try await RecipeSupport.ensurePath(client, path)
        let (ready, watch) = try await client.existsWatch(readyPath)
        try await client.create(path + "/" + name, mode: .ephemeral)
        if ready != nil { return }
        let participants = try await client.getChildren(path).filter { $0 != "ready" }
        if participants.count >= count {
            let created = await RecipeSupport.outcome { () throws(ZooKeeperError) in try await client.create(readyPath) }
            if case .failure(let error) = created, error.code != .nodeExists { throw error }
            return
        }
        while true {
            let event = try await RecipeSupport.nextEvent(watch, waitingFor: "\(readyPath) (entering)")
            if event.type == .nodeCreated { return }
        }
    }

    /// Leaves as `name` and waits until every participant has left.
    public func leave(as name: String) async throws(ZooKeeperError) {
        try await RecipeSupport.deleteIfPresent(client, path + "/" + name)
        while true {
            let participants = try await client.getChildren(path).filter { $0 != "ready" }
            guard let other = participants.sorted().first else { return }
            let (stat, watch) = try await client.existsWatch(path + "/" + other)
            if stat == nil { continue }
            _ = try await RecipeSupport.nextEvent(watch, waitingFor: "\(path)/\(other) to leave")
        }
    }
}
