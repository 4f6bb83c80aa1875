import ArgumentParser
import Foundation
import Logging
import PaddockClient
import PaddockRecipes
import ZKBase

/// `paddock-kafka-demo`: a small working model of Kafka's ZooKeeper-era controller on
/// PaddockClient and PaddockRecipes, in Kafka 2.8's znode layout and JSON, run as a scripted
/// scenario against any ZooKeeper-compatible server or ensemble. Exit 0 only if every check held.
@main
struct KafkaDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paddock-kafka-demo",
        abstract: "Kafka-style brokers and controllers on PaddockClient: election, epochs, leader/ISR changes, fencing.",
        discussion: """
            Brokers register /brokers/ids/N; two would-be controllers race for /controller and bump \
            /controller_epoch; the controller creates topics and partition states; a broker's session \
            is killed, then the controller's (while it is paused), then another broker's; the new \
            controller re-elects partition leaders from the ISR; the old controller comes back and is \
            fenced. Removes /brokers, /controller and /controller_epoch first; leaves the final layout \
            in place unless --cleanup.
            """)

    @Option(help: "Connect string, host:port[,host:port...][/chroot].") var hosts: String = "127.0.0.1:2181"
    @Option(help: "Broker participants (one session each).") var brokers: Int = 5
    @Option(help: "Topics to create.") var topics: Int = 2
    @Option(help: "Partitions per topic.") var partitions: Int = 4
    @Option(help: "Session timeout of brokers and controllers, in seconds (the killed ones expire after it).") var sessionTimeout: Double = 4
    @Option(help: "Seconds any one step may wait for the cluster to react.") var stepLimit: Double = 60
    @Flag(help: "Remove the layout at the end.") var cleanup = false

    func validate() throws {
        guard brokers >= 3 else { throw ValidationError("--brokers must be at least 3 (two of them are killed)") }
        guard topics >= 1, partitions >= 1 else { throw ValidationError("--topics and --partitions must be at least 1") }
    }

    func run() async throws {
        let scenario = Scenario(options: self)
        let passed = await scenario.run()
        if !passed { throw ExitCode(1) }
    }
}

/// The scripted run and its checks.
final class Scenario: @unchecked Sendable {
    let options: KafkaDemo
    var failures: [String] = []
    var checks = 0
    var sessions: [PaddockClient] = []
    let logger: Logger = {
        var logger = Logger(label: "paddock-kafka-demo")
        logger.logLevel = .warning
        return logger
    }()

    init(options: KafkaDemo) { self.options = options }

    func say(_ line: String) { print(line) }

    func check(_ condition: Bool, _ what: String) {
        checks += 1
        if condition { print("ok    \(what)") } else { print("FAIL  \(what)"); failures.append(what) }
    }

    func connect() async throws -> PaddockClient {
        let client = try await PaddockClient.connect(
            options.hosts, sessionTimeout: .milliseconds(Int(options.sessionTimeout * 1000)), logger: logger)
        sessions.append(client)
        return client
    }

