import ArgumentParser
import Dispatch
import Foundation
import NIOConcurrencyHelpers
import PaddockClient
import ZKBase

/// `paddock client`: PaddockClient against any ZooKeeper-compatible server, from the command
/// line — the check the test suite runs against Apache ZooKeeper 3.8 and Paddock alike, and a
/// session kept alive through failovers.
struct ClientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "PaddockClient against a server: a protocol check, a session kept through failovers, the recipes under crashes.",
        subcommands: [ClientCheckCommand.self, ClientFollowCommand.self, ClientRecipesCommand.self])
}

/// Runs async work from a synchronous command (the CLI's main thread, not the task pool).
func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let semaphore = DispatchSemaphore(value: 0)
    let result = NIOLockedValueBox<Result<T, any Error>?>(nil)
    Task {
        do {
            let value = try await body()
            result.withLockedValue { $0 = .success(value) }
        } catch {
            result.withLockedValue { $0 = .failure(error) }
        }
        semaphore.signal()
    }
    semaphore.wait()
    return try result.withLockedValue { $0! }.get()
}

struct CheckFailure: Error, CustomStringConvertible {
    var description: String
}

struct ClientCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Every operation, watch and multi of ZooKeeper 3.8 through PaddockClient; exit 1 at the first mismatch.",
        discussion: "Works under a fresh root znode (--root, removed first). Prints one line per step.")

    @Option(help: "Connect string, host:port[,host:port...][/chroot].") var server: String = "127.0.0.1:2181"
    @Option(help: "Root znode for the check's nodes.") var root: String = "/paddock-client-check"

    func run() throws {
        let server = self.server
        let root = self.root
        do {
            try runBlocking { try await ClientCheck(connectString: server, root: root).run() }
        } catch {
            FileHandle.standardError.write(Data("paddock client check: FAILED: \(error)\n".utf8))
            throw ExitCode(1)
        }
        print("paddock client check: every step passed against \(server)")
    }
}

/// The steps, each a claim about ZooKeeper 3.8's behaviour that must hold on both servers.
struct ClientCheck: Sendable {
    var connectString: String
    var root: String

    func expect(_ condition: Bool, _ what: String) throws {
        guard condition else { throw CheckFailure(description: what) }
        print("ok  \(what)")
    }

    func expectError(_ code: ErrorCode, _ what: String, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as ZooKeeperError where error.code == code {
            return print("ok  \(what) -> \(code)")
        }
        throw CheckFailure(description: "\(what): expected \(code)")
    }

