import ZKBase
import ZKTree

/// ACL checks and fix-ups as ZooKeeper's PrepRequestProcessor.checkACL / fixupACL with the
/// digest and ip providers, and x509 when the shell registered it (no SASL).
public enum AccessControl {
    public static func check(_ acl: [ACL], _ permission: Perms, authInfo: [Id]) -> Bool {
        if acl.isEmpty { return true }
        if authInfo.contains(where: { $0.scheme == "super" }) { return true }
        for entry in acl where !entry.perms.intersection(permission).isEmpty {
            if entry.id.scheme == "world" && entry.id.id == "anyone" { return true }
            for auth in authInfo where auth.scheme == entry.id.scheme {
                if matches(scheme: auth.scheme, authenticated: auth.id, aclExpression: entry.id.id) { return true }
            }
        }
        return false
    }

    static func matches(scheme: String, authenticated: String, aclExpression: String) -> Bool {
        switch scheme {
        case "digest": return authenticated == aclExpression
        case "ip": return IPAddressMatch.matches(address: authenticated, expression: aclExpression)
        // X509AuthenticationProvider.matches: the DN as Java prints it, compared exactly. (Its
        // super-user clause is covered by the `super` id the super user's connection also holds.)
        case "x509": return authenticated == aclExpression
        default: return false
        }
    }

    /// Expands `auth` ids, drops duplicates and rejects ids no provider accepts; nil = InvalidACL.
    /// `x509Enabled`: the x509 provider is registered, so `x509` ids are valid and authenticated.
    public static func fixup(_ acl: [ACL], authInfo: [Id], x509Enabled: Bool = false) -> [ACL]? {
        var unique: [ACL] = []
        for entry in acl where !unique.contains(entry) { unique.append(entry) }
        if unique.isEmpty { return nil }
        var result: [ACL] = []
        for entry in unique {
            let id = entry.id
            if id.scheme == "world" && id.id == "anyone" {
                result.append(entry)
            } else if id.scheme == "auth" {
                // Only ids of authenticating providers count (digest and x509 yes; ip is not "authenticated").
                let authenticated = AuthInfoOrder.ordered(authInfo).filter {
                    $0.scheme == "digest" || ($0.scheme == "x509" && x509Enabled)
                }
                if authenticated.isEmpty { return nil }
                for auth in authenticated { result.append(ACL(perms: entry.perms, id: auth)) }
            } else if isValid(id, x509Enabled: x509Enabled) {
                result.append(entry)
            } else {
                return nil
            }
        }
        return result
    }

    static func isValid(_ id: Id, x509Enabled: Bool) -> Bool {
        switch id.scheme {
        case "digest":
            // Java's id.split(":").length == 2 (trailing empty parts dropped).
            var parts = id.id.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            while parts.last == "" { parts.removeLast() }
            return parts.count == 2
        case "ip":
            return IPAddressMatch.isValid(expression: id.id)
        case "x509":
            // An unregistered provider makes the scheme invalid, as in ZooKeeper.
            return x509Enabled && DistinguishedNameSyntax.isValid(id.id)
        default:
            return false
        }
    }
}

/// ZooKeeper keeps a connection's auth ids in a ConcurrentHashMap-backed set, so whoAmI and the
/// expansion of `auth` ACLs list them in that map's iteration order: buckets of the spread
/// jute hashCode of Id (37 * (37 * 17 + scheme.hashCode) + id.hashCode), insertion order within
/// a bucket; the table starts at 16 and doubles once it holds 3/4 of that.
public enum AuthInfoOrder {
    public static func javaHashCode(_ id: Id) -> Int32 {
        let schemeHash = JavaHashOrderedSet.javaHashCode(id.scheme)
        let idHash = JavaHashOrderedSet.javaHashCode(id.id)
        return (Int32(37) &* 17 &+ schemeHash) &* 37 &+ idHash
    }

    public static func ordered(_ ids: [Id]) -> [Id] {
        var capacity = 16
        while ids.count >= capacity - capacity / 4 { capacity *= 2 }
        return ids.enumerated().map { index, id -> (Int, Int, Id) in
            let hash = UInt32(bitPattern: javaHashCode(id))
            let spread = (hash ^ (hash >> 16)) & 0x7fff_ffff
            return (Int(spread & UInt32(capacity - 1)), index, id)
        }
        .sorted { ($0.0, $0.1) < ($1.0, $1.1) }
        .map(\.2)
    }
}

/// IPAuthenticationProvider: "a.b.c.d" or "a.b.c.d/bits" (IPv4; IPv6 compared as text).
enum IPAddressMatch {
    static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard let value = UInt8(part) else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    static func split(_ expression: String) -> (address: Substring, bits: Int?)? {
        let pieces = expression.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        if pieces.count == 1 { return (pieces[0], nil) }
        guard let bits = Int(pieces[1]), bits >= 0 else { return nil }
        return (pieces[0], bits)
    }

    static func isValid(expression: String) -> Bool {
        guard let (address, bits) = split(expression) else { return false }
        // ZooKeeper 3.8's IPAuthenticationProvider accepts IPv4 only.
        if let v4 = parseIPv4(address) { return (bits ?? 32) <= v4.count * 8 }
        return false
    }

    static func matches(address: String, expression: String) -> Bool {
        guard let (pattern, bitsOrNil) = split(expression) else { return false }
        guard let patternBytes = parseIPv4(pattern), let addressBytes = parseIPv4(Substring(address)) else {
            return address == String(pattern)
        }
        let bits = bitsOrNil ?? 32
        guard bits <= 32 else { return false }
        for index in 0..<4 {
            let maskBits = max(0, min(8, bits - index * 8))
            let mask: UInt8 = maskBits == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - maskBits))
            if patternBytes[index] & mask != addressBytes[index] & mask { return false }
        }
        return true
    }
}
