/// A parsed, validated zoo.cfg (ZooKeeper 3.8 `QuorumPeerConfig` plus the system properties a
/// zoo.cfg can set). Every field carries ZooKeeper's default; `ServerConfiguration.parse` and
/// `load(path:)` fill it from a file, `init(dataDirectory:)` gives the defaults with no file.
///
/// The column "zoo.cfg key" below names the key each field comes from.
public struct ServerConfiguration: Sendable, Equatable {
    // MARK: Core (tickTime, dataDir, dataLogDir, clientPort, ...)

    /// `tickTime`. ZooKeeper's `DEFAULT_TICK_TIME` is 3000; the sample zoo.cfg sets 2000.
    public var tickTimeMs: Int = ServerConfiguration.tickTimeMsDefault
    /// `dataDir`: snapshots (and the log, unless `dataLogDir` is set). Required in a file.
    public var dataDirectory: String
    /// `dataLogDir` as written; nil when absent, in which case the log lives in `dataDirectory`.
    public var configuredDataLogDirectory: String? = nil
    /// `clientPort`; nil when absent or 0 (ZooKeeper then opens no plain client port).
    public var clientPort: Int?
    /// `clientPortAddress`: the address to bind; nil means all addresses.
    public var clientPortAddress: String? = nil
    /// `secureClientPort`: ZooKeeper's client protocol over TLS (README "TLS"); nil when absent or 0.
    public var secureClientPort: Int? = nil
    /// `secureClientPortAddress`: the address to bind the secure port; nil means all addresses.
    public var secureClientPortAddress: String? = nil
    /// The `ssl.*` keys, `serverCnxnFactory` and the x509 authentication provider.
    public var tls = ClientTLSConfiguration()
    /// `clientPortListenBacklog`; -1 leaves the backlog to the OS.
    public var clientPortListenBacklog: Int = -1
    /// `maxClientCnxns`: concurrent connections per client IP; 0 means unlimited.
    public var clientConnectionsPerHostMax: Int = 60
    /// `minSessionTimeout`, resolved: when absent or -1 it is 2 × tickTime.
    public var sessionTimeoutMsMin: Int
    /// `maxSessionTimeout`, resolved: when absent or -1 it is 20 × tickTime.
    public var sessionTimeoutMsMax: Int

    // MARK: Features and limits (zoo.cfg keys that ZooKeeper turns into `zookeeper.*` properties)

    /// `4lw.commands.whitelist`.
    public var fourLetterWordWhitelist: FourLetterWordWhitelist = .defaultValue
    /// `extendedTypesEnabled` (or `zookeeper.extendedTypesEnabled`): TTL nodes.
    public var extendedTypesEnabled: Bool = false
    /// `enforceQuota` (or `zookeeper.enforceQuota`): hard quota limits fail creates and setData.
    public var enforceQuota: Bool = false
    /// `jute.maxbuffer` (or `zookeeper.jute.maxbuffer`): the largest packet, 0xfffff by default.
    public var juteBufferBytesMax: Int = ServerConfiguration.juteBufferBytesMaxDefault
    /// `snapCount`: transactions between snapshots (ZooKeeper raises values below 2 to 2).
    public var transactionsPerSnapshot: Int = 100_000
    /// `autopurge.snapRetainCount` (values below 3 become 3, as in ZooKeeper).
    public var autopurgeSnapshotRetainCount: Int = 3
    /// `autopurge.purgeInterval`; 0 disables purging (negative values become 0).
    public var autopurgeIntervalHours: Int = 0
    /// `forceSync` (`yes`/`no`): fsync the transaction log before acknowledging.
    public var forceSync: Bool = true
    /// `paddock.logQuotaMB`: the most the LMDB log may grow to; past it writes fail until purge frees room.
    public var logQuotaBytes: Int = 64 << 30
    /// `paddock.snapshotCompressionLevel`: zlib level for snapshots (0 = uncompressed), default by measurement.
    public var snapshotCompressionLevel: Int = 1
    /// `nio.sessionlessCnxnTimeout` (or `zookeeper.nio.sessionlessCnxnTimeout`): a client
    /// connection that has not sent its ConnectRequest this long after it opened is closed.
    public var sessionlessConnectionTimeoutMs: Int = 10_000
    /// `leader.maxTimeToWaitForEpoch` (or `zookeeper.leader.maxTimeToWaitForEpoch`): a new leader
    /// still waiting for a quorum's FOLLOWERINFO this long gives up when a voter that elected it
    /// is looking again; -1 (the default, as ZooKeeper's) never.
    public var leaderEpochWaitMsMax: Int = -1
    /// `leader.ackLoggingFrequency` (or `zookeeper.leader.ackLoggingFrequency`): the leader records
    /// ack_latency for proposals whose zxid is a multiple of this; 0 or less: never.
    public var leaderAckLoggingFrequency: Int = 1000
    /// `fsync.warningthresholdms`: log a warning when an fsync takes longer.
    public var fsyncWarningThresholdMs: Int = 1000
    /// `DigestAuthenticationProvider.superDigest`: `super:<base64 sha1>`.
    public var superDigest: String? = nil
    /// `znode.container.checkIntervalMs`.
    public var containerCheckIntervalMs: Int = 60_000
    /// `znode.container.maxPerMinute`: container deletions per minute.
    public var containerDeletionsPerMinuteMax: Int = 10_000
    /// `admin.enableServer`, `admin.serverAddress`, `admin.serverPort` (ZooKeeper's Jetty admin server).
    public var adminServerEnabled: Bool = true
    public var adminServerAddress: String = "0.0.0.0"
    public var adminServerPort: Int = 8080
    /// `admin.commandURL`: commands are served at `<commandURL>/<name>`, the listing at `<commandURL>`.
    public var adminCommandURL: String = "/commands"
    /// `admin.idleTimeout`: an admin connection with no traffic for this long is closed.
    public var adminIdleTimeoutMs: Int = 30_000
    /// `metricsProvider.className`.
    public var metricsProviderClassName: String = ServerConfiguration.metricsProviderClassNameDefault
    /// Every other `metricsProvider.<name>` key, with the prefix removed, in file order.
    public var metricsProviderEntries: [ConfigurationEntry] = []

