import Foundation
import PaddockClient
import PaddockRecipes
import Testing

/// Who holds the lock now, as the participants report it: an overlap is a broken lock.
actor Exclusion {
    var holder: Int?
    var overlaps = 0
    var entries = 0
    func enter(_ id: Int) {
        if holder != nil { overlaps += 1 }
        holder = id
        entries += 1
    }
    func leave(_ id: Int) { if holder == id { holder = nil } }
}

/// Waits for `body` to finish, failing after `seconds` (every wait in a test is bounded). The
/// work is not awaited after the deadline: a request that never completes cannot hang the test.
func within<T: Sendable>(_ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let once = FirstOutcome()
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let work = Task {
            do {
                let value = try await body()
                if once.claim() { continuation.resume(returning: value) }
            } catch {
                if once.claim() { continuation.resume(throwing: error) }
            }
        }
        Task {
            try? await Task.sleep(for: .seconds(seconds))
            if once.claim() {
                work.cancel()
                continuation.resume(throwing: ZooKeeperError(.operationTimeout, "\(what) did not happen within \(seconds) s"))
            }
        }
    }
}

/// True for the first caller only.
final class FirstOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private var claimed = false
    func claim() -> Bool { lock.withLock { defer { claimed = true }; return !claimed } }
}

@Suite struct RecipeTests {
    @Test func lockExcludesManyContendersAndEachGetsIt() async throws {
        try await withServer { server in
            let exclusion = Exclusion()
            let participants = 6, rounds = 5
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in 0..<participants {
                    group.addTask {
                        let client = try await PaddockClient.connect(server.address)
                        let lock = DistributedLock(client: client, path: "/locks/shared")
                        for _ in 0..<rounds {
                            let holding = try await lock.acquire()
                            await exclusion.enter(id)
                            await Task.yield()
                            await exclusion.leave(id)
                            try await holding.release()
                        }
                        await client.close()
                    }
                }
                try await group.waitForAll()
            }
            #expect(await exclusion.entries == participants * rounds)
            #expect(await exclusion.overlaps == 0)
        }
    }

    @Test func aCrashedHoldersLockPassesOnWhenItsSessionExpires() async throws {
        try await withServer { server in
            let crashed = try await PaddockClient.connect(server.address, sessionTimeout: .seconds(2))
            let waiter = try await PaddockClient.connect(server.address)
            let held = try await DistributedLock(client: crashed, path: "/locks/crash").acquire()
            #expect(held.node.hasPrefix("_c_") && held.node.contains("-lock-"))
            await crashed.abandonForTesting()  // no release, no closeSession: the session lingers
            let lock = DistributedLock(client: waiter, path: "/locks/crash")
            let next = try await within(30, "the waiter's acquire") { try await lock.acquire() }
            #expect(next.node != held.node)
            try await next.release()
            await waiter.close()
        }
    }

    @Test func oneLeaderAtATimeWithGrowingEpochs() async throws {
        try await withServer { server in
            var clients: [PaddockClient] = []
            for _ in 0..<4 { clients.append(try await PaddockClient.connect(server.address, sessionTimeout: .seconds(2))) }
            let observer = try await PaddockClient.connect(server.address)
            let watching = LeaderElection(client: observer, path: "/election")
            #expect(try await watching.leader() == nil)
            let first = try await LeaderElection(client: clients[0], path: "/election").lead(as: "c0")
            // The others stand, one after the other (so their order in line is c1, c2, c3);
            // none leads while c0 does.
            var line: [Task<LeaderElection.Leadership, any Error>] = []
            for index in 1..<4 {
                let election = LeaderElection(client: clients[index], path: "/election")
                line.append(Task { try await election.lead(as: "c\(index)") })
                _ = try await within(10, "candidate c\(index) standing") {
                    while try await observer.getChildren("/election").count < index + 1 { await Task.yield() }
                    return true
                }
            }
            let standing = line
            #expect(try await watching.leader()?.id == "c0")
            #expect(try await watching.leader()?.epoch == first.epoch)
            // c0 resigns: exactly one successor; then it crashes: another one takes over after expiry.
            try await first.resign()
            let second = try await within(10, "a successor") { try await standing[0].value }
            #expect(second.id == "c1" && second.epoch > first.epoch)
            #expect(try await watching.leader()?.id == "c1")
            await clients[1].abandonForTesting()
            let third = try await within(30, "a leader after the crash") { try await standing[1].value }
            #expect(third.id == "c2" && third.epoch > second.epoch)
            #expect(try await watching.leader()?.id == "c2")
            try await third.resign()
            let fourth = try await within(10, "the last candidate") { try await standing[2].value }
            #expect(fourth.epoch > third.epoch)
            for index in [0, 2, 3] { await clients[index].close() }
            await observer.close()
        }
    }

    @Test func membershipViewFollowsJoinsLeavesAndEndedSessions() async throws {
        try await withServer { server in
            let observer = try await PaddockClient.connect(server.address)
            let group = GroupMembership(client: observer, path: "/groups/brokers")
            var views = group.view().makeAsyncIterator()
            #expect(try await views.next() == [])
            let a = try await PaddockClient.connect(server.address)
            let b = try await PaddockClient.connect(server.address)
            try await GroupMembership(client: a, path: "/groups/brokers").join("1", data: [1])
            var seen = try await views.next()
            try await GroupMembership(client: b, path: "/groups/brokers").join("2", data: [2])
            while seen != ["1", "2"] { seen = try await views.next() }
            #expect(try await group.members() == ["1", "2"])
            await a.close()  // its ephemeral goes with the session
            while seen != ["2"] { seen = try await views.next() }
            try await GroupMembership(client: b, path: "/groups/brokers").leave("2")
            while seen != [] { seen = try await views.next() }
            await b.close()
            await observer.close()
        }
    }
}

