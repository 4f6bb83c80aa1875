import ArgumentParser
import Foundation
import NIOConcurrencyHelpers
import PaddockClient
import PaddockRecipes
import ZKBase

/// `paddock client recipes`: every PaddockRecipes recipe, round after round for `--seconds`,
/// each round with several concurrent participants (one session each) and a participant whose
/// process dies mid-operation (its session left to expire). Meant to run while the servers are
/// restarted or an ensemble's leader is killed (tests/client/test_recipes.py): a round cut short
/// by a lost connection is counted as interrupted and the next round starts with fresh sessions;
/// a broken guarantee (two lock holders, two leaders, a mixed configuration, a barrier passed
/// early, ...) or a round that never finishes fails the run. Prints one JSON line per round
/// and a summary line; exit 0 only if no guarantee broke and every recipe completed rounds.
struct ClientRecipesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recipes",
        abstract: "Run every recipe with concurrent and crashing participants; exit 1 if a guarantee breaks.")

    @Option(help: "Connect string, host:port[,host:port...][/chroot].") var server: String = "127.0.0.1:2181"
    @Option(help: "Seconds to keep starting rounds.") var seconds: Double = 30
    @Option(help: "Session timeout of the participants that live, in seconds (longer than a failover).") var sessionTimeout: Double = 10
    @Option(help: "Session timeout of the participants that crash, in seconds (the server may raise it to its minimum).") var crashTimeout: Double = 2
    @Option(help: "Seconds a round may take before the run fails.") var roundLimit: Double = 90
    @Option(help: "Root znode for the recipes' nodes (removed first).") var root: String = "/paddock-recipes"

    func run() throws {
        let settings = RecipeRun.Settings(
            connectString: server, seconds: seconds, sessionTimeout: .milliseconds(Int(sessionTimeout * 1000)),
            crashTimeout: .milliseconds(Int(crashTimeout * 1000)), roundLimit: roundLimit, root: root)
        let summary = try runBlocking { try await RecipeRun(settings: settings).run() }
        print(summary.json)
        if !summary.passed {
            FileHandle.standardError.write(Data("paddock client recipes: FAILED: \(summary.failure ?? "a recipe completed no round")\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// A recipe's guarantee did not hold: the run fails.
struct GuaranteeBroken: Error, CustomStringConvertible {
    var description: String
}

/// The participants' own record of who holds what, checked as they act.
final class Ledger: Sendable {
    private let state = NIOLockedValueBox<(holders: [String: Int], violations: [String], maxShared: Int)>(([:], [], 0))

    /// `who` starts holding `what`; `exclusive` holders tolerate nobody, shared ones only each other.
    func enter(_ what: String, exclusive: Bool) {
        state.withLockedValue { state in
            let exclusiveKey = what + "#exclusive", sharedKey = what + "#shared"
            let exclusives = state.holders[exclusiveKey, default: 0], shared = state.holders[sharedKey, default: 0]
            if exclusives > 0 || (exclusive && shared > 0) { state.violations.append("\(what): held by two at once") }
            state.holders[exclusive ? exclusiveKey : sharedKey, default: 0] += 1
            if !exclusive { state.maxShared = max(state.maxShared, shared + 1) }
        }
    }

    func leave(_ what: String, exclusive: Bool) {
        state.withLockedValue { $0.holders[what + (exclusive ? "#exclusive" : "#shared"), default: 0] -= 1 }
    }

    func violate(_ description: String) { state.withLockedValue { $0.violations.append(description) } }

    var violations: [String] { state.withLockedValue { $0.violations } }
}

struct RecipeRun: Sendable {
    struct Settings: Sendable {
        var connectString: String
        var seconds: Double
        var sessionTimeout: Duration
        var crashTimeout: Duration
        var roundLimit: Double
        var root: String
    }

    struct Summary: Sendable {
        var completed: [String: Int] = [:]
        var interrupted: [String: Int] = [:]
        var crashedParticipants = 0
        /// Participants that crashed mid-operation, per recipe.
        var crashed: [String: Int] = [:]
        var failure: String?

        var passed: Bool { failure == nil && RecipeRun.recipes.allSatisfy { completed[$0, default: 0] > 0 } }

        var json: String {
            func object(_ counts: [String: Int]) -> String {
                "{" + RecipeRun.recipes.map { "\"\($0)\": \(counts[$0, default: 0])" }.joined(separator: ", ") + "}"
            }
            return "{\"summary\": true, \"passed\": \(passed), \"completed\": \(object(completed)), \"interrupted\": \(object(interrupted)), "
                + "\"crashedParticipants\": \(crashedParticipants), \"crashed\": \(object(crashed)), \"failure\": \(failure.map { "\"\($0.replacingOccurrences(of: "\"", with: "'"))\"" } ?? "null")}"
        }
    }

    static let recipes = ["lock", "readWriteLock", "simpleLock", "leaderElection", "membership", "configuration", "doubleBarrier", "rendezvous"]

    let settings: Settings

    func run() async throws -> Summary {
        var summary = Summary()
        let admin = try await PaddockClient.connect(settings.connectString, sessionTimeout: settings.sessionTimeout)
        try await removeTree(admin, settings.root)
        try await admin.create(settings.root)
        await admin.close()
        let deadline = ContinuousClock.now + .milliseconds(Int(settings.seconds * 1000))
        var round = 0
        while ContinuousClock.now < deadline {
            for recipe in Self.recipes {
                let started = Date().timeIntervalSince1970
                let outcome = await attempt(recipe, round: round)
                let line = "{\"recipe\": \"\(recipe)\", \"round\": \(round), \"outcome\": \"\(outcome.name)\", \"started\": \(started), \"ended\": \(Date().timeIntervalSince1970)}"
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
                switch outcome {
                case .completed(let crashed):
                    summary.completed[recipe, default: 0] += 1
                    summary.crashedParticipants += crashed
                    summary.crashed[recipe, default: 0] += crashed
                case .interrupted:
                    summary.interrupted[recipe, default: 0] += 1
                case .failed(let why):
                    summary.failure = "\(recipe) round \(round): \(why)"
                    return summary
                }
            }
            round += 1
        }
        return summary
    }

    enum Outcome {
        case completed(crashed: Int)
        case interrupted
        case failed(String)

        var name: String {
            switch self {
            case .completed: "completed"
            case .interrupted: "interrupted"
            case .failed: "failed"
            }
        }
    }

    /// One round of one recipe on fresh sessions, bounded by the round limit.
    func attempt(_ recipe: String, round: Int) async -> Outcome {
        let sessions = Sessions(settings: settings)
        let ledger = Ledger()
        let path = "\(settings.root)/\(recipe)-\(round)"
        defer { Task { await sessions.closeAll() } }
        do {
            let crashed = try await withDeadline(settings.roundLimit, "\(recipe) round \(round)") {
                try await self.play(recipe, at: path, sessions: sessions, ledger: ledger)
            }
            if let violation = ledger.violations.first { return .failed(violation) }
            return .completed(crashed: crashed)
        } catch let error as GuaranteeBroken {
            // A stuck round: say what each session's client holds.
            for line in await sessions.debugDescriptions() { FileHandle.standardError.write(Data("stuck round \(path): \(line)\n".utf8)) }
            return .failed(error.description)
        } catch let error as ZooKeeperError where error.outcomeUnknown || [.sessionExpired, .sessionMoved].contains(error.code) {
            if let violation = ledger.violations.first { return .failed(violation) }
            return .interrupted
        } catch {
            return .failed("\(error)")
        }
    }

    /// Plays one round; returns how many participants crashed in it.
    func play(_ recipe: String, at path: String, sessions: Sessions, ledger: Ledger) async throws -> Int {
        switch recipe {
        case "lock": return try await lockRound(path, sessions, ledger)
        case "readWriteLock": return try await readWriteLockRound(path, sessions, ledger)
        case "simpleLock": return try await simpleLockRound(path, sessions, ledger)
        case "leaderElection": return try await electionRound(path, sessions, ledger)
        case "membership": return try await membershipRound(path, sessions)
        case "configuration": return try await configurationRound(path, sessions)
        case "doubleBarrier": return try await barrierRound(path, sessions)
        case "rendezvous": return try await rendezvousRound(path, sessions)
        default: preconditionFailure("unknown recipe \(recipe)")
        }
    }

    /// Five contenders take the lock three times each, after a holder that crashed while holding it.
    func lockRound(_ path: String, _ sessions: Sessions, _ ledger: Ledger) async throws -> Int {
        let crashing = try await sessions.crashing()
        let held = try await DistributedLock(client: crashing, path: path).acquire()
        await crashing.abandonForTesting()
        try await inParallel(5, sessions, in: path) { _ in
            let lock = DistributedLock(client: try await sessions.living(), path: path)
            for _ in 0..<3 {
                let holding = try await lock.acquire()
                ledger.enter(path, exclusive: true)
                // The crashed holder keeps the lock until the server ends its session.
                if try await lock.client.exists(path + "/" + held.node) != nil {
                    ledger.violate("\(path): acquired while the crashed holder's node \(held.node) is there")
                }
                ledger.leave(path, exclusive: true)
                try await holding.release()
            }
        }
        return 1
    }

    /// A writer that crashed holding the write lock, then three readers and two writers twice
    /// each: nobody gets in while the crashed writer's node is there (its session must end first).
    func readWriteLockRound(_ path: String, _ sessions: Sessions, _ ledger: Ledger) async throws -> Int {
        let crashing = try await sessions.crashing()
        let held = try await ReadWriteLock(client: crashing, path: path).acquireWrite()
        await crashing.abandonForTesting()
        try await inParallel(5, sessions, in: path) { index in
            let lock = ReadWriteLock(client: try await sessions.living(), path: path)
            let writer = index >= 3
            for _ in 0..<2 {
                let holding = writer ? try await lock.acquireWrite() : try await lock.acquireRead()
                ledger.enter(path, exclusive: writer)
                if try await lock.client.exists(path + "/" + held.node) != nil {
                    ledger.violate("\(path): acquired while the crashed writer's node \(held.node) is there")
                }
                try await Task.sleep(for: .milliseconds(writer ? 1 : 20))
                ledger.leave(path, exclusive: writer)
                try await holding.release()
            }
        }
        return 1
    }

    func simpleLockRound(_ path: String, _ sessions: Sessions, _ ledger: Ledger) async throws -> Int {
        let crashing = try await sessions.crashing()
        try await SimpleLock(client: crashing, path: path).acquire()
        await crashing.abandonForTesting()
        try await inParallel(4, sessions, in: path) { _ in
            let lock = SimpleLock(client: try await sessions.living(), path: path)
            for _ in 0..<2 {
                try await lock.acquire()
                ledger.enter(path, exclusive: true)
                // Still ours (not the crashed holder's node, nor taken over).
                if try await lock.client.exists(path)?.ephemeralOwner != lock.client.sessionId {
                    ledger.violate("\(path): acquired but the lock node is not this session's")
                }
                ledger.leave(path, exclusive: true)
                try await lock.release()
            }
        }
        return 1
    }

    /// Four candidates; candidate 1 crashes when it leads instead of resigning. Each leader checks it is
    /// alone and that its epoch is above every earlier leader's, and sees itself as `leader()`.
    func electionRound(_ path: String, _ sessions: Sessions, _ ledger: Ledger) async throws -> Int {
        let epochs = NIOLockedValueBox<[Int64]>([])
        let crashed = NIOLockedValueBox(0)
        try await inParallel(4, sessions, in: path) { index in
            let client = index == 1 ? try await sessions.crashing() : try await sessions.living()
            let election = LeaderElection(client: client, path: path)
            let leadership = try await election.lead(as: "candidate-\(index)")
            ledger.enter(path, exclusive: true)
            let stale = epochs.withLockedValue { epochs in
                defer { epochs.append(leadership.epoch) }
                return epochs.contains { $0 >= leadership.epoch }
            }
            if stale { ledger.violate("\(path): leader epoch \(leadership.epoch) is not above an earlier leader's") }
            let current = try await election.leader()
            if current?.id != "candidate-\(index)" { ledger.violate("\(path): leader() says \(current?.id ?? "nobody") while candidate-\(index) leads") }
            ledger.leave(path, exclusive: true)
            if index == 1 {
                crashed.withLockedValue { $0 += 1 }
                await client.abandonForTesting()
            } else {
                try await leadership.resign()
            }
        }
        return crashed.withLockedValue { $0 }
    }

    /// Four members join; an observer's view must show all four, then lose the one that crashed
    /// and the one that left.
    func membershipRound(_ path: String, _ sessions: Sessions) async throws -> Int {
        let observer = try await sessions.living()
        var views = GroupMembership(client: observer, path: path).view().makeAsyncIterator()
        var members: [PaddockClient] = []
        for index in 0..<4 {
            let client = index == 0 ? try await sessions.crashing() : try await sessions.living()
            try await GroupMembership(client: client, path: path).join("member-\(index)", data: Array("\(index)".utf8))
            members.append(client)
        }
        var seen = try await views.next()
        while seen != ["member-0", "member-1", "member-2", "member-3"] { seen = try await views.next() }
        await members[0].abandonForTesting()
        try await GroupMembership(client: members[1], path: path).leave("member-1")
        while seen != ["member-2", "member-3"] {
            seen = try await views.next()
            if let seen, seen.contains("member-1") && !seen.contains("member-0") {
                throw GuaranteeBroken(description: "\(path): member-1 listed after it left")
            }
        }
        return 1
    }

    /// While three readers read, one writer dies halfway through a publication and another then
    /// publishes five whole configurations: every configuration a reader gets is whole (all
    /// entries from one publication, never the dead writer's half).
    func configurationRound(_ path: String, _ sessions: Sessions) async throws -> Int {
        let writer = try await sessions.living()
        let names = (0..<8).map { "key-\($0)" }
        func publication(_ value: Int) -> [String: [UInt8]] { Dictionary(uniqueKeysWithValues: names.map { ($0, Array("\(value)".utf8)) }) }
        try await ReadyConfiguration(client: writer, path: path).publish(publication(0))
        let last = 5
        let crashingWriter = try await sessions.crashing()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    let view = ReadyConfiguration(client: try await sessions.living(), path: path)
                    while true {
                        let (read, changed) = try await view.read()
                        guard let entries = read else {
                            // None is whole right now: wait for one to become ready.
                            _ = try await changed.next()
                            continue
                        }
                        let values = Set(entries.values)
                        if values.count != 1 || entries.count != names.count {
                            throw GuaranteeBroken(description: "\(path): a reader got a mixed configuration \(entries.mapValues { String(decoding: $0, as: UTF8.self) })")
                        }
                        if values.first == Array("\(last)".utf8) { return }
                    }
                }
            }
            do {
                // A writer dies midway through a publication (ReadyConfiguration's layout: `ready`
                // deleted, then the entries rewritten one by one): half the entries hold its value
                // when its session goes. Readers must not act on that half.
                try await crashingWriter.delete(path + "/ready")
                for name in names.prefix(names.count / 2) { try await crashingWriter.setData(path + "/entries/" + name, Array("dead".utf8)) }
                await crashingWriter.abandonForTesting()
                for value in 1...last { try await ReadyConfiguration(client: writer, path: path).publish(publication(value)) }
                try await Self.untilFirstError(&group)
            } catch {
                throw await Self.endRound(at: error, &group, sessions, in: path)
            }
        }
        return 1
    }

    /// Four participants through a double barrier: nobody passes entry before all entered, nor
    /// exit before all left; p0 crashes instead of leaving, so the others pass exit only once the
    /// server has ended its session (its node is gone).
    func barrierRound(_ path: String, _ sessions: Sessions) async throws -> Int {
        let counts = NIOLockedValueBox((entered: 0, leaving: 0))
        try await inParallel(4, sessions, in: path) { index in
            let client = index == 0 ? try await sessions.crashing() : try await sessions.living()
            let barrier = DoubleBarrier(client: client, path: path, count: 4)
            counts.withLockedValue { $0.entered += 1 }
            try await barrier.enter(as: "p\(index)")
            if counts.withLockedValue({ $0.entered }) < 4 { throw GuaranteeBroken(description: "\(path): p\(index) passed entry before all entered") }
            counts.withLockedValue { $0.leaving += 1 }
            if index == 0 { return await client.abandonForTesting() }
            try await barrier.leave(as: "p\(index)")
            if counts.withLockedValue({ $0.leaving }) < 4 { throw GuaranteeBroken(description: "\(path): p\(index) passed exit before all left") }
            if try await client.exists(path + "/p0") != nil { throw GuaranteeBroken(description: "\(path): p\(index) passed exit while the crashed p0 was still there") }
        }
        return 1
    }

    /// A coordinator (who then crashes), a master and three workers, two asking before the
    /// master publishes: all get its data, then all see the rendezvous end.
    func rendezvousRound(_ path: String, _ sessions: Sessions) async throws -> Int {
        let coordinator = try await sessions.crashing()
        try await Rendezvous(client: coordinator, path: path).create()
        let address = Array("10.0.0.\(Int.random(in: 1...254)):9092".utf8)
        var waiting: [Task<[UInt8], any Error>] = []
        for _ in 0..<2 {
            let worker = try await sessions.living()
            waiting.append(Task { try await Rendezvous(client: worker, path: path).waitForData() })
        }
        try await Rendezvous(client: try await sessions.living(), path: path).publish(address)
        let late = try await Rendezvous(client: try await sessions.living(), path: path).waitForData()
        for task in waiting where try await task.value != address { throw GuaranteeBroken(description: "\(path): a worker got other data") }
        if late != address { throw GuaranteeBroken(description: "\(path): the late worker got other data") }
        let watcher = try await sessions.living()
        let ending = Task { try await Rendezvous(client: watcher, path: path).waitForEnd() }
        await coordinator.abandonForTesting()
        try await ending.value
        return 1
    }

    /// Runs `count` participants at once; the first error ends the round: the round's sessions
    /// are closed then, so participants still waiting (on a node a failed participant left)
    /// fail at once instead of holding the group open.
    func inParallel(_ count: Int, _ sessions: Sessions, in path: String, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<count { group.addTask { try await body(index) } }
            do {
                try await Self.untilFirstError(&group)
            } catch {
                throw await Self.endRound(at: error, &group, sessions, in: path)
            }
        }
    }
}