    func nextEvent(_ watch: WatchEvents, _ what: String) async throws -> WatchEvent {
        let event = try await withThrowingTaskGroup(of: WatchEvent?.self) { group in
            group.addTask { try await watch.next() }
            group.addTask {
                try await Task.sleep(for: .seconds(10))
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
        guard let event else { throw CheckFailure(description: "no \(what) event within 10 s") }
        return event
    }

    func run() async throws {
        let client = try await PaddockClient.connect(connectString, sessionTimeout: .seconds(10))
        let writer = try await PaddockClient.connect(connectString, sessionTimeout: .seconds(10))
        try expect(client.state == .connected && client.sessionId != 0, "session established (0x\(String(UInt64(bitPattern: client.sessionId), radix: 16)))")
        try await removeTree(writer, root)

        try await expect(client.create(root, data: [1]) == root, "create \(root)")
        let (sequential, created) = try await client.createWithStat(root + "/seq-", data: nil, mode: .persistentSequential)
        try expect(sequential == root + "/seq-0000000000" && created.version == 0, "create2 sequential -> \(sequential)")
        let set = try await client.setData(root, [2], version: 0)
        try expect(set.version == 1, "setData with the right version")
        try await expectError(.badVersion, "setData with a stale version") { try await client.setData(root, [3], version: 0) }
        let (data, stat) = try await client.getData(root)
        try expect(data == [2] && stat.numChildren == 1, "getData")
        try await expect(client.exists(root + "/none") == nil, "exists of a missing node is nil")
        try await expect(client.getChildren(root) == ["seq-0000000000"], "getChildren")
        try await expect(client.getChildrenWithStat(root).stat.numChildren == 1, "getChildren2")
        let readOnly = [ACL(perms: .read, id: .anyone)]
        try await client.create(root + "/locked", acl: readOnly)
        try await expect(client.getACL(root + "/locked").acl == readOnly, "getACL")
        try await expectError(.noAuth, "setData on a read-only node") { try await client.setData(root + "/locked", [1]) }
        try await expectError(.noAuth, "setACL without the admin permission") { _ = try await client.setACL(root + "/locked", ACL.openUnsafe) }
        let guarded = [ACL(perms: [.read, .admin], id: .anyone)]
        try await client.create(root + "/guarded", acl: guarded)
        try await expectError(.noAuth, "setData on a read+admin node") { try await client.setData(root + "/guarded", [1]) }
        try await expectError(.badVersion, "setACL with a stale version") { _ = try await client.setACL(root + "/guarded", ACL.openUnsafe, version: 5) }
        let opened = try await client.setACL(root + "/guarded", ACL.openUnsafe, version: 0)
        let aclNow = try await client.getACL(root + "/guarded").acl
        try expect(opened.aversion == 1 && aclNow == ACL.openUnsafe, "setACL opens the node (aversion 1)")
        try await expect(client.setData(root + "/guarded", [1]).version == 1, "setData after setACL")
        let (ttlPath, ttlStat) = try await client.createWithStat(root + "/ttl", data: [4], mode: .persistentWithTTL, ttl: 60_000)
        // ZooKeeper marks a TTL node in ephemeralOwner (top byte 0xFF) and shows it as 0 to clients.
        try expect(ttlPath == root + "/ttl" && ttlStat.ephemeralOwner == 0, "create with a TTL")
        try await expectError(.badArguments, "a TTL mode without a TTL") { _ = try await client.create(root + "/ttl0", mode: .persistentWithTTL) }
        try await client.sync(root)
        try await expect(client.getAllChildrenNumber(root) == 4, "getAllChildrenNumber")
        try await client.create(root + "/mine", mode: .ephemeral)
        try await expect(client.getEphemerals(root) == [root + "/mine"], "getEphemerals")
        try await client.create(root + "/box", mode: .container)
        try await expect(client.exists(root + "/box")?.ephemeralOwner == 0, "container created")
        try await client.addAuth(scheme: "digest", auth: Array("alice:secret".utf8))
        try await expect(client.whoAmI().contains { $0.authScheme == "digest" && $0.user == "alice" }, "addAuth digest, whoAmI")

        let results = try await client.multi([
            .create(path: root + "/m", data: [1]), .setData(path: root + "/m", data: [2]), .check(path: root + "/m", version: 1),
        ])
        try expect(results == [.created(path: root + "/m"), .dataSet(results[1].stat!), .checked], "multi applies every op")
        // A failed multi changes nothing and says which op failed; later ops see earlier ones
        // (a check after a delete of its node finds no node).
        for (ops, failing) in [([Operation.setData(path: root + "/m", data: [9]), .check(path: root + "/m", version: 9)], ErrorCode.badVersion),
                               ([.delete(path: root + "/m"), .check(path: root + "/m", version: 1)], .noNode)] {
            do {
                _ = try await client.multi(ops)
                throw CheckFailure(description: "a multi with a failing op succeeded")
            } catch let error as ZooKeeperError {
                try expect(error.code == failing && error.multiResults == [.error(.ok), .error(failing)],
                           "a failed multi names its failing op: \(failing)")
            }
        }
        try await expect(client.getData(root + "/m").data == [2], "a failed multi changed nothing")
        let reads = try await client.multiRead([.getData(path: root + "/m"), .getData(path: root + "/gone")])
        try expect(reads.count == 2 && reads[1] == .error(.noNode), "multiRead answers each op")

        let (_, _, dataWatch) = try await client.getDataWatch(root + "/m")
        let (_, _, childWatch) = try await client.getChildrenWatch(root + "/m")
        let (missing, existWatch) = try await client.existsWatch(root + "/m/later")
        try expect(missing == nil, "exists with a watch on a missing node")
        let recursive = try await client.addWatch(root + "/m", mode: .persistentRecursive)
        try await writer.setData(root + "/m", [3])
        try await writer.create(root + "/m/later")
        try await expect(nextEvent(dataWatch, "data") == WatchEvent(type: .nodeDataChanged, path: root + "/m"), "data watch fired")
        try await expect(nextEvent(existWatch, "exist") == WatchEvent(type: .nodeCreated, path: root + "/m/later"), "exist watch fired")
        // ZooKeeper 3.8 keeps one mode per path and session: the recursive watch on the same
        // path replaced the child watch, so that watch stays silent (ZOOKEEPER-4466, 3.9).
        try await expect(nextEvent(recursive, "recursive") == WatchEvent(type: .nodeDataChanged, path: root + "/m"), "recursive watch: the parent's change")
        try await expect(nextEvent(recursive, "recursive") == WatchEvent(type: .nodeCreated, path: root + "/m/later"), "recursive watch: the child's creation")
        _ = childWatch

        // removeWatches: the removed watches end here too, with ZooKeeper's ...WatchRemoved event.
        try await client.create(root + "/w")
        try await client.create(root + "/p")
        let (_, _, removedData) = try await client.getDataWatch(root + "/w")
        let (_, _, keptChildren) = try await client.getChildrenWatch(root + "/w")
        let removedPersistent = try await client.addWatch(root + "/p", mode: .persistent)
        try await client.removeWatches(root + "/w", type: .data)
        try await expect(nextEvent(removedData, "removed data watch") == WatchEvent(type: .dataWatchRemoved, path: root + "/w"), "removeWatches(.data) ends the data watch with dataWatchRemoved")
        try await expect(removedData.next() == nil, "a removed watch's sequence ends")
        try await expectError(.noWatcher, "removeWatches where the session has no such watch") { try await client.removeWatches(root + "/w", type: .data) }
        try await writer.create(root + "/w/c")
        try await expect(nextEvent(keptChildren, "child") == WatchEvent(type: .nodeChildrenChanged, path: root + "/w"), "the child watch on the same path stays")
        try await client.removeWatches(root + "/p", type: .any)
        try await expect(nextEvent(removedPersistent, "removed persistent watch") == WatchEvent(type: .persistentWatchRemoved, path: root + "/p"), "removeWatches(.any) ends a persistent watch with persistentWatchRemoved")

        // Pipelining: many requests in flight on one session, answered in order.
        let count = 1000
        let versions = try await withThrowingTaskGroup(of: Int32.self) { group in
            for i in 0..<count { group.addTask { try await client.setData(root + "/m", Array(String(i).utf8)).version } }
            var all: [Int32] = []
            for try await version in group { all.append(version) }
            return all
        }
        try expect(Set(versions).count == count, "\(count) setData in flight, each its own version")

        // Chroot.
        let chrooted = try await PaddockClient.connect(connectString + root, sessionTimeout: .seconds(10))
        try await expect(chrooted.getData("/m").stat.version == Int32(count + 2), "a chroot makes paths relative")
        await chrooted.close()

        await client.close()
        try await expect(writer.exists(root + "/mine") == nil, "the ephemeral went with the closed session")
        try await removeTree(writer, root)
        await writer.close()
    }

}

/// Deletes `path` and everything under it (what is already gone is fine).
func removeTree(_ client: PaddockClient, _ path: String) async throws {
    guard try await client.exists(path) != nil else { return }
    for child in try await client.getChildren(path) { try await removeTree(client, path + "/" + child) }
    let deleted = await ClientFollowCommand.outcome { () throws(ZooKeeperError) in try await client.delete(path) }
    if case .failure(let error) = deleted, error.code != .noNode { throw error }
}

extension OperationResult {
    var stat: Stat? {
        switch self {
        case .dataSet(let stat), .data(_, let stat): return stat
        default: return nil
        }
    }
}

/// `paddock client follow`: one session through whatever happens to the servers — a CAS
/// counter written as fast as replies come, an ephemeral, a persistent watch — then a JSON
/// line: writes acknowledged, states seen, whether the session survived, events received.
struct ClientFollowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "follow",
        abstract: "Keep one session writing through failovers; print what it saw as JSON.")

