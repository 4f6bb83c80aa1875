import Testing
@testable import ZKConfig

@Suite struct ServerConfigurationTests {
    @Test func defaultsFromAMinimalFile() throws {
        let configuration = try ServerConfiguration.parse("dataDir=/var/zk")
        #expect(configuration.tickTimeMs == 3000)
        #expect(configuration.dataDirectory == "/var/zk")
        #expect(configuration.configuredDataLogDirectory == nil)
        #expect(configuration.dataLogDirectory == "/var/zk")
        #expect(configuration.clientPort == nil)
        #expect(configuration.clientPortAddress == nil)
        #expect(configuration.secureClientPort == nil)
        #expect(configuration.clientPortListenBacklog == -1)
        #expect(configuration.clientConnectionsPerHostMax == 60)
        #expect(configuration.sessionTimeoutMsMin == 6000)
        #expect(configuration.sessionTimeoutMsMax == 60000)
        #expect(configuration.fourLetterWordWhitelist == .only(["srvr"]))
        #expect(configuration.extendedTypesEnabled == false)
        #expect(configuration.juteBufferBytesMax == 0xfffff)
        #expect(configuration.transactionsPerSnapshot == 100_000)
        #expect(configuration.autopurgeSnapshotRetainCount == 3)
        #expect(configuration.autopurgeIntervalHours == 0)
        #expect(configuration.forceSync == true)
        #expect(configuration.fsyncWarningThresholdMs == 1000)
        #expect(configuration.superDigest == nil)
        #expect(configuration.containerCheckIntervalMs == 60_000)
        #expect(configuration.containerDeletionsPerMinuteMax == 10_000)
        #expect(configuration.adminServerEnabled == true)
        #expect(configuration.adminServerAddress == "0.0.0.0")
        #expect(configuration.adminServerPort == 8080)
        #expect(configuration.metricsProviderClassName == "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider")
        #expect(configuration.metricsProviderEntries.isEmpty)
        #expect(configuration.initLimitTicks == 0)
        #expect(configuration.syncLimitTicks == 0)
        #expect(configuration.electionAlgorithm == 3)
        #expect(configuration.peerType == .participant)
        #expect(configuration.standaloneEnabled == true)
        #expect(configuration.reconfigEnabled == false)
        #expect(configuration.dynamicConfigFile == nil)
        #expect(configuration.servers.isEmpty)
        #expect(configuration.quorumGroupEntries.isEmpty)
        #expect(configuration.quorumWeightEntries.isEmpty)
        #expect(configuration.unrecognizedEntries.isEmpty)
        #expect(configuration.isDistributed == false)
    }

    @Test func defaultsWithoutAFile() {
        let configuration = ServerConfiguration(dataDirectory: "/tmp/paddock")
        #expect(configuration.clientPort == 2181)
        #expect(configuration.tickTimeMs == 3000)
        #expect(configuration.sessionTimeoutMsMin == 6000)
        #expect(configuration.sessionTimeoutMsMax == 60000)
        #expect(configuration == (try? ServerConfiguration.parse("dataDir=/tmp/paddock\nclientPort=2181")))
    }

    @Test func theSampleZooCfg() throws {
        let text = """
            # The number of milliseconds of each tick
            tickTime=2000
            initLimit=10
            syncLimit=5
            dataDir=/tmp/zookeeper
            clientPort=2181
            #maxClientCnxns=60
            #autopurge.snapRetainCount=3
            #autopurge.purgeInterval=1
            ## Metrics Providers
            #metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
            """
        let configuration = try ServerConfiguration.parse(text)
        #expect(configuration.tickTimeMs == 2000)
        #expect(configuration.initLimitTicks == 10)
        #expect(configuration.syncLimitTicks == 5)
        #expect(configuration.clientPort == 2181)
        #expect(configuration.sessionTimeoutMsMin == 4000)
        #expect(configuration.sessionTimeoutMsMax == 40000)
        #expect(configuration.unrecognizedEntries.isEmpty)
    }