extension RecipeRun {
    /// Waits for the group's tasks and throws the first error as soon as it comes. (A
    /// ThrowingTaskGroup's `waitForAll` waits for every child before it throws: participants
    /// waiting on a node the failed one left would hold the round until its limit.)
    static func untilFirstError(_ group: inout ThrowingTaskGroup<Void, any Error>) async throws {
        while try await group.next() != nil {}
    }

    /// The first error ends the round: logged, the other participants cancelled, the round's
    /// sessions closed (so participants waiting on a node the failed one left fail at once).
    static func endRound(
        at error: any Error, _ group: inout ThrowingTaskGroup<Void, any Error>, _ sessions: Sessions, in path: String
    ) async -> any Error {
        FileHandle.standardError.write(Data("round \(path) ends at a participant's error: \(error)\n".utf8))
        group.cancelAll()
        await sessions.closeAll()
        return error
    }
}

/// A round's sessions, closed together at its end.
final class Sessions: Sendable {
    let settings: RecipeRun.Settings
    private let opened = NIOLockedValueBox<[PaddockClient]>([])

    init(settings: RecipeRun.Settings) { self.settings = settings }

    /// A participant that lives through the round (its session outlasts a failover).
    func living() async throws -> PaddockClient {
        try await open(settings.sessionTimeout)
    }