    /// Polls `condition` until it holds or the step limit passes (every wait is bounded).
    func waitUntil(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(options.stepLimit * 1000))
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw DemoFailure("\(what) did not happen within \(Int(options.stepLimit)) s")
    }

    func run() async -> Bool {
        do {
            try await play()
        } catch {
            failures.append("\(error)")
            print("FAIL  the scenario stopped: \(error)")
        }
        for client in sessions { await client.close() }
        print(failures.isEmpty
              ? "paddock-kafka-demo: all \(checks) checks held against \(options.hosts)"
              : "paddock-kafka-demo: \(failures.count) of \(checks) checks FAILED against \(options.hosts)")
        return failures.isEmpty && checks > 0
    }

    /// The registered brokers' ids, as the admin session reads them after a sync. The admin
    /// reads what other sessions wrote, perhaps through other members of an ensemble, and a
    /// ZooKeeper read is only as fresh as the member that serves it: a sync first makes it see
    /// every write completed before it. Every read of others' writes here syncs the same way.
    func readBrokerIds(_ admin: PaddockClient) async throws -> [Int] {
        try await admin.sync()
        return try await admin.getChildren(KafkaPaths.brokerIds).compactMap { Int($0) }
    }

    /// Partition states as the admin session reads them, after a sync: other sessions wrote them.
    func readStates(_ admin: PaddockClient) async throws -> [TopicPartition: (state: PartitionState, zkVersion: Int32)] {
        try await admin.sync()
        var result: [TopicPartition: (PartitionState, Int32)] = [:]
        for topic in try await admin.getChildren(KafkaPaths.topics) {
            for partition in try await admin.getChildren(KafkaPaths.partitions(topic)) {
                guard let number = Int(partition) else { continue }
                let path = KafkaPaths.state(topic, number)
                let (data, stat) = try await admin.getData(path)
                result[TopicPartition(topic: topic, partition: number)] = (try KafkaJSON.decode(PartitionState.self, data, at: path), stat.version)
            }
        }
        return result
    }

    /// Waits until no partition is led by `broker` or has it in its ISR; returns the states then.
    func partitionsMoved(off broker: Int, _ admin: PaddockClient) async throws -> [TopicPartition: (state: PartitionState, zkVersion: Int32)] {
        var states: [TopicPartition: (state: PartitionState, zkVersion: Int32)] = [:]
        try await waitUntil("the controller to move partitions off broker \(broker)") {
            states = try await readStates(admin)
            return states.values.allSatisfy { $0.state.leader != broker && !$0.state.isr.contains(broker) }
        }
        return states
    }

    func readController(_ admin: PaddockClient) async throws -> (brokerId: Int?, epoch: Int) {
        try await admin.sync()
        // -1 until the first candidate creates /controller_epoch.
        let epochData = (try? await admin.getData(KafkaPaths.controllerEpoch))?.data
        let epoch = Int(String(decoding: epochData ?? [], as: UTF8.self)) ?? -1
        do {
            let (data, _) = try await admin.getData(KafkaPaths.controller)
            return (try KafkaJSON.decode(ControllerRegistration.self, data, at: KafkaPaths.controller).brokerid, epoch)
        } catch let error as ZooKeeperError where error.code == .noNode {
            return (nil, epoch)
        }
    }

    func play() async throws {
        let options = self.options
        let admin = try await connect()
        say("paddock-kafka-demo against \(options.hosts): \(options.brokers) brokers, \(options.topics) topics x \(options.partitions) partitions")
        for path in KafkaPaths.owned { try await removeTree(admin, path) }
        // Kafka creates its persistent top-level paths at startup (KafkaZkClient.createTopLevelPaths).
        for path in KafkaPaths.persistent { try await admin.create(path) }

        // Brokers register (group membership: ephemeral /brokers/ids/N with Kafka's JSON).
        var brokerSessions: [Int: PaddockClient] = [:]
        for id in 1...options.brokers {
            let client = try await connect()
            let registration = BrokerRegistration(host: "127.0.0.1", port: 9091 + id, timestampMs: Int64(Date().timeIntervalSince1970 * 1000))
            try await GroupMembership(client: client, path: KafkaPaths.brokerIds).join(String(id), data: KafkaJSON.encode(registration))
            brokerSessions[id] = client
        }
        let registered = try await readBrokerIds(admin).sorted()
        check(registered == Array(1...options.brokers), "brokers registered: /brokers/ids = \(registered)")

        // Two would-be controllers race (each a broker's controller component, its own session).
        let candidates = [Controller(brokerId: 1, client: try await connect(), say: say), Controller(brokerId: 2, client: try await connect(), say: say)]
        let campaigns = candidates.map { candidate in Task { try await candidate.campaign() } }
        var controllerId: Int?
        try await waitUntil("a controller") {
            controllerId = try await readController(admin).brokerId
            return controllerId != nil
        }
        guard let firstId = controllerId, let first = candidates.first(where: { $0.brokerId == firstId }),
              let second = candidates.first(where: { $0.brokerId != firstId }) else { throw DemoFailure("/controller names no candidate") }
        try await waitUntil("the winner to know it") { await first.isActive }
        let (_, firstEpoch) = try await readController(admin)
        let firstKnows = await first.epoch
        check(firstEpoch == 1 && firstKnows == 1, "one controller elected: broker \(firstId), /controller_epoch = \(firstEpoch)")
        let secondActive = await second.isActive
        check(!secondActive, "the other candidate (broker \(second.brokerId)) is not controller")

        // Topics and their partitions' first states.
        let replicationFactor = min(3, options.brokers)
        for topic in 0..<options.topics {
            try await first.createTopic("demo-topic-\(topic)", partitions: options.partitions, replicationFactor: replicationFactor, liveBrokers: registered)
        }
        var states = try await readStates(admin)
        check(states.count == options.topics * options.partitions, "\(states.count) partition states written")
        check(states.values.allSatisfy { $0.state.leaderEpoch == 0 && $0.state.controllerEpoch == 1 && $0.state.leader == $0.state.isr.first && $0.state.isr.count == replicationFactor },
              "each partition led by its first replica, full ISR, leader epoch 0, controller epoch 1")

        // A broker dies: the leader of the first partition.
        let victim = states[TopicPartition(topic: "demo-topic-0", partition: 0)]!.state.leader
        let before = states
        say("killing broker \(victim)'s session (it leads \(states.values.filter { $0.state.leader == victim }.count) partitions)")
        await brokerSessions[victim]!.abandonForTesting()
        states = try await partitionsMoved(off: victim, admin)
        let affected = before.filter { $0.value.state.isr.contains(victim) }.keys
        check(!affected.isEmpty, "broker \(victim) was in \(affected.count) ISRs")
        check(affected.allSatisfy { states[$0]!.state.leaderEpoch == before[$0]!.state.leaderEpoch + 1 },
              "each partition that had broker \(victim) got a new leader epoch (+1), new leader from its ISR")
        check(states.filter { !affected.contains($0.key) }.allSatisfy { $0.value.state == before[$0.key]!.state },
              "partitions without broker \(victim) unchanged")

        // The controller pauses and its session expires: the other candidate takes over.
        say("pausing controller \(firstId) and killing its session")
        await first.pause()
        await first.client.abandonForTesting()
        try await waitUntil("the other candidate to take over") { await second.isActive }
        let (nowId, secondEpoch) = try await readController(admin)
        let secondKnows = await second.epoch
        check(nowId == second.brokerId && secondEpoch == 2 && secondKnows == 2,
              "broker \(second.brokerId) is controller with epoch \(secondEpoch)")

        // Another broker dies: the new controller re-elects, stamping its epoch.
        let alive = Set(registered).subtracting([victim])
        let secondVictim = states.values.map(\.state.leader).first { alive.contains($0) && $0 != second.brokerId }!
        let beforeSecond = try await readStates(admin)
        say("killing broker \(secondVictim)'s session")
        await brokerSessions[secondVictim]!.abandonForTesting()
        states = try await partitionsMoved(off: secondVictim, admin)
        let affectedSecond = beforeSecond.filter { $0.value.state.isr.contains(secondVictim) }.keys
        check(!affectedSecond.isEmpty && affectedSecond.allSatisfy {
            states[$0]!.state.leaderEpoch == beforeSecond[$0]!.state.leaderEpoch + 1 && states[$0]!.state.controllerEpoch == 2
        }, "the \(affectedSecond.count) partitions with broker \(secondVictim) re-elected by controller epoch 2, leader epochs +1")

        // A stale partition-state version is refused even with the right epoch.
        let sample = affectedSecond.sorted().first!
        let staleVersion = beforeSecond[sample]!.zkVersion
        do {
            try await second.writeState(sample, states[sample]!.state, expecting: staleVersion)
            check(false, "a write of \(sample) at stale version \(staleVersion) is refused")
        } catch let error as ZooKeeperError {
            check(error.code == .badVersion && error.multiResults.first == .error(.ok) && error.multiResults.count == 2,
                  "a write of \(sample) at stale version \(staleVersion) is refused: epoch check passes, setData fails with \(error.code)")
        }

        // The old controller comes back from its pause, on a new session, with its old epoch.
        let beforeReturn = try await readStates(admin)
        let returning = await first.resumeStale(on: try await connect())
        let afterReturn = try await readStates(admin)
        check(returning.tried > 0 && returning.refused == returning.tried,
              "the returning controller \(firstId) (epoch 1) tried \(returning.tried) write(s), all refused by the /controller_epoch check")
        let firstFenced = await first.fenced
        check(firstFenced && afterReturn.mapValues(\.state) == beforeReturn.mapValues(\.state) && afterReturn.mapValues(\.zkVersion) == beforeReturn.mapValues(\.zkVersion),
              "it changed nothing and knows it is no longer controller")

        // The final layout, as Kafka's tooling would read it.
        let live = Set(try await readBrokerIds(admin))
        let (finalController, finalEpoch) = try await readController(admin)
        check(live == alive.subtracting([secondVictim]), "live brokers \(live.sorted())")
        check(finalController == second.brokerId && finalEpoch == 2, "/controller = broker \(finalController ?? -1), /controller_epoch = \(finalEpoch)")
        var consistent = true
        for topic in try await admin.getChildren(KafkaPaths.topics) {
            let (data, _) = try await admin.getData(KafkaPaths.topic(topic))
            let assignment = try KafkaJSON.decode(TopicAssignment.self, data, at: KafkaPaths.topic(topic))
            for (key, value) in states where key.topic == topic {
                let replicas = assignment.replicas(of: key.partition)
                let state = value.state
                if !(live.contains(state.leader) && state.isr.contains(state.leader) && Set(state.isr).isSubset(of: replicas) && Set(state.isr).isSubset(of: live)) {
                    consistent = false
                    say("  \(key): leader \(state.leader) ISR \(state.isr) replicas \(replicas) is inconsistent")
                }
            }
        }
        check(consistent, "every partition led by a live in-sync replica; ISR within the replicas and the live brokers")
        for (key, value) in states.sorted(by: { $0.key < $1.key }) {
            say("  \(KafkaPaths.state(key.topic, key.partition)) = \(String(decoding: KafkaJSON.encode(value.state), as: UTF8.self))")
        }
        for task in campaigns { task.cancel() }
        if options.cleanup {
            for path in KafkaPaths.owned { try await removeTree(admin, path) }
            say("layout removed (--cleanup)")
        } else {
            say("layout left in place: /brokers/topics, /controller_epoch (ephemeral /brokers/ids and /controller go with the sessions)")
        }
    }

    func removeTree(_ client: PaddockClient, _ path: String) async throws {
        guard try await client.exists(path) != nil else { return }
        for child in try await client.getChildren(path) { try await removeTree(client, path + "/" + child) }
        do { try await client.delete(path) } catch { if error.code != .noNode { throw error } }
    }
}
