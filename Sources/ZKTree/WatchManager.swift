import ZKBase
import ZKWire

/// Identifies who receives notifications: one client connection (watches belong to connections,
/// not sessions; a reconnecting client re-registers them with setWatches).
public typealias WatcherID = UInt64

/// A notification to deliver to one watcher.
public struct WatchNotification: Sendable, Hashable {
    public var watcher: WatcherID
    public var event: WatcherEvent
    /// The ACL of the node the event is about: ZooKeeper (since the CVE-2024-23944 fix, which
    /// Debian's 3.8 carries) delivers an event only to watchers with READ on it. nil = no check.
    public var acl: [ACL]?

    public init(watcher: WatcherID, event: WatcherEvent, acl: [ACL]? = nil) {
        self.watcher = watcher
        self.event = event
        self.acl = acl
    }
}

public enum WatcherMode: Sendable, Hashable {
    case standard
    case persistent
    case persistentRecursive

    public var isPersistent: Bool { self != .standard }
}

/// ZooKeeper's WatchManager: path -> watchers, each (watcher, path) with one mode (the last added
/// wins, as in 3.8). Standard watches are removed when they fire; persistent ones stay; recursive
/// ones fire for the path and every descendant, except for NodeChildrenChanged.
public struct WatchManager: Sendable {
    private var table: [String: [WatcherID: WatcherMode]] = [:]
    private var pathsByWatcher: [WatcherID: Set<String>] = [:]
    private var recursiveCount = 0

    public init() {}

    public var watchCount: Int { table.values.reduce(0) { $0 + $1.count } }
    public var pathCount: Int { table.count }
    /// Watchers that have had a watch here since their connection opened, including those whose
    /// watches all fired or were removed (ZooKeeper's watch2Paths keeps them until the connection
    /// closes; its wchs counts them).
    public var watcherCount: Int { pathsByWatcher.count }

    public mutating func add(path: String, watcher: WatcherID, mode: WatcherMode = .standard) {
        let previous = table[path, default: [:]].updateValue(mode, forKey: watcher)
        if previous == .persistentRecursive { recursiveCount -= 1 }
        if mode == .persistentRecursive { recursiveCount += 1 }
        pathsByWatcher[watcher, default: []].insert(path)
    }

    public func contains(path: String, watcher: WatcherID) -> Bool { table[path]?[watcher] != nil }

    public enum CheckWatchesOutcome: Sendable { case found, notFound, malformedPath }

    /// checkWatches as ZooKeeper 3.8's WatchManager.containsWatcher answers it, walking the path
    /// the way its PathParentIterator does: true when *any* watcher watches the path itself (3.8
    /// does not look for this watcher in the set), or this watcher's watch there is recursive. A
    /// path the walk cannot take apart (no '/') throws in ZooKeeper: `.malformedPath`.
    public func checkWatches(path: String, watcher: WatcherID) -> CheckWatchesOutcome {
        let recursiveHere = table[path]?[watcher] == .persistentRecursive
        var current = path
        var level = -1
        let levelMax = recursiveCount > 0 ? Int.max : 0
        while !current.isEmpty && level < levelMax {
            let local = current
            level += 1
            if current == "/" {
                current = ""
            } else {
                guard let slash = current.utf8.lastIndex(of: UInt8(ascii: "/")) else { return .malformedPath }
                current = String(current[current.startIndex..<slash])
                if current.isEmpty { current = "/" }
            }
            if level == 0 && table[local] != nil { return .found }
            if recursiveHere { return .found }
        }
        return .notFound
    }

    public func mode(path: String, watcher: WatcherID) -> WatcherMode? { table[path]?[watcher] }

    @discardableResult
    public mutating func remove(path: String, watcher: WatcherID) -> Bool {
        guard let mode = table[path]?.removeValue(forKey: watcher) else { return false }
        if mode == .persistentRecursive { recursiveCount -= 1 }
        if table[path]?.isEmpty == true { table[path] = nil }
        // The watcher keeps its (now perhaps empty) entry until its connection goes, as in
        // ZooKeeper 3.8's WatchManager (watch2Paths): wchs counts it and wchc lists it.
        pathsByWatcher[watcher]?.remove(path)
        return true
    }

    /// Drops every watch of a closed connection.
    public mutating func removeWatcher(_ watcher: WatcherID) {
        guard let paths = pathsByWatcher.removeValue(forKey: watcher) else { return }
        for path in paths {
            if table[path]?.removeValue(forKey: watcher) == .persistentRecursive { recursiveCount -= 1 }
            if table[path]?.isEmpty == true { table[path] = nil }
        }
    }

    /// Fires the watches an event on `path` triggers and returns the watchers notified (sorted, so
    /// delivery order never depends on hashing). `suppressed` watchers are consumed but not notified.
    public mutating func trigger(
        path: String, type: EventType, acl: [ACL]? = nil, suppressed: Set<WatcherID> = [],
        into notifications: inout [WatchNotification]
    ) -> Set<WatcherID> {
        var fired = Set<WatcherID>()
        var current = path
        var atParent = false
        while true {
            if var watchers = table[current] {
                for (watcher, mode) in watchers {
                    switch mode {
                    case .persistentRecursive:
                        if type != .nodeChildrenChanged { fired.insert(watcher) }
                    case .persistent:
                        if !atParent { fired.insert(watcher) }
                    case .standard:
                        if !atParent {
                            fired.insert(watcher)
                            watchers[watcher] = nil
                            pathsByWatcher[watcher]?.remove(current)   // the entry stays, see remove
                        }
                    }
                }
                table[current] = watchers.isEmpty ? nil : watchers
            }
            // Only recursive watches look at ancestors; skip the walk when there are none.
            if recursiveCount == 0 || current == "/" { break }
            current = PathValidation.parent(of: current)
            atParent = true
        }
        let event = WatcherEvent(type: type, path: path)
        for watcher in fired.sorted() where !suppressed.contains(watcher) {
            notifications.append(WatchNotification(watcher: watcher, event: event, acl: acl))
        }
        return fired
    }

    /// Paths watched by one watcher, sorted (for wchc).
    public func paths(of watcher: WatcherID) -> [String] { (pathsByWatcher[watcher] ?? []).sorted() }

    /// Watchers of one path, sorted (for wchp).
    public func watchers(of path: String) -> [WatcherID] { (table[path]?.keys).map { $0.sorted() } ?? [] }

    public var allPaths: [String] { table.keys.sorted() }
    public var allWatchers: [WatcherID] { pathsByWatcher.keys.sorted() }
}