    /// A participant that will crash: a short session, expired by the server soon after.
    func crashing() async throws -> PaddockClient {
        try await open(settings.crashTimeout)
    }

    private func open(_ timeout: Duration) async throws -> PaddockClient {
        let client = try await PaddockClient.connect(settings.connectString, sessionTimeout: timeout)
        opened.withLockedValue { $0.append(client) }
        return client
    }

    func debugDescriptions() async -> [String] {
        var lines: [String] = []
        for client in opened.withLockedValue({ $0 }) { lines.append(await client.debugDescription()) }
        return lines
    }

    func closeAll() async {
        for client in opened.withLockedValue({ $0 }) { await client.close() }
    }
}

/// Waits for `body` at most `seconds`; does not wait for the work after the deadline (it ends
/// when its sessions are closed).
func withDeadline<T: Sendable>(_ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let result = NIOLockedValueBox<Result<T, any Error>?>(nil)
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        func finish(_ outcome: Result<T, any Error>) {
            let first = result.withLockedValue { stored in
                defer { if stored == nil { stored = outcome } }
                return stored == nil
            }
            if first { continuation.resume(with: outcome) }
        }
        let work = Task {
            do { finish(.success(try await body())) } catch { finish(.failure(error)) }
        }
        Task {
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            work.cancel()
            finish(.failure(GuaranteeBroken(description: "\(what) did not finish within \(Int(seconds)) s")))
        }
    }
}
