import PaddockClient
import ZKBase

/// A lock without herd effect (the paper's section 2.4, "Locks without herd effect"; Curator's
/// InterProcessMutex).
///
/// Guarantee: while `acquire` has returned to a holder and its session lives, no other
/// participant's `acquire` returns for the same path; waiters get the lock in the order they
/// asked (their node's sequence). Each waiter watches only the node just before its own, so a
/// release wakes one participant, not all. A holder whose process dies keeps the lock until its
/// session expires at the server (its ephemeral node goes then). A holder must stop acting on the
/// lock once its session is `lost` or `expired` (see `PaddockClient.states`): the lock may have
/// passed on.
public struct DistributedLock: Sendable {
    public let client: PaddockClient
    public let path: String

    public init(client: PaddockClient, path: String) {
        self.client = client
        self.path = path
    }

    /// A held lock: its node, and `release`.
    public struct Holding: Sendable {
        public let lock: DistributedLock
        /// The lock node's name (under `lock.path`).
        public let node: String

        public func release() async throws(ZooKeeperError) {
            try await RecipeSupport.deleteIfPresent(lock.client, lock.path + "/" + node)
        }
    }

    /// Waits until this participant holds the lock.
    public func acquire() async throws(ZooKeeperError) -> Holding {
        try await RecipeSupport.ensurePath(client, path)
        let mine = try await RecipeSupport.createProtected(client, parent: path, name: "lock-", data: [])
        do throws(ZooKeeperError) {
            try await waitForTurn(mine)
        } catch {
            // Leave no node behind that would block the others.
            try? await RecipeSupport.deleteIfPresent(client, path + "/" + mine)
            throw error
        }
        return Holding(lock: self, node: mine)
    }

    /// Holds the lock around `body`.
    public func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        let holding = try await acquire()
        do {
            let result = try await body()
            try await holding.release()
            return result
        } catch {
            try? await holding.release()
            throw error
        }
    }

    /// Returns when no node before `mine` (in sequence order) is one `blocks` says waits ahead of
    /// it; meanwhile watches only the last such node (so a release wakes one waiter).
    func waitForTurn(_ mine: String, blockedBy blocks: (String) -> Bool = { _ in true }) async throws(ZooKeeperError) {
        while true {
            let children = RecipeSupport.sortedBySequence(try await client.getChildren(path))
            guard let index = children.firstIndex(of: mine) else {
                throw ZooKeeperError(.noNode, "the lock node \(path)/\(mine) is gone (the session expired?)")
            }
            guard let blocker = children[..<index].last(where: blocks) else { return }
            let (stat, watch) = try await client.existsWatch(path + "/" + blocker)
            guard stat != nil else { continue }
            // The blocker's deletion (or any change: look again).
            _ = try await RecipeSupport.nextEvent(watch, waitingFor: "\(path)/\(blocker) to go")
        }
    }
}