    @Test func everyCoreKey() throws {
        let text = """
            tickTime=1500
            dataDir=/data
            dataLogDir=/log
            clientPort=2281
            clientPortAddress=127.0.0.1
            secureClientPort=2282
            secureClientPortAddress=10.0.0.1
            ssl.keyStore.location=/etc/zk/server.pem
            clientPortListenBacklog=128
            maxClientCnxns=0
            minSessionTimeout=100
            maxSessionTimeout=90000
            """
        let configuration = try ServerConfiguration.parse(text)
        #expect(configuration.tickTimeMs == 1500)
        #expect(configuration.dataDirectory == "/data")
        #expect(configuration.configuredDataLogDirectory == "/log")
        #expect(configuration.dataLogDirectory == "/log")
        #expect(configuration.clientPort == 2281)
        #expect(configuration.clientPortAddress == "127.0.0.1")
        #expect(configuration.secureClientPort == 2282)
        #expect(configuration.secureClientPortAddress == "10.0.0.1")
        #expect(configuration.clientPortListenBacklog == 128)
        #expect(configuration.clientConnectionsPerHostMax == 0)
        #expect(configuration.sessionTimeoutMsMin == 100)
        #expect(configuration.sessionTimeoutMsMax == 90000)
    }

    @Test func everyFeatureKey() throws {
        let text = """
            dataDir=/data
            4lw.commands.whitelist=stat, ruok
            extendedTypesEnabled=true
            jute.maxbuffer=4194304
            snapCount=5000
            autopurge.snapRetainCount=7
            autopurge.purgeInterval=24
            forceSync=no
            fsync.warningthresholdms=50
            DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=
            znode.container.checkIntervalMs=1000
            znode.container.maxPerMinute=600
            admin.enableServer=false
            admin.serverAddress=127.0.0.1
            admin.serverPort=9090
            metricsProvider.className=org.example.Metrics
            metricsProvider.httpPort=7000
            metricsProvider.exportJvmInfo=true
            """
        let configuration = try ServerConfiguration.parse(text)
        #expect(configuration.fourLetterWordWhitelist == .only(["srvr", "stat", "ruok"]))
        #expect(configuration.extendedTypesEnabled == true)
        #expect(configuration.juteBufferBytesMax == 4_194_304)
        #expect(configuration.transactionsPerSnapshot == 5000)
        #expect(configuration.autopurgeSnapshotRetainCount == 7)
        #expect(configuration.autopurgeIntervalHours == 24)
        #expect(configuration.forceSync == false)
        #expect(configuration.fsyncWarningThresholdMs == 50)
        #expect(configuration.superDigest == "super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
        #expect(configuration.containerCheckIntervalMs == 1000)
        #expect(configuration.containerDeletionsPerMinuteMax == 600)
        #expect(configuration.adminServerEnabled == false)
        #expect(configuration.adminServerAddress == "127.0.0.1")
        #expect(configuration.adminServerPort == 9090)
        #expect(configuration.metricsProviderClassName == "org.example.Metrics")
        #expect(configuration.metricsProviderEntries == [
            ConfigurationEntry(key: "httpPort", value: "7000", line: 17),
            ConfigurationEntry(key: "exportJvmInfo", value: "true", line: 18),
        ])
        #expect(configuration.unrecognizedEntries.isEmpty)
    }

    @Test func everyQuorumKey() throws {
        let text = """
            dataDir=/data
            initLimit=10
            syncLimit=5
            electionAlg=3
            peerType=OBSERVER
            standaloneEnabled=false
            reconfigEnabled=TRUE
            server.1=zk1:2888:3888
            group.1=1
            weight.1=2
            """
        let configuration = try ServerConfiguration.parse(text)
        #expect(configuration.initLimitTicks == 10)
        #expect(configuration.syncLimitTicks == 5)
        #expect(configuration.electionAlgorithm == 3)
        #expect(configuration.peerType == .observer)
        #expect(configuration.standaloneEnabled == false)
        #expect(configuration.reconfigEnabled == true)
        #expect(configuration.servers == [QuorumMember(id: 1, host: "zk1", quorumPort: 2888, electionPort: 3888)])
        #expect(configuration.quorumGroupEntries == [ConfigurationEntry(key: "group.1", value: "1", line: 9)])
        #expect(configuration.quorumWeightEntries == [ConfigurationEntry(key: "weight.1", value: "2", line: 10)])
        #expect(configuration.isDistributed)
    }

    @Test func enforceQuotaInEitherSpelling() throws {
        #expect(try ServerConfiguration.parse("dataDir=/d").enforceQuota == false)
        #expect(try ServerConfiguration.parse("dataDir=/d\nenforceQuota=true").enforceQuota)
        #expect(try ServerConfiguration.parse("dataDir=/d\nzookeeper.enforceQuota=true").enforceQuota)
        #expect(throws: (any Error).self) { try ServerConfiguration.parse("dataDir=/d\nenforceQuota=maybe") }
    }

    @Test func dynamicConfigFileIsKept() throws {
        let configuration = try ServerConfiguration.parse("dataDir=/d\ndynamicConfigFile=/etc/zk/zoo.cfg.dynamic.100")
        #expect(configuration.dynamicConfigFile == "/etc/zk/zoo.cfg.dynamic.100")
    }

    @Test func zookeeperPrefixedSpellingsAreAliases() throws {
        let text = """
            dataDir=/data
            zookeeper.extendedTypesEnabled=true
            zookeeper.jute.maxbuffer=0x100000
            zookeeper.snapCount=10
            zookeeper.forceSync=no
            zookeeper.fsync.warningthresholdms=7
            zookeeper.DigestAuthenticationProvider.superDigest=super:abc
            zookeeper.znode.container.checkIntervalMs=5
            zookeeper.znode.container.maxPerMinute=6
            zookeeper.4lw.commands.whitelist=*
            zookeeper.admin.enableServer=false
            zookeeper.admin.serverPort=1234
            zookeeper.notAnAlias=kept
            """
        let configuration = try ServerConfiguration.parse(text)
        #expect(configuration.extendedTypesEnabled)
        #expect(configuration.juteBufferBytesMax == 0x100000)
        #expect(configuration.transactionsPerSnapshot == 10)
        #expect(configuration.forceSync == false)
        #expect(configuration.fsyncWarningThresholdMs == 7)
        #expect(configuration.superDigest == "super:abc")
        #expect(configuration.containerCheckIntervalMs == 5)
        #expect(configuration.containerDeletionsPerMinuteMax == 6)
        #expect(configuration.fourLetterWordWhitelist == .all)
        #expect(configuration.adminServerEnabled == false)
        #expect(configuration.adminServerPort == 1234)
        #expect(configuration.unrecognizedEntries == [ConfigurationEntry(key: "zookeeper.notAnAlias", value: "kept", line: 13)])
    }

    @Test func adminServerKeys() throws {
        let defaults = try ServerConfiguration.parse("dataDir=/d")
        #expect(defaults.adminCommandURL == "/commands" && defaults.adminIdleTimeoutMs == 30_000)
        let text = """
            dataDir=/data
            admin.commandURL=/zk/admin
            zookeeper.admin.idleTimeout=5000
            admin.portUnification=true
            """
        let configuration = try ServerConfiguration.parse(text)
        #expect(configuration.adminCommandURL == "/zk/admin")
        #expect(configuration.adminIdleTimeoutMs == 5000)
        // TLS on the admin port (portUnification, forceHttps) is not served: kept as unrecognized.
        #expect(configuration.unrecognizedEntries.map(\.key) == ["admin.portUnification"])
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.parse("dataDir=/d\nadmin.idleTimeout=0") }
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.parse("dataDir=/d\nadmin.commandURL=") }
    }

    @Test func juteMaxBufferAcceptsHexAsIntegerDecodeDoes() throws {
        #expect(try ServerConfiguration.parse("dataDir=/d\njute.maxbuffer=0xfffff").juteBufferBytesMax == 0xfffff)
        #expect(try ServerConfiguration.parse("dataDir=/d\njute.maxbuffer=#10").juteBufferBytesMax == 16)
    }

    @Test func clampsLikeZooKeeper() throws {
        let configuration = try ServerConfiguration.parse(
            "dataDir=/d\nsnapCount=1\nautopurge.snapRetainCount=1\nautopurge.purgeInterval=-5")
        #expect(configuration.transactionsPerSnapshot == 2)
        #expect(configuration.autopurgeSnapshotRetainCount == 3)
        #expect(configuration.autopurgeIntervalHours == 0)
    }

    @Test func sessionTimeoutsDeriveFromTickTimeWhenUnsetOrMinusOne() throws {
        let configuration = try ServerConfiguration.parse("dataDir=/d\ntickTime=2000\nminSessionTimeout=-1")
        #expect(configuration.sessionTimeoutMsMin == 4000)
        #expect(configuration.sessionTimeoutMsMax == 40000)
        let onlyMinimum = try ServerConfiguration.parse("dataDir=/d\ntickTime=2000\nminSessionTimeout=10000")
        #expect(onlyMinimum.sessionTimeoutMsMin == 10000)
        #expect(onlyMinimum.sessionTimeoutMsMax == 40000)
    }

    @Test func laterKeysOverrideEarlierOnes() throws {
        let configuration = try ServerConfiguration.parse("dataDir=/a\ntickTime=abc\ntickTime=1000\ndataDir=/b")
        #expect(configuration.tickTimeMs == 1000)
        #expect(configuration.dataDirectory == "/b")
    }

    @Test func keysAndValuesAreTrimmed() throws {
        let configuration = try ServerConfiguration.parse("  dataDir =  /d  \t\nclientPort : 2181   ")
        #expect(configuration.dataDirectory == "/d")
        #expect(configuration.clientPort == 2181)
    }

    @Test func clientPortZeroMeansNone() throws {
        #expect(try ServerConfiguration.parse("dataDir=/d\nclientPort=0").clientPort == nil)
    }

    @Test func unknownKeysAreKeptInOrderWithTheLastValue() throws {
        let text = "zeta=1\ndataDir=/d\nalpha=2\nzeta=3\nlocalSessionsEnabled=true\nssl.quorum.keyStore.location=/k"
        let configuration = try ServerConfiguration.parse(text)
        #expect(configuration.unrecognizedEntries == [
            ConfigurationEntry(key: "zeta", value: "3", line: 4),
            ConfigurationEntry(key: "alpha", value: "2", line: 3),
            ConfigurationEntry(key: "localSessionsEnabled", value: "true", line: 5),
            ConfigurationEntry(key: "ssl.quorum.keyStore.location", value: "/k", line: 6),
        ])
    }

    @Test func commentsAndContinuationsInAConfiguration() throws {
        let text = """
            # comment
            ! another comment
            dataDir = /very/long/\\
                      path
            4lw.commands.whitelist = stat, \\
                                     ruok, \\
                                     conf
            """
        let configuration = try ServerConfiguration.parse(text)
        #expect(configuration.dataDirectory == "/very/long/path")
        #expect(configuration.fourLetterWordWhitelist == .only(["srvr", "stat", "ruok", "conf"]))
    }

    @Test func overridingPortAndDataDirectory() throws {
        let parsed = try ServerConfiguration.parse("dataDir=/d\nclientPort=2181")
        let overridden = try parsed.overriding(clientPort: 3181, dataDirectory: "/other")
        #expect(overridden.clientPort == 3181)
        #expect(overridden.dataDirectory == "/other")
        #expect(overridden.dataLogDirectory == "/other")
        #expect(try parsed.overriding() == parsed)
    }

    @Test func overridingDataDirectoryKeepsAnExplicitLogDirectory() throws {
        let parsed = try ServerConfiguration.parse("dataDir=/d\ndataLogDir=/log")
        let overridden = try parsed.overriding(dataDirectory: "/other")
        #expect(overridden.dataDirectory == "/other")
        #expect(overridden.dataLogDirectory == "/log")
    }

    @Test func overridingRejectsBadValues() throws {
        let parsed = try ServerConfiguration.parse("dataDir=/d")
        #expect(throws: ConfigurationError.invalidValue(
            key: "clientPort", value: "70000", expected: "expected a port from 1 to 65535", line: nil)
        ) {
            try parsed.overriding(clientPort: 70000)
        }
        #expect(throws: ConfigurationError.invalidValue(
            key: "dataDir", value: "", expected: "expected a non-empty value", line: nil)
        ) {
            try parsed.overriding(dataDirectory: "")
        }
    }
}