    @Option(help: "Connect string.") var server: String = "127.0.0.1:2181"
    @Option(help: "Seconds to run.") var seconds: Double = 10
    @Option(help: "Session timeout in seconds.") var sessionTimeout: Double = 10
    @Option(help: "Znode of the counter (created if missing).") var path: String = "/paddock-follow"

    func run() throws {
        let server = self.server, seconds = self.seconds, timeout = self.sessionTimeout, path = self.path
        let summary = try runBlocking { try await Self.follow(server: server, seconds: seconds, timeout: timeout, path: path) }
        print(summary)
    }

    static func follow(server: String, seconds: Double, timeout: Double, path: String) async throws -> String {
        let client = try await PaddockClient.connect(server, sessionTimeout: .milliseconds(Int(timeout * 1000)))
        let sessionId = client.sessionId
        let seen = NIOLockedValueBox<[String]>([])
        let stateTask = Task { for await state in client.states { seen.withLockedValue { $0.append("\(state)") } } }
        if try await client.exists(path) == nil {
            let created = await Self.outcome { () throws(ZooKeeperError) in try await client.create(path, data: Array("0".utf8)) }
            if case .failure(let error) = created, error.code != .nodeExists { throw error }
        }
        try await client.create(path + "-ephemeral-" + String(UInt64(bitPattern: sessionId), radix: 16), mode: .ephemeral)
        let watch = try await client.addWatch(path, mode: .persistent)
        let eventCount = NIOLockedValueBox(0)
        let watchTask = Task { do { for try await _ in watch { eventCount.withLockedValue { $0 += 1 } } } catch {} }
        var acknowledged = 0
        var lost = 0
        var lastValue = -1
        var regressions = 0
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline, !client.state.isTerminal {
            let step = await Self.outcome { () throws(ZooKeeperError) -> Int in
                let (data, stat) = try await client.getData(path)
                let value = Int(String(decoding: data ?? [], as: UTF8.self)) ?? 0
                try await client.setData(path, Array(String(value + 1).utf8), version: stat.version)
                return value
            }
            switch step {
            case .success(let value):
                if value < lastValue { regressions += 1 }
                acknowledged += 1
                lastValue = value + 1
            case .failure(let error) where error.code == .badVersion:
                continue
            case .failure(let error) where error.outcomeUnknown:
                lost += 1
                try? await Task.sleep(for: .milliseconds(50))
            case .failure(let error) where error.code == .sessionExpired:
                // The summary says so (`survived` false, `expired` among the states).
                break
            case .failure(let error):
                throw error
            }
        }
        let survived = !client.state.isTerminal && client.sessionId == sessionId
        let ephemeral = try? await client.exists(path + "-ephemeral-" + String(UInt64(bitPattern: sessionId), radix: 16))
        await client.close()
        stateTask.cancel()
        watchTask.cancel()
        let states = seen.withLockedValue { $0 }.map { "\"\($0)\"" }.joined(separator: ",")
        return "{\"acknowledged\": \(acknowledged), \"connectionLoss\": \(lost), \"readRegressions\": \(regressions), "
            + "\"survived\": \(survived), \"ephemeralKept\": \(ephemeral != nil), \"watchEvents\": \(eventCount.withLockedValue { $0 }), "
            + "\"lastValue\": \(lastValue), \"states\": [\(states)]}"
    }
}

extension ClientFollowCommand {
    static func outcome<T>(_ body: () async throws(ZooKeeperError) -> T) async -> Result<T, ZooKeeperError> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }
}
