/// An authentication identity: scheme plus id (`world:anyone`, `digest:user:hash`, `ip:10.0.0.0/8`).
public struct Id: Sendable, Hashable, Comparable {
    public var scheme: String
    public var id: String
    public init(scheme: String, id: String) {
        self.scheme = scheme
        self.id = id
    }
    public static func < (lhs: Id, rhs: Id) -> Bool { (lhs.scheme, lhs.id) < (rhs.scheme, rhs.id) }

    public static let anyone = Id(scheme: "world", id: "anyone")
    public static let authIds = Id(scheme: "auth", id: "")
    public static let superUser = Id(scheme: "super", id: "")
}

/// One ACL entry: permission bits granted to an identity.
public struct ACL: Sendable, Hashable {
    public var perms: Perms
    public var id: Id
    public init(perms: Perms, id: Id) {
        self.perms = perms
        self.id = id
    }
    public static let openUnsafe: [ACL] = [ACL(perms: .all, id: .anyone)]
    public static let readUnsafe: [ACL] = [ACL(perms: .read, id: .anyone)]
    public static let creatorAll: [ACL] = [ACL(perms: .all, id: .authIds)]
}
