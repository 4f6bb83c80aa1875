import Testing
@testable import ZKConfig

/// One test per error: the key, the kind and the exact one-line message.
@Suite struct ServerConfigurationValidationTests {
    private func error(_ text: String) -> ConfigurationError? {
        do {
            _ = try ServerConfiguration.parse(text)
            return nil
        } catch {
            return error
        }
    }

    private func expectInvalid(
        _ text: String, key: String, message: String, line: Int?, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let found = error(text)
        #expect(found?.kind == .invalidValue, sourceLocation: sourceLocation)
        #expect(found?.key == key, sourceLocation: sourceLocation)
        #expect(found?.message == message, sourceLocation: sourceLocation)
        #expect(found?.line == line, sourceLocation: sourceLocation)
    }

    @Test func nonNumericTickTime() {
        expectInvalid("dataDir=/d\ntickTime=abc", key: "tickTime",
                      message: #"invalid value for tickTime: "abc" (expected a positive integer)"#, line: 2)
    }

    @Test func zeroAndNegativeTickTime() {
        expectInvalid("dataDir=/d\ntickTime=0", key: "tickTime",
                      message: #"invalid value for tickTime: "0" (expected a positive integer)"#, line: 2)
        expectInvalid("tickTime=-5\ndataDir=/d", key: "tickTime",
                      message: #"invalid value for tickTime: "-5" (expected a positive integer)"#, line: 1)
    }

    @Test func integerOutOfJavaIntRange() {
        expectInvalid("dataDir=/d\nmaxClientCnxns=2147483648", key: "maxClientCnxns",
                      message: #"invalid value for maxClientCnxns: "2147483648" (expected a non-negative integer)"#, line: 2)
    }

    @Test func integersRejectSpacesInsideAndDecimals() {
        expectInvalid("dataDir=/d\ninitLimit=1 0", key: "initLimit",
                      message: #"invalid value for initLimit: "1 0" (expected a non-negative integer)"#, line: 2)
        expectInvalid("dataDir=/d\nsnapCount=1.5", key: "snapCount",
                      message: #"invalid value for snapCount: "1.5" (expected an integer)"#, line: 2)
    }

    @Test func missingDataDir() {
        let found = error("tickTime=2000\nclientPort=2181")
        #expect(found == ConfigurationError(
            kind: .missingValue, key: "dataDir",
            message: "missing value for dataDir (ZooKeeper requires a data directory)"))
    }

    @Test func emptyDataDir() {
        expectInvalid("dataDir=", key: "dataDir",
                      message: #"invalid value for dataDir: "" (expected a non-empty value)"#, line: 1)
    }

    @Test func clientPortOutOfRange() {
        expectInvalid("dataDir=/d\nclientPort=65536", key: "clientPort",
                      message: #"invalid value for clientPort: "65536" (expected a port from 1 to 65535, or 0 for none)"#,
                      line: 2)
        expectInvalid("dataDir=/d\nclientPort=-1", key: "clientPort",
                      message: #"invalid value for clientPort: "-1" (expected a port from 1 to 65535, or 0 for none)"#,
                      line: 2)
    }

    @Test func clientPortAddressWithoutClientPort() {
        expectInvalid("dataDir=/d\nclientPortAddress=127.0.0.1", key: "clientPortAddress",
                      message: #"invalid value for clientPortAddress: "127.0.0.1" (clientPort is not set)"#, line: 2)
    }

    @Test func secureClientPortAddressWithoutSecureClientPort() {
        expectInvalid("dataDir=/d\nsecureClientPortAddress=::1", key: "secureClientPortAddress",
                      message: #"invalid value for secureClientPortAddress: "::1" (secureClientPort is not set)"#, line: 2)
    }

    @Test func minSessionTimeoutLargerThanMax() {
        expectInvalid("dataDir=/d\ntickTime=2000\nminSessionTimeout=50000", key: "minSessionTimeout",
                      message: #"invalid value for minSessionTimeout: "50000" (must not be larger than maxSessionTimeout, 40000)"#,
                      line: 3)
    }

    @Test func sessionTimeoutBelowMinusOne() {
        expectInvalid("dataDir=/d\nmaxSessionTimeout=-2", key: "maxSessionTimeout",
                      message: #"invalid value for maxSessionTimeout: "-2" (expected a non-negative integer, or -1 for the default)"#,
                      line: 2)
    }

    @Test func booleans() {
        expectInvalid("dataDir=/d\nstandaloneEnabled=yes", key: "standaloneEnabled",
                      message: #"invalid value for standaloneEnabled: "yes" (expected true or false)"#, line: 2)
        expectInvalid("dataDir=/d\nzookeeper.extendedTypesEnabled=1", key: "extendedTypesEnabled",
                      message: #"invalid value for extendedTypesEnabled: "1" (expected true or false)"#, line: 2)
    }

    @Test func forceSyncNeedsYesOrNo() {
        expectInvalid("dataDir=/d\nforceSync=false", key: "forceSync",
                      message: #"invalid value for forceSync: "false" (expected yes or no)"#, line: 2)
    }

    @Test func juteMaxBuffer() {
        expectInvalid("dataDir=/d\njute.maxbuffer=0xZZ", key: "jute.maxbuffer",
                      message: #"invalid value for jute.maxbuffer: "0xZZ" (expected a positive integer, decimal or 0x hexadecimal)"#,
                      line: 2)
        expectInvalid("dataDir=/d\njute.maxbuffer=0", key: "jute.maxbuffer",
                      message: #"invalid value for jute.maxbuffer: "0" (expected a positive integer, decimal or 0x hexadecimal)"#,
                      line: 2)
    }

    @Test func electionAlgOtherThanThree() {
        expectInvalid("dataDir=/d\nelectionAlg=0", key: "electionAlg",
                      message: #"invalid value for electionAlg: "0" (only 3, fast leader election, is supported)"#, line: 2)
    }

    @Test func unknownPeerType() {
        expectInvalid("dataDir=/d\npeerType=leader", key: "peerType",
                      message: #"invalid value for peerType: "leader" (expected participant or observer)"#, line: 2)
    }

    @Test func superDigestNeedsAColon() {
        expectInvalid("dataDir=/d\nDigestAuthenticationProvider.superDigest=nocolon",
                      key: "DigestAuthenticationProvider.superDigest",
                      message: #"invalid value for DigestAuthenticationProvider.superDigest: "nocolon" (expected user:base64-sha1-digest)"#,
                      line: 2)
    }

    @Test func adminServerPort() {
        expectInvalid("dataDir=/d\nadmin.serverPort=0", key: "admin.serverPort",
                      message: #"invalid value for admin.serverPort: "0" (expected a port from 1 to 65535)"#, line: 2)
    }

    @Test func containerIntervalMustBePositive() {
        expectInvalid("dataDir=/d\nznode.container.checkIntervalMs=0", key: "znode.container.checkIntervalMs",
                      message: #"invalid value for znode.container.checkIntervalMs: "0" (expected a positive integer)"#, line: 2)
    }

    @Test func malformedServerLine() {
        let expected = "expected host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]"
        expectInvalid("dataDir=/d\nserver.1=zk1:2888", key: "server.1",
                      message: #"invalid value for server.1: "zk1:2888" (\#(expected))"#, line: 2)
    }

    @Test func serverIdMustBeANumber() {
        expectInvalid("dataDir=/d\nserver.one=zk1:2888:3888", key: "server.one",
                      message: #"invalid value for server.one: "zk1:2888:3888" (the server id after "server." must be a non-negative integer)"#,
                      line: 2)
    }

    @Test func duplicateServerIdsInDifferentSpellings() {
        expectInvalid("dataDir=/d\nserver.1=a:1:2\nserver.01=b:1:2", key: "server.01",
                      message: #"invalid value for server.01: "b:1:2" (server id 1 is also given by server.1)"#, line: 3)
    }

    @Test func serversBesideDynamicConfigFile() {
        expectInvalid("dataDir=/d\nserver.1=a:1:2\ndynamicConfigFile=/x", key: "server.1",
                      message: #"invalid value for server.1: "a:1:2" (must be in the dynamic config file when dynamicConfigFile is set)"#,
                      line: 2)
    }

    @Test func standaloneDisabledWithoutParticipants() {
        expectInvalid("dataDir=/d\nstandaloneEnabled=false", key: "standaloneEnabled",
                      message: #"invalid value for standaloneEnabled: "false" (needs at least one participant server.N line)"#,
                      line: 2)
    }

    @Test func observersWithoutParticipants() {
        expectInvalid("dataDir=/d\nserver.3=c:1:2:observer", key: "server.3",
                      message: #"invalid value for server.3: "c:1:2:observer" (observers need participants)"#, line: 2)
    }

    @Test func observersWithASingleStandaloneParticipant() {
        expectInvalid("dataDir=/d\nserver.1=a:1:2\nserver.3=c:1:2:observer", key: "server.3",
                      message: #"invalid value for server.3: "c:1:2:observer" (observers need two or more participants, or standaloneEnabled=false)"#,
                      line: 3)
    }

    @Test func ensembleNeedsInitLimitAndSyncLimit() {
        let ensemble = "dataDir=/d\nserver.1=a:1:2\nserver.2=b:1:2\n"
        #expect(error(ensemble + "syncLimit=5") == ConfigurationError(
            kind: .missingValue, key: "initLimit",
            message: "missing value for initLimit (an ensemble needs a positive number of ticks)"))
        #expect(error(ensemble + "initLimit=10\nsyncLimit=0") == ConfigurationError(
            kind: .missingValue, key: "syncLimit",
            message: "missing value for syncLimit (an ensemble needs a positive number of ticks)", line: 5))
        #expect(error(ensemble + "initLimit=10\nsyncLimit=5") == nil)
    }

    @Test func singleParticipantRunsStandaloneWithoutLimits() throws {
        let configuration = try ServerConfiguration.parse("dataDir=/d\nserver.1=a:1:2")
        #expect(configuration.isDistributed == false)
    }

    @Test func longValuesAreShortenedAndControlCharactersEscaped() {
        let long = String(repeating: "9", count: 300)
        let found = error("dataDir=/d\ntickTime=\(long)")
        #expect(found?.message == "invalid value for tickTime: \"\(String(repeating: "9", count: 200))\"... (expected a positive integer)")
        let tab = error("dataDir=/d\ntickTime=1\\t2")
        #expect(tab?.message == #"invalid value for tickTime: "1\t2" (expected a positive integer)"#)
    }

    @Test func descriptionCarriesTheLine() {
        #expect(error("dataDir=/d\ntickTime=abc")?.description
            == #"line 2: invalid value for tickTime: "abc" (expected a positive integer)"#)
    }

    @Test func validateCatchesHandEditedFields() {
        var configuration = ServerConfiguration(dataDirectory: "/d")
        configuration.sessionTimeoutMsMin = 10
        configuration.sessionTimeoutMsMax = 5
        #expect(throws: ConfigurationError.invalidValue(
            key: "minSessionTimeout", value: "10", expected: "must not be larger than maxSessionTimeout, 5", line: nil)
        ) {
            try configuration.validate()
        }
        configuration = ServerConfiguration(dataDirectory: "/d", clientPort: 0)
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
        configuration = ServerConfiguration(dataDirectory: "/d")
        configuration.servers = [
            QuorumMember(id: 1, host: "a", quorumPort: 1, electionPort: 2),
            QuorumMember(id: 1, host: "b", quorumPort: 1, electionPort: 2),
        ]
        #expect(throws: ConfigurationError.invalidValue(
            key: "server.1", value: "b:1:2:participant", expected: "server id 1 appears twice", line: nil)
        ) {
            try configuration.validate()
        }
        #expect(throws: Never.self) { try ServerConfiguration(dataDirectory: "/d").validate() }
    }
}
