/// Whether a server votes (`participant`) or only follows (`observer`). Raw values are
/// ZooKeeper's `LearnerType` ordinals, which the quorum `conf` output prints as `peerType=`.
public enum QuorumRole: Int, Sendable, Equatable {
    case participant = 0
    case observer = 1

    init?(parsing text: String) {
        switch trimmedJava(text).lowercased() {
        case "participant": self = .participant
        case "observer": self = .observer
        default: return nil
        }
    }
}

/// One `server.N=host:quorumPort:electionPort[:role][;[clientHost:]clientPort]` line.
public struct QuorumMember: Sendable, Equatable {
    public var id: Int64
    /// Host name or address; IPv6 literals are written in brackets in zoo.cfg and kept without them.
    public var host: String
    /// Port followers use to talk to the leader.
    public var quorumPort: Int
    /// Port for leader election.
    public var electionPort: Int
    public var role: QuorumRole
    /// Client address from the part after `;`; `0.0.0.0` when only a port is given (as ZooKeeper).
    public var clientAddress: String?
    public var clientPort: Int?

    public init(
        id: Int64, host: String, quorumPort: Int, electionPort: Int, role: QuorumRole = .participant,
        clientAddress: String? = nil, clientPort: Int? = nil
    ) {
        self.id = id
        self.host = host
        self.quorumPort = quorumPort
        self.electionPort = electionPort
        self.role = role
        self.clientAddress = clientAddress
        self.clientPort = clientPort
    }

    static let expectedFormat =
        "expected host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]"

    /// Parses the value of `server.<id>` (ZooKeeper's `QuorumServer.initializeWithAddressString`).
    /// Returns the member, or a reason for the error message.
    static func parse(id: Int64, value: String) -> Result<QuorumMember, Reason> {
        var sections = value.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        // Java's String.split drops trailing empty strings, so "h:1:2;" has no client section.
        while sections.count > 1 && sections.last == "" { sections.removeLast() }
        guard sections.count <= 2 else { return .failure(Reason(expectedFormat)) }
        if sections[0].contains("|") {
            return .failure(Reason("multiple addresses separated by | are not supported"))
        }
        guard let parts = hostAndPorts(sections[0]), (3...4).contains(parts.count), !parts[0].isEmpty else {
            return .failure(Reason(expectedFormat))
        }
        guard let quorumPort = port(parts[1]), let electionPort = port(parts[2]) else {
            return .failure(Reason("ports must be integers from 1 to 65535"))
        }
        guard quorumPort != electionPort else {
            return .failure(Reason("quorum and election ports must be different"))
        }
        var member = QuorumMember(id: id, host: parts[0], quorumPort: quorumPort, electionPort: electionPort)
        if parts.count == 4 {
            guard let role = QuorumRole(parsing: parts[3]) else {
                return .failure(Reason("role must be participant or observer"))
            }
            member.role = role
        }
        if sections.count == 2 {
            guard let client = hostAndPorts(sections[1]), (1...2).contains(client.count),
                  let clientPort = port(client[client.count - 1]) else {
                return .failure(Reason("client part must be [clientHost:]clientPort with a port from 1 to 65535"))
            }
            member.clientAddress = client.count == 2 ? client[0] : "0.0.0.0"
            member.clientPort = clientPort
        }
        return .success(member)
    }

    struct Reason: Error, Equatable {
        var text: String
        init(_ text: String) { self.text = text }
    }

    private static func port(_ text: String) -> Int? {
        guard let port = ValueParsing.javaInteger(text), ValueParsing.portRange.contains(port) else { return nil }
        return port
    }

    /// `ConfigUtils.getHostAndPort`: splits on `:`, except that a leading `[v6-literal]` is one part.
    private static func hostAndPorts(_ text: String) -> [String]? {
        guard text.hasPrefix("[") else {
            return text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        }
        guard let close = text.firstIndex(of: "]") else { return nil }
        let host = String(text[text.index(after: text.startIndex)..<close])
        let rest = text[text.index(after: close)...]
        if rest.isEmpty { return [host] }
        guard rest.first == ":", rest.count > 1 else { return nil }
        return [host] + rest.dropFirst().split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    }
}

extension QuorumMember {
    /// The member written back in zoo.cfg form, e.g. `zk1:2888:3888:participant;0.0.0.0:2181`.
    public var configurationValue: String {
        var text = "\(bracketed(host)):\(quorumPort):\(electionPort):\(role.name)"
        if let clientPort {
            text += ";\(bracketed(clientAddress ?? "0.0.0.0")):\(clientPort)"
        }
        return text
    }

    private func bracketed(_ address: String) -> String {
        address.contains(":") ? "[\(address)]" : address
    }
}

extension QuorumRole {
    /// The zoo.cfg spelling: `participant` or `observer`.
    public var name: String {
        switch self {
        case .participant: return "participant"
        case .observer: return "observer"
        }
    }
}
