extension ServerConfiguration {
    /// Parses zoo.cfg text. Later keys override earlier ones; unknown keys are kept, not fatal.
    public static func parse(_ text: String) throws(ConfigurationError) -> ServerConfiguration {
        try parse(entries: PropertiesFormat.entries(in: text))
    }

    /// Parses already-split entries (for example from a dynamic config file merged by the caller).
    public static func parse(entries: [ConfigurationEntry]) throws(ConfigurationError) -> ServerConfiguration {
        let folded = fold(entries)
        var state = ParseState(hasDynamicConfigFile: folded.contains { $0.key == "dynamicConfigFile" })
        for entry in folded {
            try apply(entry, to: &state)
        }
        return try state.resolved()
    }

    /// Trims keys and values as ZooKeeper does and keeps one entry per key: the position of its first
    /// appearance with the value (and line) of its last, which is what `Properties` yields.
    static func fold(_ entries: [ConfigurationEntry]) -> [ConfigurationEntry] {
        var folded: [ConfigurationEntry] = []
        var positionOfKey: [String: Int] = [:]
        for entry in entries {
            let trimmed = ConfigurationEntry(key: trimmedJava(entry.key), value: trimmedJava(entry.value), line: entry.line)
            if let position = positionOfKey[trimmed.key] {
                folded[position] = trimmed
            } else {
                positionOfKey[trimmed.key] = folded.count
                folded.append(trimmed)
            }
        }
        return folded
    }

    /// zoo.cfg keys that ZooKeeper forwards as `zookeeper.<key>` system properties; the prefixed
    /// spelling is accepted as the same key.
    static let systemPropertyKeys: Set<String> = [
        "4lw.commands.whitelist", "extendedTypesEnabled", "enforceQuota", "jute.maxbuffer", "snapCount", "forceSync",
        "fsync.warningthresholdms", "DigestAuthenticationProvider.superDigest",
        "znode.container.checkIntervalMs", "znode.container.maxPerMinute",
        "admin.enableServer", "admin.serverAddress", "admin.serverPort", "admin.commandURL", "admin.idleTimeout",
        // ClientX509Util's keys (zookeeper.ssl.*), the factory and the x509 provider's super user.
        "ssl.keyStore.location", "ssl.keyStore.password", "ssl.keyStore.passwordPath", "ssl.keyStore.type",
        "ssl.trustStore.location", "ssl.trustStore.password", "ssl.trustStore.passwordPath", "ssl.trustStore.type",
        "ssl.clientAuth", "ssl.protocol", "ssl.enabledProtocols", "ssl.ciphersuites", "ssl.hostnameVerification",
        "ssl.crl", "ssl.ocsp", "ssl.context.supplier.class", "ssl.handshakeDetectionTimeoutMillis", "ssl.authProvider",
        "serverCnxnFactory", "X509AuthenticationProvider.superUser", "client.portUnification",
        "nio.sessionlessCnxnTimeout", "leader.maxTimeToWaitForEpoch", "leader.ackLoggingFrequency",
    ]

    static func canonicalKey(_ key: String) -> String {
        let prefix = "zookeeper."
        guard key.hasPrefix(prefix) else { return key }
        let stripped = String(key.dropFirst(prefix.count))
        // ProviderRegistry reads every zookeeper.authProvider.<anything> property.
        return systemPropertyKeys.contains(stripped) || stripped.hasPrefix("authProvider.") ? stripped : key
    }

    static func apply(_ rawEntry: ConfigurationEntry, to state: inout ParseState) throws(ConfigurationError) {
        var entry = rawEntry
        entry.key = canonicalKey(rawEntry.key)
        if let line = entry.line { state.lineOfKey[entry.key] = line }
        if try applyCore(entry, to: &state) { return }
        if try applyFeature(entry, to: &state.configuration) { return }
        if try applyTLS(entry, to: &state.configuration.tls) { return }
        if try applyQuorum(entry, to: &state) { return }
        state.configuration.unrecognizedEntries.append(rawEntry)
    }

    /// Keys from `ServerConfig` proper. Returns false when the key is not one of them.
    static func applyCore(_ entry: ConfigurationEntry, to state: inout ParseState) throws(ConfigurationError) -> Bool {
        switch entry.key {
        case "dataDir":
            state.configuration.dataDirectory = try ValueParsing.nonEmpty(entry)
            state.hasDataDirectory = true
        case "dataLogDir": state.configuration.configuredDataLogDirectory = try ValueParsing.nonEmpty(entry)
        case "clientPort": state.configuration.clientPort = try ValueParsing.optionalPort(entry)
        case "clientPortAddress": state.configuration.clientPortAddress = try ValueParsing.nonEmpty(entry)
        case "secureClientPort": state.configuration.secureClientPort = try ValueParsing.optionalPort(entry)
        case "secureClientPortAddress": state.configuration.secureClientPortAddress = try ValueParsing.nonEmpty(entry)
        case "clientPortListenBacklog": state.configuration.clientPortListenBacklog = try ValueParsing.integer(entry)
        case "tickTime": state.configuration.tickTimeMs = try ValueParsing.positiveInteger(entry)
        case "maxClientCnxns": state.configuration.clientConnectionsPerHostMax = try ValueParsing.nonNegativeInteger(entry)
        case "minSessionTimeout": state.sessionTimeoutMsMin = try sessionTimeout(entry)
        case "maxSessionTimeout": state.sessionTimeoutMsMax = try sessionTimeout(entry)
        default: return false
        }
        return true
    }