    // MARK: Quorum

    /// `initLimit`, `syncLimit`: in ticks; both required when the configuration is distributed.
    public var initLimitTicks: Int = 0
    public var syncLimitTicks: Int = 0
    /// `electionPortBindRetry`: how many times a member tries to bind its election port, a
    /// second apart, before it gives up (ZooKeeper's default 3; 0 = forever).
    public var electionPortBindRetry: Int = 3
    /// `electionAlg`: only 3 (fast leader election) is accepted, as in ZooKeeper 3.8.
    public var electionAlgorithm: Int = 3
    /// `peerType`.
    public var peerType: QuorumRole = .participant
    /// `standaloneEnabled`, `reconfigEnabled`.
    public var standaloneEnabled: Bool = true
    public var reconfigEnabled: Bool = false
    /// `dynamicConfigFile`: when set, `server.N`, `group.N` and `weight.N` must live there instead.
    public var dynamicConfigFile: String? = nil
    /// `server.N` lines, sorted by id.
    public var servers: [QuorumMember] = []
    /// `group.N` and `weight.N` lines (hierarchical quorums), kept verbatim in file order.
    public var quorumGroupEntries: [ConfigurationEntry] = []
    public var quorumWeightEntries: [ConfigurationEntry] = []

    /// Keys this module does not interpret (including ZooKeeper keys Paddock ignores), in order
    /// of first appearance with the last value given. Never an error.
    public var unrecognizedEntries: [ConfigurationEntry] = []

    public static let tickTimeMsDefault = 3000
    public static let juteBufferBytesMaxDefault = 0xfffff
    public static let clientPortDefault = 2181
    public static let metricsProviderClassNameDefault = "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider"

    /// ZooKeeper's defaults for a server with no configuration file. `clientPort` defaults to 2181 here
    /// (a file without `clientPort` leaves it nil, as ZooKeeper does).
    public init(dataDirectory: String, clientPort: Int? = ServerConfiguration.clientPortDefault) {
        self.dataDirectory = dataDirectory
        self.clientPort = clientPort
        self.sessionTimeoutMsMin = 2 * ServerConfiguration.tickTimeMsDefault
        self.sessionTimeoutMsMax = 20 * ServerConfiguration.tickTimeMsDefault
    }

    /// Where the transaction log lives: `dataLogDir`, or `dataDir` when that is absent.
    public var dataLogDirectory: String { configuredDataLogDirectory ?? dataDirectory }

    /// True when this server would run as an ensemble member rather than standalone
    /// (`QuorumPeerConfig.isDistributed`).
    public var isDistributed: Bool {
        !standaloneEnabled || participants.count > 1
    }

    public var participants: [QuorumMember] { servers.filter { $0.role == .participant } }
    public var observers: [QuorumMember] { servers.filter { $0.role == .observer } }

    /// Applies command-line overrides (`--port`, `--data-dir`); nil leaves a field as it is.
    /// A new data directory also moves the log unless `dataLogDir` was set explicitly.
    public func overriding(clientPort: Int? = nil, dataDirectory: String? = nil) throws(ConfigurationError)
        -> ServerConfiguration
    {
        var result = self
        if let clientPort {
            let entry = ConfigurationEntry(key: "clientPort", value: String(clientPort))
            result.clientPort = try ValueParsing.port(entry)
        }
        if let dataDirectory {
            let entry = ConfigurationEntry(key: "dataDir", value: dataDirectory)
            result.dataDirectory = try ValueParsing.nonEmpty(entry)
        }
        return result
    }
}