/// Counts shared by the participants of a barrier test.
actor Tally {
    var entered = 0
    var leaving = 0
    var earlyEntries = 0
    var earlyLeaves = 0
    func enter() { entered += 1 }
    func passedEntry(of count: Int) { if entered < count { earlyEntries += 1 } }
    func startLeaving() { leaving += 1 }
    func passedExit(of count: Int) { if leaving < count { earlyLeaves += 1 } }
}

@Suite struct ConfigurationAndBarrierTests {
    @Test func readersNeverSeeAMixedOrHalfWrittenConfiguration() async throws {
        try await withServer { server in
            let writer = try await PaddockClient.connect(server.address)
            let config = ReadyConfiguration(client: writer, path: "/config")
            // A stress test under concurrent publishing. It does not catch a reader that ignores
            // the ready watch (tried by hand: readers and the writer rarely interleave on one
            // server); WatchOrderingTests checks the ordering that makes the reader right.
            let names = (0..<16).map { "e\($0)" }
            func version(_ value: Int) -> [String: [UInt8]] { Dictionary(uniqueKeysWithValues: names.map { ($0, [UInt8(value)]) }) }
            try await config.publish(version(0))
            let versions = 40
            let readers = 3
            let mixed = try await withThrowingTaskGroup(of: (mixed: Int, whole: Int).self) { group in
                for _ in 0..<readers {
                    group.addTask {
                        let client = try await PaddockClient.connect(server.address)
                        let view = ReadyConfiguration(client: client, path: "/config")
                        var mixed = 0, whole = 0
                        while true {
                            let (entries, _) = try await view.read()
                            guard let entries else { continue }
                            let values = Set(entries.values)
                            if values.count != 1 || entries.count != 16 { mixed += 1 } else { whole += 1 }
                            if values == [[UInt8(versions)]] { break }
                        }
                        await client.close()
                        return (mixed, whole)
                    }
                }
                for value in 1...versions { try await config.publish(version(value)) }
                var totals: [(mixed: Int, whole: Int)] = []
                for try await result in group { totals.append(result) }
                return totals
            }
            #expect(mixed.count == readers)
            #expect(mixed.allSatisfy { $0.mixed == 0 && $0.whole > 0 })
            // A writer that dies midway leaves no whole configuration: readers get nil, not half.
            try await writer.delete("/config/ready")
            try await writer.setData("/config/entries/e0", [99])
            let reader = try await PaddockClient.connect(server.address)
            let (entries, becameReady) = try await ReadyConfiguration(client: reader, path: "/config").read()
            #expect(entries == nil)
            try await config.publish(["a": [7], "b": [7]])
            #expect(try await nextEvent(becameReady, "ready") == WatchEvent(type: .nodeCreated, path: "/config/ready"))
            #expect(try await ReadyConfiguration(client: reader, path: "/config").read().entries == ["a": [7], "b": [7]])
            await reader.close()
            await writer.close()
        }
    }

    @Test func doubleBarrierHoldsEveryoneAtEntryAndExit() async throws {
        try await withServer { server in
            let tally = Tally()
            let participants = 4
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<participants {
                    group.addTask {
                        let client = try await PaddockClient.connect(server.address)
                        let barrier = DoubleBarrier(client: client, path: "/barriers/round-1", count: participants)
                        await tally.enter()
                        try await barrier.enter(as: "p\(index)")
                        await tally.passedEntry(of: participants)
                        await tally.startLeaving()
                        try await barrier.leave(as: "p\(index)")
                        await tally.passedExit(of: participants)
                        await client.close()
                    }
                }
                try await group.waitForAll()
            }
            let (entered, leaving) = (await tally.entered, await tally.leaving)
            let (earlyEntries, earlyLeaves) = (await tally.earlyEntries, await tally.earlyLeaves)
            #expect(entered == participants && leaving == participants)
            #expect(earlyEntries == 0 && earlyLeaves == 0)
        }
    }
}

@Suite struct WatchOrderingTests {
    /// What ReadyConfiguration relies on: a client sees a watched change's notification before
    /// the reply to any later read, so `hasFired` is already true when that read returns.
    @Test func aNotificationIsVisibleBeforeALaterReadsReply() async throws {
        try await withServer { server in
            let reader = try await PaddockClient.connect(server.address)
            let writer = try await PaddockClient.connect(server.address)
            try await writer.create("/ordered")
            try await writer.create("/ordered/ready")
            try await writer.create("/ordered/entry", data: [1])
            for round in 0..<50 {
                let (stat, watch) = try await reader.existsWatch("/ordered/ready")
                #expect(stat != nil)
                #expect(!watch.hasFired)
                try await writer.delete("/ordered/ready")
                try await writer.setData("/ordered/entry", [UInt8(round % 200 + 2)])
                let (data, _) = try await reader.getData("/ordered/entry")
                #expect(data == [UInt8(round % 200 + 2)])
                #expect(watch.hasFired, "round \(round): the new value was read before the ready watch's notification")
                try await writer.create("/ordered/ready")
            }
            await reader.close()
            await writer.close()
        }
    }
}