    private static func sessionTimeout(_ entry: ConfigurationEntry) throws(ConfigurationError) -> Int {
        try ValueParsing.integer(
            entry, in: -1...Int(Int32.max), expected: "expected a non-negative integer, or -1 for the default")
    }

    /// Keys ZooKeeper reads as `zookeeper.*` system properties. Returns false for any other key.
    static func applyFeature(
        _ entry: ConfigurationEntry, to configuration: inout ServerConfiguration
    ) throws(ConfigurationError) -> Bool {
        switch entry.key {
        case "4lw.commands.whitelist": configuration.fourLetterWordWhitelist = FourLetterWordWhitelist(parsing: entry.value)
        case "extendedTypesEnabled": configuration.extendedTypesEnabled = try ValueParsing.boolean(entry)
        case "enforceQuota": configuration.enforceQuota = try ValueParsing.boolean(entry)
        case "jute.maxbuffer": configuration.juteBufferBytesMax = try ValueParsing.positiveDecodedInteger(entry)
        // SyncRequestProcessor needs at least 2; ZooKeeper raises smaller values with a warning.
        case "snapCount": configuration.transactionsPerSnapshot = max(2, try ValueParsing.integer(entry))
        // PurgeTxnLog refuses to keep fewer than 3 snapshots; ZooKeeper raises smaller values.
        case "autopurge.snapRetainCount": configuration.autopurgeSnapshotRetainCount = max(3, try ValueParsing.integer(entry))
        case "autopurge.purgeInterval": configuration.autopurgeIntervalHours = max(0, try ValueParsing.integer(entry))
        case "forceSync": configuration.forceSync = try ValueParsing.yesNo(entry)
        // Paddock's own keys (Apache ZooKeeper ignores unknown keys, so a shared zoo.cfg still works).
        case "paddock.logQuotaMB": configuration.logQuotaBytes = try ValueParsing.positiveInteger(entry) << 20
        case "paddock.snapshotCompressionLevel":
            let level = try ValueParsing.nonNegativeInteger(entry)
            guard level <= 9 else {
                throw ConfigurationError(kind: .invalidValue, key: entry.key, message: "invalid value for paddock.snapshotCompressionLevel: \"\(entry.value)\" (expected 0 to 9)", line: entry.line)
            }
            configuration.snapshotCompressionLevel = level
        case "fsync.warningthresholdms": configuration.fsyncWarningThresholdMs = try ValueParsing.nonNegativeInteger(entry)
        case "nio.sessionlessCnxnTimeout": configuration.sessionlessConnectionTimeoutMs = try ValueParsing.positiveInteger(entry)
        case "leader.maxTimeToWaitForEpoch": configuration.leaderEpochWaitMsMax = try ValueParsing.integer(entry)
        case "leader.ackLoggingFrequency": configuration.leaderAckLoggingFrequency = try ValueParsing.integer(entry)
        case "DigestAuthenticationProvider.superDigest": configuration.superDigest = try superDigest(entry)
        case "znode.container.checkIntervalMs": configuration.containerCheckIntervalMs = try ValueParsing.positiveInteger(entry)
        case "znode.container.maxPerMinute": configuration.containerDeletionsPerMinuteMax = try ValueParsing.positiveInteger(entry)
        case "admin.enableServer": configuration.adminServerEnabled = try ValueParsing.boolean(entry)
        case "admin.serverAddress": configuration.adminServerAddress = try ValueParsing.nonEmpty(entry)
        case "admin.serverPort": configuration.adminServerPort = try ValueParsing.port(entry)
        case "admin.commandURL": configuration.adminCommandURL = try ValueParsing.nonEmpty(entry)
        case "admin.idleTimeout": configuration.adminIdleTimeoutMs = try ValueParsing.positiveInteger(entry)
        case "metricsProvider.className": configuration.metricsProviderClassName = try ValueParsing.nonEmpty(entry)
        default:
            let prefix = "metricsProvider."
            guard entry.key.hasPrefix(prefix) else { return false }
            let name = String(entry.key.dropFirst(prefix.count))
            configuration.metricsProviderEntries.append(ConfigurationEntry(key: name, value: entry.value, line: entry.line))
        }
        return true
    }

