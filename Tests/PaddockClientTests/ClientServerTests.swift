import Foundation
import Logging
import PaddockClient
import Testing
import ZKBase
import ZKConfig
import ZKServer
import ZKTestSupport

/// A PaddockServer on 127.0.0.1, an ephemeral port and a scratch data directory.
final class ScratchServer: Sendable {
    let server: PaddockServer
    let dataDirectory: String
    var address: String { "127.0.0.1:\(server.localPort)" }

    init() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("paddock-client-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var configuration = ServerConfiguration(dataDirectory: directory, clientPort: 0)
        // A full parallel unit run on 2 cores delayed a test's ConnectRequest past ZooKeeper's
        // 10 s sessionless limit (the server closed the connection first); the limit has its own tests.
        configuration.sessionlessConnectionTimeoutMs = 600_000
        configuration.clientPortAddress = "127.0.0.1"
        configuration.tickTimeMs = 500
        configuration.sessionTimeoutMsMin = 1000
        configuration.sessionTimeoutMsMax = 40_000
        configuration.fourLetterWordWhitelist = FourLetterWordWhitelist(parsing: "*")
        let logger = Logger(label: "paddock-client-test") { _ in SwiftLogNoOpLogHandler() }
        server = try PaddockServer.start(configuration: configuration, logger: logger)
        dataDirectory = directory
    }

    /// The watches the server holds on `path` (from `wchp`).
    func watchCount(on path: String) throws -> Int {
        let socket = try RawSocket(port: server.localPort)
        socket.send(Array("wchp".utf8))
        guard let reply = socket.readUntilClosed() else { throw TestFailure("no reply to wchp") }
        let lines = String(decoding: reply, as: UTF8.self).split(separator: "\n")
        guard let start = lines.firstIndex(where: { $0 == path }) else { return 0 }
        return lines[(start + 1)...].prefix { $0.hasPrefix("\t") }.count
    }

    func stop() {
        server.stop()
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }
}

/// Runs `body` against a fresh server, bounded: a test that would hang fails after `seconds`.
func withServer(seconds: Double = 90, _ body: @escaping @Sendable (ScratchServer) async throws -> Void) async throws {
    let server = try ScratchServer()
    defer { server.stop() }
    try await within(seconds, "the test's work") { try await body(server) }
}

/// The next event of a watch, failing the test if none comes within `seconds`.
func nextEvent(_ watch: WatchEvents, within seconds: Double = 10, _ what: String = "") async throws -> WatchEvent? {
    try await PaddockClientTests.within(seconds, "a watch event \(what)") { try await watch.next() }
}

@Suite struct ClientServerTests {
    @Test func everyOperationAgainstPaddock() async throws {
        try await withServer { server in
            let client = try await PaddockClient.connect(server.address, sessionTimeout: .seconds(10))
            #expect(client.state == .connected && client.sessionId != 0)
            // create, create2 stat, sequential, getData, setData with versions.
            #expect(try await client.create("/app", data: [1]) == "/app")
            let (path, stat) = try await client.createWithStat("/app/seq-", data: nil, mode: .persistentSequential)
            #expect(path == "/app/seq-0000000000" && stat.version == 0)
            let (data, dataStat) = try await client.getData("/app")
            #expect(data == [1] && dataStat.numChildren == 1)
            let setStat = try await client.setData("/app", [2], version: 0)
            #expect(setStat.version == 1)
            await #expect(throws: ZooKeeperError(.badVersion, "setData /app")) { try await client.setData("/app", [3], version: 0) }
            // exists, children, ACLs, sync, counts.
            #expect(try await client.exists("/nope") == nil)
            #expect(try await client.exists("/app")?.version == 1)
            #expect(try await client.getChildren("/app") == ["seq-0000000000"])
            #expect(try await client.getChildrenWithStat("/app").stat.numChildren == 1)
            let readOnly = [ACL(perms: .read, id: .anyone)]
            try await client.create("/locked", acl: readOnly)
            #expect(try await client.getACL("/locked").acl == readOnly)
            await #expect(throws: ZooKeeperError(.noAuth, "setData /locked")) { try await client.setData("/locked", [1]) }
            try await client.sync("/app")
            #expect(try await client.getAllChildrenNumber("/app") == 1)
            // Ephemerals, containers, TTL nodes, whoAmI, digest auth.
            try await client.create("/app/me", mode: .ephemeral)
            #expect(try await client.getEphemerals("/app") == ["/app/me"])
            try await client.create("/box", mode: .container)
            #expect(try await client.exists("/box") != nil)
            await #expect(throws: ZooKeeperError.self) { try await client.create("/ttl", mode: .persistentWithTTL, ttl: 0) }
            #expect(try await client.whoAmI().contains { $0.authScheme == "ip" })
            try await client.addAuth(scheme: "digest", auth: Array("alice:secret".utf8))
            #expect(try await client.whoAmI().contains { $0.authScheme == "digest" && $0.user == "alice" })
            // delete with and without a version.
            await #expect(throws: ZooKeeperError(.notEmpty, "delete /app")) { try await client.delete("/app") }
            try await client.delete("/app/seq-0000000000", version: 0)
            await client.close()
            #expect(client.state == .closed)
            await #expect(throws: ZooKeeperError.self) { try await client.exists("/app") }
            // The ephemeral went with the session.
            let other = try await PaddockClient.connect(server.address)
            #expect(try await other.exists("/app/me") == nil)
            await other.close()
        }
    }

