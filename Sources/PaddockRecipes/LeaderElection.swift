import PaddockClient
import ZKBase

/// Leader election with leader information (the paper's section 2.4; Curator's LeaderLatch).
///
/// Each candidate adds an ephemeral sequential node holding its id; the lowest leads. Guarantee:
/// at most one candidate whose session is alive is told it leads at a time, and every candidate
/// can read who leads (`leader()`). `Leadership.epoch` is the leader node's czxid: it grows with
/// every new leader (a later node has a later zxid), so a leader can stamp its writes with it and
/// anyone can refuse work stamped by an older epoch (fencing a leader that lost its session but
/// does not know yet). Each candidate watches only its predecessor (no herd effect).
public struct LeaderElection: Sendable {
    public let client: PaddockClient
    public let path: String

    public init(client: PaddockClient, path: String) {
        self.client = client
        self.path = path
    }

    /// Who leads, as any participant reads it.
    public struct Leader: Sendable, Hashable {
        public var id: String
        public var epoch: Int64
        public var node: String
    }

    /// This participant's leadership, once it has it.
    public struct Leadership: Sendable {
        public let election: LeaderElection
        public let id: String
        public let node: String
        /// The fencing token: the leader node's czxid.
        public let epoch: Int64

        /// Gives up leadership (the next candidate takes over).
        public func resign() async throws(ZooKeeperError) {
            try await RecipeSupport.deleteIfPresent(election.client, election.path + "/" + node)
        }
    }

    /// Stands as a candidate with `id`; returns when this participant leads.
    public func lead(as id: String) async throws(ZooKeeperError) -> Leadership {
        try await RecipeSupport.ensurePath(client, path)
        let mine = try await RecipeSupport.createProtected(client, parent: path, name: "n_", data: Array(id.utf8))
        do throws(ZooKeeperError) {
            try await DistributedLock(client: client, path: path).waitForTurn(mine)
            guard let stat = try await client.exists(path + "/" + mine) else {
                throw ZooKeeperError(.noNode, "the candidate node \(path)/\(mine) is gone (the session expired?)")
            }
            return Leadership(election: self, id: id, node: mine, epoch: stat.czxid)
        } catch {
            try? await RecipeSupport.deleteIfPresent(client, path + "/" + mine)
            throw error
        }
    }

    /// The current leader, or nil when there is no candidate.
    public func leader() async throws(ZooKeeperError) -> Leader? {
        while true {
            guard try await client.exists(path) != nil else { return nil }
            let children = RecipeSupport.sortedBySequence(try await client.getChildren(path))
            guard let first = children.first else { return nil }
            let read = await RecipeSupport.outcome { () throws(ZooKeeperError) in try await client.getData(path + "/" + first) }
            switch read {
            case .success(let (data, stat)):
                return Leader(id: String(decoding: data ?? [], as: UTF8.self), epoch: stat.czxid, node: first)
            case .failure(let error) where error.code == .noNode:
                continue  // it resigned between the two reads
            case .failure(let error):
                throw error
            }
        }
    }
}