    private static func superDigest(_ entry: ConfigurationEntry) throws(ConfigurationError) -> String {
        let parts = entry.value.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw ValueParsing.invalid(entry, expected: "expected user:base64-sha1-digest")
        }
        return entry.value
    }

    /// Ensemble keys. Returns false for any other key.
    static func applyQuorum(_ entry: ConfigurationEntry, to state: inout ParseState) throws(ConfigurationError) -> Bool {
        switch entry.key {
        case "initLimit": state.configuration.initLimitTicks = try ValueParsing.nonNegativeInteger(entry)
        case "syncLimit": state.configuration.syncLimitTicks = try ValueParsing.nonNegativeInteger(entry)
        case "electionPortBindRetry": state.configuration.electionPortBindRetry = try ValueParsing.nonNegativeInteger(entry)
        case "electionAlg":
            guard try ValueParsing.integer(entry) == 3 else {
                throw ValueParsing.invalid(entry, expected: "only 3, fast leader election, is supported")
            }
        case "peerType":
            guard let role = QuorumRole(parsing: entry.value) else {
                throw ValueParsing.invalid(entry, expected: "expected participant or observer")
            }
            state.configuration.peerType = role
        case "standaloneEnabled": state.configuration.standaloneEnabled = try ValueParsing.boolean(entry)
        case "reconfigEnabled": state.configuration.reconfigEnabled = try ValueParsing.boolean(entry)
        case "dynamicConfigFile": state.configuration.dynamicConfigFile = try ValueParsing.nonEmpty(entry)
        default:
            return try applyMembership(entry, to: &state)
        }
        return true
    }

    /// `server.N`, `group.N`, `weight.N`. Returns false for any other key.
    static func applyMembership(_ entry: ConfigurationEntry, to state: inout ParseState) throws(ConfigurationError) -> Bool {
        let isServer = entry.key.hasPrefix("server.")
        let isGroup = entry.key.hasPrefix("group.")
        let isWeight = entry.key.hasPrefix("weight.")
        guard isServer || isGroup || isWeight else { return false }
        if state.hasDynamicConfigFile {
            throw ValueParsing.invalid(entry, expected: "must be in the dynamic config file when dynamicConfigFile is set")
        }
        if isGroup { state.configuration.quorumGroupEntries.append(entry) }
        if isWeight { state.configuration.quorumWeightEntries.append(entry) }
        if isServer {
            let member = try member(entry)
            if let earlierKey = state.keyOfMemberId[member.id] {
                throw ValueParsing.invalid(entry, expected: "server id \(member.id) is also given by \(earlierKey)")
            }
            state.keyOfMemberId[member.id] = entry.key
            state.members.append(member)
        }
        return true
    }

    static func member(_ entry: ConfigurationEntry) throws(ConfigurationError) -> QuorumMember {
        guard let id = ValueParsing.javaLong(entry.key.dropFirst("server.".count)), id >= 0 else {
            throw ValueParsing.invalid(entry, expected: "the server id after \"server.\" must be a non-negative integer")
        }
        switch QuorumMember.parse(id: id, value: entry.value) {
        case .success(let member): return member
        case .failure(let reason): throw ValueParsing.invalid(entry, expected: reason.text)
        }
    }
}

/// What parsing has seen so far; `resolved()` applies defaults and cross-key rules.
struct ParseState {
    var configuration = ServerConfiguration(dataDirectory: "", clientPort: nil)
    var hasDynamicConfigFile: Bool
    var hasDataDirectory = false
    /// As written (-1 or absent means "derive from tickTime").
    var sessionTimeoutMsMin: Int? = nil
    var sessionTimeoutMsMax: Int? = nil
    var members: [QuorumMember] = []
    var keyOfMemberId: [Int64: String] = [:]
    /// Line of the entry for each canonical key, for cross-key error messages.
    var lineOfKey: [String: Int] = [:]

    init(hasDynamicConfigFile: Bool) {
        self.hasDynamicConfigFile = hasDynamicConfigFile
    }

    func resolved() throws(ConfigurationError) -> ServerConfiguration {
        guard hasDataDirectory else {
            throw ConfigurationError(
                kind: .missingValue, key: "dataDir",
                message: "missing value for dataDir (ZooKeeper requires a data directory)")
        }
        var result = configuration
        let tickTimeMs = result.tickTimeMs
        let minimum = sessionTimeoutMsMin ?? -1
        let maximum = sessionTimeoutMsMax ?? -1
        result.sessionTimeoutMsMin = minimum == -1 ? 2 * tickTimeMs : minimum
        result.sessionTimeoutMsMax = maximum == -1 ? 20 * tickTimeMs : maximum
        result.servers = members.sorted { $0.id < $1.id }
        try result.validate(lineOf: { lineOfKey[$0] })
        return result
    }
}
