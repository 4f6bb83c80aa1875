import ZKBase

/// Sessions and their expiry, as ZooKeeper's SessionTrackerImpl + ExpiryQueue: deadlines are
/// rounded up to the next tick so expiry is checked once per tick. Time comes in as an argument.
public struct SessionTracker: Sendable {
    public struct Session: Sendable, Hashable {
        public var id: Int64
        public var timeoutMs: Int32
        public var expirationMs: Int64
        public var isClosing: Bool
    }

    public let tickMs: Int64
    public private(set) var sessions: [Int64: Session] = [:]
    private var buckets: [Int64: Set<Int64>] = [:]
    private var nextSessionId: Int64

    /// `initialSessionId` is ZooKeeper's `(serverId << 56) | (elapsed ms << 24 >>> 8)`, made by the shell.
    public init(tickMs: Int64, initialSessionId: Int64) {
        precondition(tickMs > 0, "tickTime must be positive")
        self.tickMs = tickMs
        self.nextSessionId = initialSessionId == EphemeralOwner.container ? initialSessionId + 1 : initialSessionId
    }

    public static func initialSessionId(serverId: Int64, elapsedMs: Int64) -> Int64 {
        let timeBits = Int64(bitPattern: UInt64(bitPattern: elapsedMs << 24) >> 8)
        return timeBits | (serverId << 56)
    }

    public var count: Int { sessions.count }

    private func roundToNextTick(_ timeMs: Int64) -> Int64 { (timeMs / tickMs + 1) * tickMs }

    public mutating func allocateSessionId() -> Int64 {
        let id = nextSessionId
        nextSessionId += 1
        if nextSessionId == EphemeralOwner.container { nextSessionId += 1 }
        return id
    }

    /// Starts tracking a session (new, or known from the log after a restart).
    public mutating func track(id: Int64, timeoutMs: Int32, nowMs: Int64) {
        if sessions[id] != nil { remove(id: id) }
        let expiration = roundToNextTick(nowMs + Int64(timeoutMs))
        sessions[id] = Session(id: id, timeoutMs: timeoutMs, expirationMs: expiration, isClosing: false)
        buckets[expiration, default: []].insert(id)
    }

    /// Pushes the deadline out; false when the session is unknown or closing.
    @discardableResult
    public mutating func touch(id: Int64, nowMs: Int64, timeoutMs: Int32? = nil) -> Bool {
        guard var session = sessions[id], !session.isClosing else { return false }
        if let timeoutMs { session.timeoutMs = timeoutMs }
        let expiration = roundToNextTick(nowMs + Int64(session.timeoutMs))
        if expiration != session.expirationMs {
            buckets[session.expirationMs]?.remove(id)
            if buckets[session.expirationMs]?.isEmpty == true { buckets[session.expirationMs] = nil }
            buckets[expiration, default: []].insert(id)
            session.expirationMs = expiration
        }
        sessions[id] = session
        return true
    }

    public func isActive(_ id: Int64) -> Bool { sessions[id].map { !$0.isClosing } ?? false }

    public mutating func markClosing(_ id: Int64) { sessions[id]?.isClosing = true }

    public mutating func remove(id: Int64) {
        guard let session = sessions.removeValue(forKey: id) else { return }
        buckets[session.expirationMs]?.remove(id)
        if buckets[session.expirationMs]?.isEmpty == true { buckets[session.expirationMs] = nil }
    }

    /// Forgets every session (a member changing role; ids keep counting from where they were).
    public mutating func removeAll() {
        sessions.removeAll()
        buckets.removeAll()
    }

    /// Sessions whose deadline passed, sorted; they are marked closing (their closeSession txn follows).
    public mutating func expire(nowMs: Int64, limit: Int = Int.max) -> [Int64] {
        var expired: [Int64] = []
        for deadline in buckets.keys.sorted() where deadline <= nowMs {
            guard expired.count < limit else { break }
            var bucket = buckets.removeValue(forKey: deadline) ?? []
            for id in bucket.sorted() where sessions[id]?.isClosing == false {
                guard expired.count < limit else { break }
                expired.append(id)
                bucket.remove(id)
            }
            // What the limit left stays due (still at its deadline) for the next call.
            bucket = bucket.filter { sessions[$0]?.isClosing == false }
            if !bucket.isEmpty { buckets[deadline] = bucket }
        }
        expired.sort()
        for id in expired { sessions[id]?.isClosing = true }
        return expired
    }
}
