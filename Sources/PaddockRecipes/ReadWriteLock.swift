import PaddockClient
import ZKBase

/// Read/write locks (the paper's section 2.4; Curator's InterProcessReadWriteLock).
///
/// Readers and writers queue as ephemeral sequential children of `path` named `read-` and
/// `write-`. Guarantee: while a writer holds the lock (and its session lives) no reader or other
/// writer holds it; any number of readers hold it together; a participant gets it in the order it
/// asked, so a waiting writer is not starved by readers that asked after it. A reader watches
/// only the last writer before it and a writer only the node just before it (no herd effect).
/// As with `DistributedLock`, a holder whose session is `lost` or `expired` must stop acting on it.
public struct ReadWriteLock: Sendable {
    public let client: PaddockClient
    public let path: String

    public init(client: PaddockClient, path: String) {
        self.client = client
        self.path = path
    }

    /// Waits until this participant may read (no writer ahead of it).
    public func acquireRead() async throws(ZooKeeperError) -> DistributedLock.Holding {
        try await acquire(kind: Self.readKind) { RecipeSupport.kind(of: $0) == Self.writeKind }
    }

    /// Waits until this participant may write (nobody ahead of it).
    public func acquireWrite() async throws(ZooKeeperError) -> DistributedLock.Holding {
        try await acquire(kind: Self.writeKind) { _ in true }
    }

    static let readKind = "read-"
    static let writeKind = "write-"

    private func acquire(kind: String, blockedBy blocks: @escaping (String) -> Bool) async throws(ZooKeeperError) -> DistributedLock.Holding {
        let queue = DistributedLock(client: client, path: path)
        try await RecipeSupport.ensurePath(client, path)
        let mine = try await RecipeSupport.createProtected(client, parent: path, name: kind, data: [])
        do throws(ZooKeeperError) {
            try await queue.waitForTurn(mine, blockedBy: blocks)
        } catch {
            try? await RecipeSupport.deleteIfPresent(client, path + "/" + mine)
            throw error
        }
        return DistributedLock.Holding(lock: queue, node: mine)
    }
}
