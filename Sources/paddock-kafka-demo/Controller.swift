import Foundation
import PaddockClient
import PaddockRecipes
import ZKBase

/// A partition by topic and number.
struct TopicPartition: Hashable, Comparable, CustomStringConvertible {
    var topic: String
    var partition: Int
    var description: String { "\(topic)-\(partition)" }
    static func < (a: Self, b: Self) -> Bool { (a.topic, a.partition) < (b.topic, b.partition) }
}

/// The controller moved: this one's epoch is no longer the current one (Kafka's
/// ControllerMovedException).
struct ControllerMoved: Error {}

/// A would-be Kafka controller, modelled on Kafka 2.8's ZooKeeper-based one: it becomes
/// controller by creating the ephemeral `/controller` and bumping `/controller_epoch` in one multi
/// (the simple lock of the paper with a fencing counter); then it owns partition leadership.
/// Every write it makes carries a check of `/controller_epoch`'s version (the one its own bump
/// produced) and the partition state's expected version, so a controller whose epoch has passed,
/// or whose view of a partition is stale, cannot change anything — it learns it instead.
actor Controller {
    let brokerId: Int
    private(set) var client: PaddockClient
    let say: @Sendable (String) -> Void

    /// Set once this controller won: its epoch and `/controller_epoch`'s zkVersion after its bump.
    private(set) var epoch: Int?
    private(set) var epochZkVersion: Int32 = -1
    /// What it believes each partition's state is, with the zkVersion it read or wrote.
    private(set) var states: [TopicPartition: (state: PartitionState, zkVersion: Int32)] = [:]
    private(set) var assignments: [String: TopicAssignment] = [:]
    /// A paused controller (a long GC pause, a stopped VM) acts on nothing until it resumes.
    private(set) var paused = false
    private(set) var fenced = false
    private var watching: Task<Void, Never>?

    init(brokerId: Int, client: PaddockClient, say: @escaping @Sendable (String) -> Void) {
        self.brokerId = brokerId
        self.client = client
        self.say = say
    }

    var isActive: Bool { epoch != nil && !fenced }

    /// Stands until it becomes controller (or its session ends).
    func campaign() async throws {
        while true {
            if try await tryToElect() { return try await becomeController() }
            let (stat, watch) = try await client.existsWatch(KafkaPaths.controller)
            if stat == nil { continue }
            guard try await watch.next() != nil else { throw ZooKeeperError(.sessionExpired, "broker \(brokerId)'s candidate session ended") }
        }
    }

    /// Kafka's registerControllerAndIncrementControllerEpoch: read the epoch (creating it at 0),
    /// then create /controller and set epoch+1 at the version read, all or nothing.
    func tryToElect() async throws -> Bool {
        let current = try await readEpoch()
        let registration = ControllerRegistration(brokerid: brokerId, timestamp: String(Int64(Date().timeIntervalSince1970 * 1000)))
        do {
            let results = try await client.multi([
                .create(path: KafkaPaths.controller, data: KafkaJSON.encode(registration), mode: .ephemeral),
                .setData(path: KafkaPaths.controllerEpoch, data: Array(String(current.epoch + 1).utf8), version: current.zkVersion),
            ])
            guard case .dataSet(let stat) = results[1] else { throw DemoFailure("the epoch bump returned \(results[1])") }
            epoch = current.epoch + 1
            epochZkVersion = stat.version
            say("broker \(brokerId) is controller with epoch \(current.epoch + 1) (/controller_epoch at version \(stat.version))")
            return true
        } catch let error as ZooKeeperError where error.code == .nodeExists || error.code == .badVersion {
            say("broker \(brokerId) lost the controller election (\(error.code)); it watches /controller")
            return false
        }
    }

    func readEpoch() async throws -> (epoch: Int, zkVersion: Int32) {
        while true {
            do {
                let (data, stat) = try await client.getData(KafkaPaths.controllerEpoch)
                guard let epoch = Int(String(decoding: data ?? [], as: UTF8.self)) else { throw DemoFailure("/controller_epoch is not a number") }
                return (epoch, stat.version)
            } catch let error as ZooKeeperError where error.code == .noNode {
                do {
                    try await client.create(KafkaPaths.controllerEpoch, data: Array("0".utf8))
                } catch {
                    if error.code != .nodeExists { throw error }
                }
            }
        }
    }

    /// Loads the topics and partition states, then handles every change of the live brokers.
    private func becomeController() async throws {
        try await loadState()
        let view = GroupMembership(client: client, path: KafkaPaths.brokerIds).view()
        watching = Task { [weak self] in
            do {
                for try await members in view {
                    guard let self else { return }
                    try await self.brokersChanged(Set(members.compactMap { Int($0) }))
                }
            } catch {}
        }
    }

    func loadState() async throws {
        assignments = [:]
        states = [:]
        let topics = (try? await client.getChildren(KafkaPaths.topics)) ?? []
        for topic in topics.sorted() {
            let (data, _) = try await client.getData(KafkaPaths.topic(topic))
            let assignment = try KafkaJSON.decode(TopicAssignment.self, data, at: KafkaPaths.topic(topic))
            assignments[topic] = assignment
            for key in assignment.partitions.keys {
                guard let partition = Int(key) else { continue }
                let path = KafkaPaths.state(topic, partition)
                let (stateData, stat) = try await client.getData(path)
                states[TopicPartition(topic: topic, partition: partition)] = (try KafkaJSON.decode(PartitionState.self, stateData, at: path), stat.version)
            }
        }
    }

    /// Every controller write: the epoch check first, then the change.
    func fencedWrite(_ operations: [ZooKeeperOperation]) async throws -> [OperationResult] {
        let written = await outcome { () throws(ZooKeeperError) in
            try await client.multi([.check(path: KafkaPaths.controllerEpoch, version: epochZkVersion)] + operations)
        }
        switch written {
        case .success(let results):
            return results
        case .failure(let error) where error.multiResults.first == .error(.badVersion):
            fenced = true
            say("broker \(brokerId)'s write was refused: /controller_epoch is past its epoch \(epoch ?? 0); it is no longer controller")
            throw ControllerMoved()
        case .failure(let error):
            throw error
        }
    }

    private func outcome<T>(_ body: () async throws(ZooKeeperError) -> T) async -> Result<T, ZooKeeperError> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    /// Creates a topic: the assignment (replicas round-robin over the live brokers) and each
    /// partition's first state (leader: the first replica; ISR: all replicas).
    func createTopic(_ topic: String, partitions: Int, replicationFactor: Int, liveBrokers: [Int]) async throws {
        guard let epoch else { throw ControllerMoved() }
        let brokers = liveBrokers.sorted()
        var assignment = TopicAssignment(partitions: [:], topicId: KafkaJSON.topicId())
        for partition in 0..<partitions {
            assignment.partitions[String(partition)] = (0..<replicationFactor).map { brokers[(partition + $0) % brokers.count] }
        }
        var operations: [ZooKeeperOperation] = [
            .create(path: KafkaPaths.topic(topic), data: KafkaJSON.encode(assignment)),
            .create(path: KafkaPaths.partitions(topic), data: nil),
        ]
        var created: [TopicPartition: PartitionState] = [:]
        for partition in 0..<partitions {
            let replicas = assignment.replicas(of: partition)
            let state = PartitionState(controllerEpoch: epoch, leader: replicas[0], leaderEpoch: 0, isr: replicas)
            created[TopicPartition(topic: topic, partition: partition)] = state
            operations += [
                .create(path: KafkaPaths.partition(topic, partition), data: nil),
                .create(path: KafkaPaths.state(topic, partition), data: KafkaJSON.encode(state)),
            ]
        }
        _ = try await fencedWrite(operations)
        assignments[topic] = assignment
        for (key, state) in created { states[key] = (state, 0) }
        say("controller \(brokerId) created topic \(topic): \(partitions) partitions, replicas \(assignment.partitions.sorted { Int($0.key)! < Int($1.key)! }.map { "\($0.key)→\($0.value)" }.joined(separator: " "))")
    }

    /// Kafka's reaction to brokers going: each partition whose leader went elects the first live
    /// replica of its ISR; each whose ISR lost a broker shrinks it; either bumps the leader epoch.
    func brokersChanged(_ live: Set<Int>) async throws {
        guard isActive, !paused else { return }
        for key in states.keys.sorted() {
            guard let (state, zkVersion) = states[key] else { continue }
            let isr = state.isr.filter { live.contains($0) }
            guard isr != state.isr || !live.contains(state.leader) && state.leader != PartitionState.noLeader else { continue }
            let replicas = assignments[key.topic]?.replicas(of: key.partition) ?? state.isr
            let leader = live.contains(state.leader) && isr.contains(state.leader)
                ? state.leader : replicas.first(where: { isr.contains($0) }) ?? PartitionState.noLeader
            let next = PartitionState(controllerEpoch: epoch ?? 0, leader: leader, leaderEpoch: state.leaderEpoch + 1, isr: isr.isEmpty ? state.isr : isr)
            try await writeState(key, next, expecting: zkVersion)
            say("controller \(brokerId): \(key) leader \(state.leader) → \(leader), ISR \(state.isr) → \(next.isr), leader epoch \(next.leaderEpoch)")
        }
    }

    /// Writes a partition's state at the version this controller last saw.
    func writeState(_ key: TopicPartition, _ state: PartitionState, expecting zkVersion: Int32) async throws {
        let results = try await fencedWrite([.setData(path: KafkaPaths.state(key.topic, key.partition), data: KafkaJSON.encode(state), version: zkVersion)])
        guard case .dataSet(let stat) = results[1] else { throw DemoFailure("setData of \(key) returned \(results[1])") }
        states[key] = (state, stat.version)
    }

    /// Stops acting (as in a long pause); the scenario then ends its session behind its back.
    func pause() {
        paused = true
        watching?.cancel()
    }

    /// Back from the pause on a new session (its old one expired meanwhile), still believing it
    /// controls with its old epoch: it acts on its stale view, writing each partition's state as
    /// it last knew it with a bumped leader epoch. Returns how many writes it tried and how many
    /// were refused; a refusal by the epoch check stops it, as Kafka's controller resigns.
    func resumeStale(on newClient: PaddockClient) async -> (tried: Int, refused: Int) {
        client = newClient
        paused = false
        var tried = 0, refused = 0
        for key in states.keys.sorted() {
            guard let (state, zkVersion) = states[key] else { continue }
            var stale = state
            stale.leaderEpoch += 1
            tried += 1
            do {
                try await writeState(key, stale, expecting: zkVersion)
            } catch {
                refused += 1
                if error is ControllerMoved { break }
            }
        }
        return (tried, refused)
    }
}