    @Test func multiAppliesAllOrNothingAndSaysWhichOpFailed() async throws {
        try await withServer { server in
            let client = try await PaddockClient.connect(server.address)
            let results = try await client.multi([
                .create(path: "/m", data: [1]), .create(path: "/m/a", data: nil), .setData(path: "/m", data: [2]),
                .check(path: "/m", version: 1),
            ])
            #expect(results.count == 4)
            #expect(results[0] == .created(path: "/m") && results[3] == .checked)
            do {
                _ = try await client.multi([.delete(path: "/m/a"), .check(path: "/m", version: 7), .create(path: "/m/b", data: nil)])
                Issue.record("a multi with a failing check succeeded")
            } catch let error as ZooKeeperError {
                #expect(error.code == .badVersion)
                #expect(error.multiResults == [.error(.ok), .error(.badVersion), .error(.runtimeInconsistency)])
            } catch {
                Issue.record("unexpected \(error)")
            }
            #expect(try await client.exists("/m/a") != nil)
            let reads = try await client.multiRead([.getData(path: "/m"), .getChildren(path: "/m"), .getData(path: "/none")])
            #expect(reads.count == 3)
            if case .data(let data, _) = reads[0] { #expect(data == [2]) } else { Issue.record("getData result \(reads[0])") }
            #expect(reads[1] == .children(["a"]))
            #expect(reads[2] == .error(.noNode))
            await client.close()
        }
    }

    @Test func watchesFireOnceOrPersistInTheServersOrder() async throws {
        try await withServer { server in
            let client = try await PaddockClient.connect(server.address)
            let writer = try await PaddockClient.connect(server.address)
            try await client.create("/w", data: [0])
            let (_, _, dataWatch) = try await client.getDataWatch("/w")
            let (_, _, childWatch) = try await client.getChildrenWatch("/w")
            let (missing, existWatch) = try await client.existsWatch("/w/later")
            #expect(missing == nil)
            // On another path: ZooKeeper 3.8 keeps one watch mode per path and session (3.9 lifts it).
            let recursive = try await client.addWatch("/", mode: .persistentRecursive)
            try await writer.setData("/w", [1])
            try await writer.create("/w/later")
            try await writer.setData("/w/later", [2])
            #expect(try await nextEvent(dataWatch, "data") == WatchEvent(type: .nodeDataChanged, path: "/w"))
            #expect(try await dataWatch.next() == nil)  // one-shot: it ended
            #expect(try await nextEvent(existWatch, "exist") == WatchEvent(type: .nodeCreated, path: "/w/later"))
            #expect(try await nextEvent(childWatch, "child") == WatchEvent(type: .nodeChildrenChanged, path: "/w"))
            var seen: [WatchEvent] = []
            var iterator = recursive.makeAsyncIterator()
            for _ in 0..<3 { if let event = try await iterator.next() { seen.append(event) } }
            #expect(seen == [WatchEvent(type: .nodeDataChanged, path: "/w"), WatchEvent(type: .nodeCreated, path: "/w/later"),
                             WatchEvent(type: .nodeDataChanged, path: "/w/later")])
            // A watch set by a failing read never fires: its sequence ends with the error.
            await #expect(throws: ZooKeeperError.self) { try await client.getDataWatch("/absent") }
            await writer.close()
            await client.close()
        }
    }

    @Test func manyRequestsInFlightCompleteInOrder() async throws {
        try await withServer { server in
            let client = try await PaddockClient.connect(server.address)
            try await client.create("/fifo", data: [])
            let count = 2000
            // Every setData is in flight at once; their versions must follow submission order.
            let stats = try await withThrowingTaskGroup(of: (Int, Stat).self) { group in
                for i in 0..<count {
                    group.addTask { (i, try await client.setData("/fifo", Array(String(i).utf8))) }
                    if i % 100 == 0 { await Task.yield() }
                }
                var all: [(Int, Stat)] = []
                for try await result in group { all.append(result) }
                return all
            }
            #expect(stats.count == count)
            let versions = Set(stats.map(\.1.version))
            #expect(versions.count == count)  // each set its own version: none lost or doubled
            #expect(try await client.getData("/fifo").stat.version == Int32(count))
            // Submitted from one task in sequence: replies arrive in order.
            var last: Int64 = 0
            for i in 0..<200 {
                let stat = try await client.setData("/fifo", [UInt8(i % 256)])
                #expect(stat.mzxid > last)
                last = stat.mzxid
            }
            await client.close()
        }
    }

    @Test func chrootMakesEveryPathRelative() async throws {
        try await withServer { server in
            let root = try await PaddockClient.connect(server.address)
            try await root.create("/tenant")
            let client = try await PaddockClient.connect(server.address + "/tenant")
            #expect(try await client.create("/a", data: [1]) == "/a")
            #expect(try await client.create("/a/s-", mode: .ephemeralSequential).hasPrefix("/a/s-"))
            #expect(try await root.getData("/tenant/a").data == [1])
            let (_, _, watch) = try await client.getDataWatch("/a")
            try await root.setData("/tenant/a", [2])
            #expect(try await nextEvent(watch) == WatchEvent(type: .nodeDataChanged, path: "/a"))
            #expect(try await client.getEphemerals("/").allSatisfy { $0.hasPrefix("/a/s-") })
            await client.close()
            await root.close()
        }
    }

    @Test func aSessionThatCannotReachAnyServerTimesOutConnecting() async throws {
        // A port nothing listens on (bound, then closed).
        let socket = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        close(socket)
        await #expect(throws: ZooKeeperError.self) {
            _ = try await PaddockClient.connect("127.0.0.1:\(port)", sessionTimeout: .seconds(2), connectTimeout: .seconds(2))
        }
    }
}
