import PaddockClient
import ZKBase

/// What the recipes share: making parent paths, ZooKeeper's protected-ephemeral-sequential
/// naming (Curator's "_c_<id>-"), and ordering sequential children.
enum RecipeSupport {
    /// The name a sequential node got, without the protected prefix and the sequence number
    /// (`_c_<hex>-read-0000000007` -> `read-`).
    static func kind(of name: String) -> Substring {
        let unsequenced = name.dropLast(10)
        guard name.hasPrefix("_c_"), let dash = unsequenced.firstIndex(of: "-") else { return unsequenced }
        return unsequenced[unsequenced.index(after: dash)...]
    }

    /// Creates `path` and its missing parents (persistent, empty); existing ones are fine.
    static func ensurePath(_ client: PaddockClient, _ path: String) async throws(ZooKeeperError) {
        guard path != "/" else { return }
        if try await client.exists(path) != nil { return }
        try await ensurePath(client, PathValidation.parent(of: path))
        let created = await outcome { () throws(ZooKeeperError) in try await client.create(path) }
        if case .failure(let error) = created, error.code != .nodeExists { throw error }
    }

    /// The child of `parent` whose name starts with `prefix`, or nil.
    static func findProtected(_ client: PaddockClient, parent: String, prefix: String) async throws(ZooKeeperError) -> String? {
        try await retryingAfterConnectionLoss(client) { () throws(ZooKeeperError) in
            try await client.getChildren(parent).first { $0.hasPrefix(prefix) }
        }
    }

    /// Deletes `path` if it is there: a participant's node left behind would block the others
    /// until its session ends.
    static func deleteIfPresent(_ client: PaddockClient, _ path: String) async throws(ZooKeeperError) {
        try await retryingAfterConnectionLoss(client) { () throws(ZooKeeperError) in
            let deleted = await outcome { () throws(ZooKeeperError) in try await client.delete(path) }
            if case .failure(let error) = deleted, error.code != .noNode { throw error }
        }
    }

    /// Runs `body` again after a ConnectionLoss while the session lives, pausing between tries
    /// (bounded by `RecipeLimits`); for idempotent steps only.
    static func retryingAfterConnectionLoss<T>(
        _ client: PaddockClient, _ body: () async throws(ZooKeeperError) -> T
    ) async throws(ZooKeeperError) -> T {
        var attempts = 0
        while true {
            switch await outcome(body) {
            case .success(let value):
                return value
            case .failure(let error) where error.outcomeUnknown && !client.state.isTerminal && attempts < RecipeLimits.retriesAfterConnectionLoss:
                attempts += 1
                try? await Task.sleep(for: RecipeLimits.retryPause)
            case .failure(let error):
                throw error
            }
        }
    }

    /// Waits for a watch's next event. A recipe waiting in a cancelled task stops (it would
    /// otherwise go on waiting for a participant nobody waits for); a watch that ends without an
    /// event means the session ended.
    static func nextEvent(_ watch: WatchEvents, waitingFor what: String) async throws(ZooKeeperError) -> WatchEvent {
        let event = try? await watch.next()
        if Task.isCancelled { throw ZooKeeperError(.systemError, "cancelled while waiting for \(what)") }
        guard let event else { throw ZooKeeperError(.sessionExpired, "the session ended while waiting for \(what)") }
        return event
    }

    static func outcome<T>(_ body: () async throws(ZooKeeperError) -> T) async -> Result<T, ZooKeeperError> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    /// A fresh protected prefix: `_c_<32 hex digits>-`. After a ConnectionLoss on create, the
    /// node (if the create was applied) is the child whose name starts with it.
    static func protectedPrefix() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64, low = generator.next() as UInt64
        return "_c_" + hex(high) + hex(low) + "-"
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// The sequence number ZooKeeper appended (the last 10 digits), for ordering.
    static func sequence(of name: String) -> Int64 {
        Int64(name.suffix(10)) ?? Int64.max
    }

    static func sortedBySequence(_ names: [String]) -> [String] {
        names.sorted { (sequence(of: $0), $0) < (sequence(of: $1), $1) }
    }

    /// Creates an ephemeral sequential `parent/<protected prefix><name>`; after a ConnectionLoss
    /// looks for the node the create may have made before trying again. Returns the child name.
    static func createProtected(
        _ client: PaddockClient, parent: String, name: String, data: [UInt8]
    ) async throws(ZooKeeperError) -> String {
        let prefix = protectedPrefix()
        while true {
            let created = await outcome { () throws(ZooKeeperError) in
                try await client.create(parent + "/" + prefix + name, data: data, mode: .ephemeralSequential)
            }
            switch created {
            case .success(let path):
                return String(PathValidation.lastComponent(of: path))
            case .failure(let error) where error.outcomeUnknown:
                // Did it land? Only this participant's node carries the prefix. Look before
                // creating again, however long reaching a server takes: a second create would
                // leave this participant a node of its own ahead of it, waiting forever.
                if let mine = try await findProtected(client, parent: parent, prefix: prefix) { return mine }
            case .failure(let error):
                throw error
            }
        }
    }
}

/// The recipes' bounds on retrying after ConnectionLoss (every loop is bounded).
enum RecipeLimits {
    /// Deletes, or reads looking for a protected node, tried after ConnectionLoss before the error
    /// reaches the caller: with the pause, longer than a typical session timeout.
    static let retriesAfterConnectionLoss = 300
    static let retryPause = Duration.milliseconds(100)
}
