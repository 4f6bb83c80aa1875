extension ServerConfiguration {
    /// The `conf` four-letter word's answer for a standalone server, byte for byte as ZooKeeper 3.8's
    /// `ZooKeeperServer.dumpConf` prints it (checked against a running 3.8.0):
    ///
    ///     clientPort=2181
    ///     secureClientPort=-1
    ///     dataDir=/var/lib/zookeeper/version-2
    ///     dataDirSize=457
    ///     dataLogDir=/var/lib/zookeeper/version-2
    ///     dataLogSize=457
    ///     tickTime=2000
    ///     maxClientCnxns=60
    ///     minSessionTimeout=4000
    ///     maxSessionTimeout=40000
    ///     clientPortListenBacklog=-1
    ///     serverId=0
    ///
    /// ZooKeeper prints no unknown keys here. Directories are made absolute against
    /// `workingDirectory` and normalized as `java.io.File` does (repeated and trailing slashes
    /// removed, `.` and `..` kept), then `/version-2` is appended. The sizes are the bytes of the
    /// files in those `version-2` directories, which the caller measures. `listeningClientPort` is the
    /// port actually bound (ZooKeeper prints the socket's port); nil prints the configured one.
    public func confReport(
        dataDirectorySizeBytes: Int64, dataLogDirectorySizeBytes: Int64,
        workingDirectory: String, listeningClientPort: Int? = nil, serverId: Int64 = 0
    ) -> String {
        let summary = confSummary(workingDirectory: workingDirectory, listeningClientPort: listeningClientPort, serverId: serverId)
        let lines = [
            "clientPort=\(summary.clientPort)",
            "secureClientPort=\(summary.secureClientPort)",
            "dataDir=\(summary.dataDirectory)",
            "dataDirSize=\(dataDirectorySizeBytes)",
            "dataLogDir=\(summary.dataLogDirectory)",
            "dataLogSize=\(dataLogDirectorySizeBytes)",
            "tickTime=\(summary.tickTimeMs)",
            "maxClientCnxns=\(summary.clientConnectionsPerHostMax)",
            "minSessionTimeout=\(summary.sessionTimeoutMsMin)",
            "maxSessionTimeout=\(summary.sessionTimeoutMsMax)",
            "clientPortListenBacklog=\(summary.clientPortListenBacklog)",
            "serverId=\(summary.serverId)",
        ]
        return lines.map { $0 + "\n" }.joined()
    }

    /// The figures of ZooKeeper's `ZooKeeperServerConf`: what `conf` prints and what the admin
    /// server's `configuration` command returns as JSON. `serverId` is 0 for a standalone server
    /// (ZooKeeper reports 0 whatever myid says) and the member's id in an ensemble.
    public func confSummary(workingDirectory: String, listeningClientPort: Int? = nil, serverId: Int64 = 0) -> ConfSummary {
        let versionDirectory = "version-2"
        return ConfSummary(
            clientPort: listeningClientPort ?? clientPort ?? -1,
            secureClientPort: secureClientPort ?? -1,
            dataDirectory: Self.absolutePath(dataDirectory, child: versionDirectory, workingDirectory: workingDirectory),
            dataLogDirectory: Self.absolutePath(dataLogDirectory, child: versionDirectory, workingDirectory: workingDirectory),
            tickTimeMs: tickTimeMs, clientConnectionsPerHostMax: clientConnectionsPerHostMax,
            sessionTimeoutMsMin: sessionTimeoutMsMin, sessionTimeoutMsMax: sessionTimeoutMsMax,
            clientPortListenBacklog: clientPortListenBacklog, serverId: serverId)
    }

    /// `new File(new File(path).getAbsolutePath(), child).getPath()` on a Unix JVM.
    static func absolutePath(_ path: String, child: String, workingDirectory: String) -> String {
        let absolute = path.hasPrefix("/") ? path : workingDirectory + "/" + path
        let normalized = normalizedJavaPath(absolute)
        return normalized == "/" ? "/" + child : normalized + "/" + child
    }

    /// `java.io.UnixFileSystem.normalize`: collapses repeated slashes and drops a trailing one.
    static func normalizedJavaPath(_ path: String) -> String {
        var result = ""
        var previousWasSlash = false
        for character in path {
            if character == "/" && previousWasSlash { continue }
            previousWasSlash = character == "/"
            result.append(character)
        }
        if result.count > 1 && result.hasSuffix("/") { result.removeLast() }
        return result
    }
}

/// `ZooKeeperServerConf`'s fields: directories absolute and ending in `version-2`.
public struct ConfSummary: Sendable, Equatable {
    public var clientPort: Int
    public var secureClientPort: Int
    public var dataDirectory: String
    public var dataLogDirectory: String
    public var tickTimeMs: Int
    public var clientConnectionsPerHostMax: Int
    public var sessionTimeoutMsMin: Int
    public var sessionTimeoutMsMax: Int
    public var clientPortListenBacklog: Int
    public var serverId: Int64
}
