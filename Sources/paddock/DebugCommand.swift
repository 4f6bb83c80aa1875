import ArgumentParser
import Foundation
import Logging
import NIOPosix
import ZKBase
import ZKConfig
import ZKEnsemble
import ZKStorage
import ZKZab

struct DebugCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debug",
        abstract: "Experiments for developers; nothing here serves clients.",
        shouldDisplay: false,
        subcommands: [DebugZabPeerCommand.self, DebugHoldReaderCommand.self])
}

/// Opens a data dir's log read-only and holds one read transaction open for a while, as a tool
/// reading a live log does: a test kills it to leave a dead process's reader slot behind.
struct DebugHoldReaderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold-reader",
        abstract: "Hold a read transaction on a data dir's log (prints \"holding\" once it does), then exit.")

    @Argument(help: "The data dir (its log/ holds data.mdb).")
    var dataDir: String

    @Option(name: .long, help: "Seconds to hold it.")
    var seconds: Double = 60

    func run() throws {
        let environment = try LMDBEnvironment(path: dataDir + "/log", configuration: LMDBConfiguration(readOnly: true))
        try environment.whileHoldingReadTransaction {
            FileHandle.standardOutput.write(Data("holding\n".utf8))
            usleep(UInt32(max(0, min(seconds, 3600)) * 1_000_000))
        }
    }
}

/// Runs only the ZAB layer of a member (election and quorum ports) with an in-memory store, so
/// Paddock's ZAB can be watched electing, syncing and acknowledging with Apache ZooKeeper members.
/// It prints one line per role change and per applied batch. Its store is volatile: it must
/// never stand in for a real member, hence the required --volatile.
struct DebugZabPeerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zab-peer",
        abstract: "Run a member's ZAB layer only, with a volatile in-memory log (interoperability experiments).")

    @Option(name: .long, help: "The ensemble's zoo.cfg (dataDir holds myid).")
    var config: String

    @Flag(name: .long, help: "Acknowledge that the log lives in memory and is lost on exit.")
    var volatile = false

    func run() throws {
        guard volatile else {
            FileHandle.standardError.write(Data("paddock: debug zab-peer keeps its log in memory; pass --volatile to accept that\n".utf8))
            throw ExitCode(2)
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        let configuration: ServerConfiguration
        let myId: Int64
        do {
            configuration = try ServerConfiguration.load(path: config)
            let text = try String(contentsOfFile: configuration.dataDirectory + "/myid", encoding: .utf8)
            guard let id = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw ExitCode(2) }
            myId = id
        } catch {
            FileHandle.standardError.write(Data("paddock: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let zab = ZabConfiguration.fromZooCfg(configuration, myId: myId)
        let addresses = configuration.servers.map {
            PeerAddress(id: $0.id, host: $0.host, quorumPort: $0.quorumPort, electionPort: $0.electionPort)
        }
        let store = VolatileZabStore { zxid, count in say("paddock: applied \(count) txns through \(zxid)") }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let peer = try ZabPeer(configuration: zab.configuration, addresses: addresses, store: store, group: group,
                               tickMs: zab.tickMs, logger: Logger(label: "paddock.zab"))
        try peer.start { role in say("paddock: role \(role)") }
        say("paddock: ZAB peer \(myId) started (volatile log)")
        blockTerminationSignals()
        var set = terminationSignals()
        var received: Int32 = 0
        sigwait(&set, &received)
        peer.stop()
    }
}
