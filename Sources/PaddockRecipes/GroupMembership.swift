import PaddockClient
import ZKBase

/// Group membership (the paper's section 2.4): each member is an ephemeral child of the group
/// node, named by the member, holding its data. Guarantee: a member is listed while its session
/// lives and disappears when it leaves or its session ends; `view()` yields the member list each
/// time it changes, read with a fresh watch each time, so no change after a yielded list is missed
/// (changes between two yields may be seen as one).
public struct GroupMembership: Sendable {
    public let client: PaddockClient
    public let path: String

    public init(client: PaddockClient, path: String) {
        self.client = client
        self.path = path
    }

    /// Joins as `member` (a name that must be unique in the group) with `data`.
    public func join(_ member: String, data: [UInt8] = []) async throws(ZooKeeperError) {
        try await RecipeSupport.ensurePath(client, path)
        try await client.create(path + "/" + member, data: data, mode: .ephemeral)
    }

    public func leave(_ member: String) async throws(ZooKeeperError) {
        try await client.delete(path + "/" + member)
    }

    public func members() async throws(ZooKeeperError) -> [String] {
        try await client.getChildren(path).sorted()
    }

    /// The member list now and after every change, until the task is cancelled or the session ends
    /// (a ConnectionLoss while the session lives only pauses it).
    public func view() -> AsyncThrowingStream<[String], any Error> {
        let client = self.client, path = self.path
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    // A ConnectionLoss while the session lives is a pause, not the end of the
                    // view: reads are retried (they are idempotent), and a watch set before it
                    // survives the reconnect (setWatches2).
                    try await RecipeSupport.retryingAfterConnectionLoss(client) { () throws(ZooKeeperError) in
                        try await RecipeSupport.ensurePath(client, path)
                    }
                    var last: [String]?
                    while !Task.isCancelled {
                        let (children, _, watch) = try await RecipeSupport.retryingAfterConnectionLoss(client) { () throws(ZooKeeperError) in
                            try await client.getChildrenWatch(path)
                        }
                        let sorted = children.sorted()
                        if sorted != last {
                            continuation.yield(sorted)
                            last = sorted
                        }
                        _ = try await watch.next()
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
