import PaddockClient
import ZKBase

/// Configuration management with a ready znode (the paper's section 2.4, "Configuration
/// Management", and its discussion of a new leader changing a multi-node configuration).
///
/// Layout: each entry is a child of `path/entries`; `path/ready` exists while the entries form a
/// whole configuration. A writer deletes `ready`, writes the entries one by one, then creates
/// `ready` again; a reader reads `ready` with a watch, then the entries, and keeps what it read
/// only if that watch has not fired by the time the last entry's reply arrived.
///
/// Guarantee: `read()` never returns a mixture of two configurations, nor a configuration whose
/// writer died midway (`ready` then stays absent: readers get nil until a writer completes).
/// Why: ZooKeeper applies a session's writes in order (FIFO), and tells a client of a watched
/// change before it lets that client see any later state; so if the writer's delete of `ready`
/// precedes an entry change the reader saw, the reader's ready watch has fired by then.
///
/// Why a lock alone is not enough: a lock keeps two writers apart, but a reader takes no lock,
/// so it can read while a writer is halfway, and a writer that dies halfway leaves a half-written
/// configuration behind when its lock passes on. `ready` is what makes the whole visible at once.
/// Writers still take turns: two publications at once can interleave their entries under one
/// `ready`, so concurrent writers hold a lock (`DistributedLock`) around `publish`, or one
/// writer publishes, as the paper's new leader does.
public struct ReadyConfiguration: Sendable {
    public let client: PaddockClient
    public let path: String

    public init(client: PaddockClient, path: String) {
        self.client = client
        self.path = path
    }

    var entriesPath: String { path + "/entries" }
    var readyPath: String { path + "/ready" }

    /// Replaces the whole configuration with `entries` (name → value).
    public func publish(_ entries: [String: [UInt8]]) async throws(ZooKeeperError) {
        try await RecipeSupport.ensurePath(client, entriesPath)
        try await RecipeSupport.deleteIfPresent(client, readyPath)
        let existing = Set(try await client.getChildren(entriesPath))
        for (name, value) in entries.sorted(by: { $0.key < $1.key }) {
            if existing.contains(name) {
                try await client.setData(entriesPath + "/" + name, value)
            } else {
                try await client.create(entriesPath + "/" + name, data: value)
            }
        }
        for stale in existing.subtracting(entries.keys).sorted() { try await client.delete(entriesPath + "/" + stale) }
        try await client.create(readyPath)
    }

    /// A whole configuration, and the watch that fires when it stops being current; nil (with a
    /// watch that fires when one becomes ready) while no whole configuration is there.
    public func read() async throws(ZooKeeperError) -> (entries: [String: [UInt8]]?, changed: WatchEvents) {
        while true {
            let (ready, watch) = try await client.existsWatch(readyPath)
            guard ready != nil else { return (nil, watch) }
            var entries: [String: [UInt8]] = [:]
            var vanished = false
            for name in try await client.getChildren(entriesPath) {
                let read = await RecipeSupport.outcome { () throws(ZooKeeperError) in try await client.getData(entriesPath + "/" + name) }
                switch read {
                case .success(let (data, _)): entries[name] = data ?? []
                case .failure(let error) where error.code == .noNode: vanished = true
                case .failure(let error): throw error
                }
            }
            // Every reply above came after any notification the server sent before it.
            if !watch.hasFired && !vanished { return (entries, watch) }
        }
    }
}
