import Testing
@testable import ZKConfig

@Suite struct ServerConfigurationConfReportTests {
    /// Captured from Apache ZooKeeper 3.8.0 (ZooKeeperServerMain, `echo conf | nc`) with
    /// tickTime=2000, dataDir=/tmp/zkrun/data, dataLogDir=/tmp/zkrun/log, clientPort=21810.
    @Test func matchesZooKeeper38ByteForByte() throws {
        let configuration = try ServerConfiguration.parse("""
            tickTime=2000
            dataDir=/tmp/zkrun/data
            dataLogDir=/tmp/zkrun/log
            clientPort=21810
            4lw.commands.whitelist=*
            fooBar=baz
            admin.enableServer=false
            """)
        let report = configuration.confReport(
            dataDirectorySizeBytes: 0, dataLogDirectorySizeBytes: 457, workingDirectory: "/")
        #expect(report == "clientPort=21810\nsecureClientPort=-1\ndataDir=/tmp/zkrun/data/version-2\ndataDirSize=0\n"
            + "dataLogDir=/tmp/zkrun/log/version-2\ndataLogSize=457\ntickTime=2000\nmaxClientCnxns=60\n"
            + "minSessionTimeout=4000\nmaxSessionTimeout=40000\nclientPortListenBacklog=-1\nserverId=0\n")
    }

    /// Also captured from 3.8.0: relative dataDir with doubled and trailing slashes, run from /tmp/zkrun.
    @Test func relativeAndUnnormalizedDirectoriesLikeJavaIoFile() throws {
        let configuration = try ServerConfiguration.parse("""
            tickTime = 1500
            dataDir = rel//sub/
            clientPort : 21811
            maxClientCnxns=0
            minSessionTimeout=100
            clientPortAddress=127.0.0.1
            """)
        let report = configuration.confReport(
            dataDirectorySizeBytes: 457, dataLogDirectorySizeBytes: 457, workingDirectory: "/tmp/zkrun")
        #expect(report == "clientPort=21811\nsecureClientPort=-1\ndataDir=/tmp/zkrun/rel/sub/version-2\ndataDirSize=457\n"
            + "dataLogDir=/tmp/zkrun/rel/sub/version-2\ndataLogSize=457\ntickTime=1500\nmaxClientCnxns=0\n"
            + "minSessionTimeout=100\nmaxSessionTimeout=30000\nclientPortListenBacklog=-1\nserverId=0\n")
    }

    @Test func keyOrder() {
        let report = ServerConfiguration(dataDirectory: "/d").confReport(
            dataDirectorySizeBytes: 1, dataLogDirectorySizeBytes: 2, workingDirectory: "/")
        let keys = report.split(separator: "\n").map { $0.split(separator: "=")[0] }
        #expect(keys == [
            "clientPort", "secureClientPort", "dataDir", "dataDirSize", "dataLogDir", "dataLogSize", "tickTime",
            "maxClientCnxns", "minSessionTimeout", "maxSessionTimeout", "clientPortListenBacklog", "serverId",
        ])
        #expect(report.hasSuffix("\n"))
    }

    @Test func portsWhenAbsentBoundOrSecure() throws {
        let none = try ServerConfiguration.parse("dataDir=/d\nsecureClientPort=2182\nssl.keyStore.location=/k.pem")
        let report = none.confReport(dataDirectorySizeBytes: 0, dataLogDirectorySizeBytes: 0, workingDirectory: "/")
        #expect(report.hasPrefix("clientPort=-1\nsecureClientPort=2182\n"))
        let bound = none.confReport(
            dataDirectorySizeBytes: 0, dataLogDirectorySizeBytes: 0, workingDirectory: "/", listeningClientPort: 40001)
        #expect(bound.hasPrefix("clientPort=40001\n"))
    }

    @Test func rootDataDirectory() {
        #expect(ServerConfiguration.absolutePath("/", child: "version-2", workingDirectory: "/x") == "/version-2")
        #expect(ServerConfiguration.absolutePath("//a//b//", child: "version-2", workingDirectory: "/x") == "/a/b/version-2")
        #expect(ServerConfiguration.absolutePath("./a/../b", child: "version-2", workingDirectory: "/w/")
            == "/w/./a/../b/version-2")
    }
}
