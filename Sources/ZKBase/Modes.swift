/// CreateMode flags as sent in CreateRequest.flags.
public enum CreateMode: Int32, Sendable, Hashable, CaseIterable {
    case persistent = 0
    case ephemeral = 1
    case persistentSequential = 2
    case ephemeralSequential = 3
    case container = 4
    case persistentWithTTL = 5
    case persistentSequentialWithTTL = 6

    public var isEphemeral: Bool { self == .ephemeral || self == .ephemeralSequential }
    public var isSequential: Bool {
        self == .persistentSequential || self == .ephemeralSequential || self == .persistentSequentialWithTTL
    }
    public var isContainer: Bool { self == .container }
    public var isTTL: Bool { self == .persistentWithTTL || self == .persistentSequentialWithTTL }
}

/// WatchedEvent types (Watcher.Event.EventType).
public enum EventType: Int32, Sendable, Hashable {
    case none = -1
    case nodeCreated = 1
    case nodeDeleted = 2
    case nodeDataChanged = 3
    case nodeChildrenChanged = 4
    case dataWatchRemoved = 5
    case childWatchRemoved = 6
    case persistentWatchRemoved = 7
}

/// Watcher.Event.KeeperState values sent in notifications.
public enum KeeperState: Int32, Sendable, Hashable {
    case disconnected = 0
    case syncConnected = 3
    case authFailed = 4
    case connectedReadOnly = 5
    case saslAuthenticated = 6
    case closed = 7
    case expired = -112
}

/// AddWatchRequest.mode (ZooDefs.AddWatchModes).
public enum AddWatchMode: Int32, Sendable, Hashable {
    case persistent = 0
    case persistentRecursive = 1
}

/// WatcherType for checkWatches/removeWatches (Watcher.WatcherType).
public enum WatcherType: Int32, Sendable, Hashable {
    case children = 1
    case data = 2
    case any = 3
    case persistent = 4
    case persistentRecursive = 5
}

/// ACL permission bits (ZooDefs.Perms).
public struct Perms: OptionSet, Sendable, Hashable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let read = Perms(rawValue: 1)
    public static let write = Perms(rawValue: 2)
    public static let create = Perms(rawValue: 4)
    public static let delete = Perms(rawValue: 8)
    public static let admin = Perms(rawValue: 16)
    public static let all: Perms = [.read, .write, .create, .delete, .admin]
}
