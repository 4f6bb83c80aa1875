import ZKBase

/// A ZooKeeper connect string: `host:port[,host:port...][/chroot]` (ZooKeeper's
/// ConnectStringParser). A host without a port takes 2181; IPv6 literals go in brackets.
public struct ConnectString: Sendable, Hashable {
    public struct Host: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    public var hosts: [Host]
    /// The chroot every path is relative to (nil for "/").
    public var chroot: String?

    public static let defaultPort = 2181

    public init(hosts: [Host], chroot: String? = nil) {
        self.hosts = hosts
        self.chroot = chroot
    }

    public init(_ text: String) throws(ZooKeeperError) {
        var servers = Substring(text)
        chroot = nil
        if let slash = text.firstIndex(of: "/") {
            let path = String(text[slash...])
            servers = text[..<slash]
            if path != "/" {
                guard PathValidation.isValid(path), !path.hasSuffix("/") else {
                    throw ZooKeeperError(.badArguments, "invalid chroot \(path) in connect string")
                }
                chroot = path
            }
        }
        hosts = []
        for part in servers.split(separator: ",") {
            let entry = part.trimmingSpaces
            guard !entry.isEmpty else { continue }
            var host = entry
            var port = Self.defaultPort
            if entry.hasPrefix("[") {
                guard let close = entry.firstIndex(of: "]") else {
                    throw ZooKeeperError(.badArguments, "unclosed [ in \(entry)")
                }
                host = entry[entry.index(after: entry.startIndex)..<close]
                let rest = entry[entry.index(after: close)...]
                if rest.hasPrefix(":") { port = try Self.port(rest.dropFirst(), in: entry) }
            } else if let colon = entry.lastIndex(of: ":") {
                host = entry[..<colon]
                port = try Self.port(entry[entry.index(after: colon)...], in: entry)
            }
            guard !host.isEmpty else { throw ZooKeeperError(.badArguments, "empty host in \(entry)") }
            hosts.append(Host(host: String(host), port: port))
        }
        guard !hosts.isEmpty else { throw ZooKeeperError(.badArguments, "no host in connect string \"\(text)\"") }
    }

    private static func port(_ digits: Substring, in entry: Substring) throws(ZooKeeperError) -> Int {
        guard let port = Int(digits), (1...65535).contains(port) else {
            throw ZooKeeperError(.badArguments, "invalid port in \(entry)")
        }
        return port
    }

    /// The server path for a client path (chroot prepended).
    func serverPath(_ path: String) -> String {
        guard let chroot else { return path }
        return path == "/" ? chroot : chroot + path
    }

    /// The client path for a server path (chroot removed); paths outside the chroot (a
    /// notification for another client's chroot cannot happen) are returned unchanged.
    func clientPath(_ path: String) -> String {
        guard let chroot, path.hasPrefix(chroot) else { return path }
        if path.count == chroot.count { return "/" }
        let rest = path.dropFirst(chroot.count)
        return rest.hasPrefix("/") ? String(rest) : path
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var result = self
        while result.first == " " { result = result.dropFirst() }
        while result.last == " " { result = result.dropLast() }
        return result
    }
}
