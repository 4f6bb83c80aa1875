import HeapModule
import ZKBase
import ZKPipeline
import ZKTree
import ZKZab

/// ZKSim: a whole ensemble of real `ZabNode` cores in one thread, driven by a seeded event
/// queue ordered by (time, sequence). The network delays, drops, duplicates and reorders
/// election messages; quorum links are FIFO streams that can be cut; members crash (losing what
/// their simulated disk had not synced), pause and restart; partitions are symmetric or one-way;
/// disks are slow at times; members' clocks drift. After every event the simulator checks its
/// invariants; then it heals everything and requires the ensemble to converge.
/// The same seed replays the same run exactly.
public final class Simulation {
    struct Event: Comparable {
        var time: Int64
        var sequence: Int
        var kind: EventKind
        static func < (left: Event, right: Event) -> Bool {
            (left.time, left.sequence) < (right.time, right.sequence)
        }
        static func == (left: Event, right: Event) -> Bool { left.time == right.time && left.sequence == right.sequence }
    }

    enum EventKind {
        case tick(ServerID, incarnation: Int)
        /// An election frame's bytes (the real codec's output).
        case election(from: ServerID, to: ServerID, [UInt8])
        case connect(from: ServerID, LinkID, to: ServerID, incarnation: Int)
        /// One message's bytes on a quorum link (a packet, and after SNAP the snapshot stream).
        case deliver(link: Int, side: Int, sequence: Int, [UInt8])
        case linkClosed(ServerID, LinkID, incarnation: Int)
        case diskDone(ServerID, incarnation: Int)
        case resume(ServerID)
        /// Keeps time moving (fault draws, client writes) even when every member is down.
        case clock
        /// A crash aimed at a window (right after a learner takes a new epoch, or a leader is established).
        case crash(ServerID, incarnation: Int)
    }

    struct StateMachine {
        var appliedCount = 0
        var appliedZxid = Zxid.zero
        var digest: UInt64 = 0
    }

    struct Disk {
        var acceptedEpoch: Int64 = 0
        var currentEpoch: Int64 = 0
        var snapshot = StateMachine()
        /// The tree of `snapshot` (server layer): what a restart starts from.
        var tree = DataTree()
        var entries: [ZabEntry] = []
        /// Appends not yet durable, each with the time its write completes (in order).
        var pending: [(entries: [ZabEntry], doneAt: Int64)] = []
    }

    struct Member {
        var id: ServerID
        var isVoter: Bool
        var up = true
        var pausedUntil: Int64?
        var incarnation = 0
        var zab: ZabNode?
        var disk = Disk()
        var machine = StateMachine()
        /// The request pipeline above the ZAB core (server layer).
        var server: ServerCore?
        var tickPeriod: Int64
        var links: [LinkID: Int] = [:]
        var lastRole: ZabRole = .looking
    }

    struct Link {
        var ends: [(member: ServerID, link: LinkID)]
        var open = true
        var lastArrival: [Int64] = [0, 0]
        /// Per direction: the next message number to send and to deliver (TCP: in order, never lost
        /// while the connection is up).
        var sent: [Int] = [0, 0]
        var delivered: [Int] = [0, 0]
        /// The incarnation of each end when the link opened (a restarted process has new sockets).
        var incarnations: [Int] = [0, 0]
        /// Set when this member closed the link gracefully: its bytes in flight still arrive.
        var drainFrom: ServerID?
        var rules = WireRules()
    }

    /// What an Apache ZooKeeper 3.8.0 peer at the other end would insist on (docs/QUORUM-PROTOCOL.md
    /// sections 5-6), tracked per link so a Paddock-only simulation still keeps to it.
    struct WireRules {
        var leaderInfoSent = false
        var syncModeSent = false
        var newLeaderSent = false
        var upToDateSent = false
        /// Proposals sent on this link and not yet committed on it, oldest first.
        var uncommitted: [Zxid] = []
        var newLeaderAcknowledged = false
    }

    let options: SimulationOptions
    var random: SeededGenerator
    var queue = Heap<Event>()
    var sequence = 0
    var now: Int64 = 0
    var members: [ServerID: Member] = [:]
    var memberIds: [ServerID] = []
    var links: [Link] = []
    var nextInboundLink: UInt64 = 1
    /// Directed pairs that cannot talk (partitions, one-way cuts).
    var blocked: Set<[ServerID]> = []
    var healed = false
    var dropProbability: Double

    // Checker state.
    var committed: [ZabEntry] = []
    var committedDigests: [UInt64] = []
    var committedIndex: [Zxid: Int] = [:]
    var acknowledged: [Zxid: [UInt8]] = [:]
    var pendingWrites: [[UInt8]: (member: ServerID, incarnation: Int)] = [:]
    var leadersByEpoch: [Int64: ServerID] = [:]
    var writeCounter = 0
    /// Writes submitted after healing: one of them must be acknowledged (a lone probe could be
    /// lost with a leader that steps down, which is allowed).
    var probeWrites: Set<[UInt8]> = []
    var probeAcknowledged = false
    // Server layer state (Simulation+Server).
    var clients: [Client] = []
    var nextConnection: ConnectionID = 0
    var acknowledgedPaths: [String] = []
    /// The tree behind each snapshot stream sent after SNAP (the stream itself carries the
    /// simulated state machine; the omniscient simulator hands the tree over beside it).
    var sentSnapshotTrees: [[UInt8]: DataTree] = [:]
    /// Syncs in flight: where they were asked and the newest write acknowledged before them (in
    /// an epoch no later than that member's), which must be applied there when the sync returns.
    var syncChecks: [Int32: (member: ServerID, incarnation: Int, required: Zxid)] = [:]
    var syncCounter: Int32 = 0
    var probeSyncDone = false
    var report: SimulationReport
    var failure: String?

    public init(options: SimulationOptions) {
        self.options = options
        self.random = SeededGenerator(seed: options.seed)
        self.report = SimulationReport(options: options)
        self.dropProbability = options.dropProbability
        let voters = (1...options.voters).map { ServerID($0) }
        let observers = (0..<options.observers).map { ServerID(options.voters + 1 + $0) }
        memberIds = voters + observers
        for id in memberIds {
            let drift = Int64.random(in: -1...1, using: &random)
            members[id] = Member(id: id, isVoter: voters.contains(id), tickPeriod: options.stepsPerTick + drift)
        }
        self.voterIds = voters
        self.observerIds = observers
    }

    let voterIds: [ServerID]
    let observerIds: [ServerID]

    public static func run(_ options: SimulationOptions) -> SimulationReport {
        Simulation(options: options).run()
    }

    public func run() -> SimulationReport {
        for id in memberIds { boot(id) }
        schedule(.clock, at: options.stepsPerTick)
        let faultEnd = options.faultSteps
        let end = options.faultSteps + options.livenessSteps
        while failure == nil {
            guard let event = queue.popMin() else { break }
            if !healed && event.time >= faultEnd { heal() }
            if event.time > end { break }
            now = event.time
            maybeInjectFaultsAndWrites(until: event.time)
            if report.events > options.eventsMax - 40 { trace("event \(event.kind)") }
            process(event.kind)
            report.events += 1
            if report.events > options.eventsMax {
                fail("more than \(options.eventsMax) events: a message storm or a livelock (\(statusLine()))")
            }
            if failure == nil && healed && now % 50 == 0 { checkConverged() }
            if converged { break }
        }
        if failure == nil && !converged {
            fail("no convergence within \(options.livenessSteps) steps after healing: \(statusLine())")
        }
        if failure == nil { finalChecks() }
        report.steps = now
        report.failure = failure
        report.committedTxns = committed.count
        report.writesAcknowledged = acknowledged.count
        report.epochs = leadersByEpoch.count
        return report
    }

    var converged = false
    var lastFaultDraw: Int64 = 0

    // MARK: - Scheduling

    func schedule(_ kind: EventKind, at time: Int64) {
        sequence += 1
        queue.insert(Event(time: time, sequence: sequence, kind: kind))
    }

    func delay() -> Int64 { Int64.random(in: 1...max(1, options.delayStepsMax), using: &random) }

    func chance(_ probability: Double) -> Bool {
        probability > 0 && Double.random(in: 0..<1, using: &random) < probability
    }

    func canTalk(_ from: ServerID, _ to: ServerID) -> Bool {
        (members[from]?.up ?? false) && (members[to]?.up ?? false) && !blocked.contains([from, to])
    }

    // MARK: - Members

    func boot(_ id: ServerID) {
        guard var member = members[id] else { return }
        member.up = true
        member.pausedUntil = nil
        member.incarnation += 1
        member.links = [:]
        let configuration = ZabConfiguration(
            myId: id, voters: voterIds, observers: observerIds, initLimitTicks: 40, syncLimitTicks: 20,
            pingIntervalTicks: 3, electionFinalizeTicks: 2, electionResendTicksMin: 2, electionResendTicksMax: 64,
            limits: ZabLimits(proposalsInFlightMax: 1000, committedEntriesKeptMax: options.committedEntriesKeptMax),
            injectedBugs: options.injectedBugs)
        let disk = member.disk
        member.machine = disk.snapshot
        let persistent = ZabPersistentState(
            acceptedEpoch: disk.acceptedEpoch, currentEpoch: disk.currentEpoch, logBase: disk.snapshot.appliedZxid,
            entries: disk.entries)
        var zab = ZabNode(configuration: configuration, persistent: persistent)
        let actions = zab.start()
        member.zab = zab
        member.lastRole = .looking
        members[id] = member
        bootServer(id)
        trace("\(id) boots (incarnation \(member.incarnation)): epochs \(disk.acceptedEpoch)/\(disk.currentEpoch), log through \(zab.lastLoggedZxid), snapshot \(disk.snapshot.appliedZxid)")
        perform(id, actions)
        schedule(.tick(id, incarnation: member.incarnation), at: now + member.tickPeriod)
    }

    func crash(_ id: ServerID) {
        guard var member = members[id], member.up else { return }
        member.up = false
        member.zab = nil
        member.server = nil
        clients.removeAll { $0.member == id }
        // Writes the process never heard complete may still have reached the disk, in order.
        while let first = member.disk.pending.first, chance(0.5) {
            member.disk.pending.removeFirst()
            member.disk.entries.append(contentsOf: first.entries)
        }
        member.disk.pending.removeAll()
        let open = member.links
        member.links = [:]
        members[id] = member
        report.crashes += 1
        trace("\(id) crashes (unsynced appends lost; durable log through \(member.disk.entries.last?.zxid ?? member.disk.snapshot.appliedZxid))")
        for (_, index) in open.sorted(by: { $0.key < $1.key }) { closeLink(index, from: id) }
    }

    /// Gives an input to a member's core and carries out what it asks.
    func deliver(_ id: ServerID, _ input: ZabInput) {
        guard var member = members[id], member.up, var zab = member.zab else { return }
        member.zab = nil
        members[id] = member
        let actions = zab.handle(input)
        zab.checkInvariants()
        members[id]!.zab = zab
        perform(id, actions)
    }

    // MARK: - Faults, clients and healing

    func maybeInjectFaultsAndWrites(until time: Int64) {
        while lastFaultDraw < time && failure == nil {
            lastFaultDraw += 1
            if !healed { drawFaults() }
            if chance(options.writeProbability / Double(options.stepsPerTick)) { submitWrite() }
            if chance(options.writeProbability / Double(options.stepsPerTick) / 4) { submitSync() }
        }
    }

    func drawFaults() {
        if chance(options.crashProbability) {
            let id = memberIds.randomElement(using: &random)!
            if members[id]!.up { crash(id) } else { boot(id) }
        }
        if chance(options.crashProbability * 2) {
            // Restart a crashed member now and then, so crashes do not pile up forever.
            if let id = memberIds.filter({ !members[$0]!.up }).randomElement(using: &random) { boot(id) }
        }
        if chance(options.pauseProbability) {
            let id = memberIds.randomElement(using: &random)!
            if members[id]!.up && members[id]!.pausedUntil == nil {
                let until = now + Int64.random(in: 20...600, using: &random)
                members[id]!.pausedUntil = until
                trace("\(id) paused until \(until)")
                schedule(.resume(id), at: until)
            }
        }
        if chance(options.partitionProbability) { partition() }
        if chance(options.partitionProbability) && !blocked.isEmpty {
            blocked.removeAll()
            trace("partitions healed")
        }
        if chance(options.linkCutProbability) { cutRandomLink() }
    }

    func partition() {
        let shuffled = memberIds.shuffled(using: &random)
        let cut = Int.random(in: 1..<shuffled.count, using: &random)
        let side = Set(shuffled[..<cut])
        let oneWay = chance(0.3)
        blocked.removeAll()
        for a in memberIds where side.contains(a) {
            for b in memberIds where !side.contains(b) {
                blocked.insert([a, b])
                if !oneWay { blocked.insert([b, a]) }
            }
        }
        trace("partition \(side.sorted()) | rest\(oneWay ? " (one-way: the first side cannot send)" : "")")
        // Connections across the cut stay open, as TCP's do: their bytes wait (see `.deliver`)
        // until the route is back or a member's own timeout closes the connection.
    }

    func cutRandomLink() {
        let open = links.indices.filter { links[$0].open }
        guard let index = open.randomElement(using: &random) else { return }
        trace("cut link \(links[index].ends[0].member)-\(links[index].ends[1].member)")
        closeLink(index, from: nil)
    }

    func heal() {
        healed = true
        blocked.removeAll()
        dropProbability = 0
        trace("HEAL: partitions removed, crashed members restart, paused members resume")
        for id in memberIds {
            if !members[id]!.up { boot(id) }
            if members[id]!.pausedUntil != nil {
                members[id]!.pausedUntil = nil
                schedule(.resume(id), at: now + 1)
            }
        }
    }

    func submitWrite() {
        if options.serverLayer { return submitClientWrite() }
        let leaders = memberIds.filter {
            if case .leading(_, true)? = members[$0]!.zab?.role { return members[$0]!.pausedUntil == nil }
            return false
        }
        guard let id = leaders.randomElement(using: &random) else { return }
        writeCounter += 1
        let payload = Array("w\(writeCounter)".utf8)
        pendingWrites[payload] = (id, members[id]!.incarnation)
        if healed { probeWrites.insert(payload) }
        deliver(id, .write(payload: payload))
    }

    /// A client's `sync` at a serving member; `syncDone` checks it saw every earlier acknowledged write.
    func submitSync() {
        let serving = memberIds.filter { members[$0]!.zab?.isServing == true && members[$0]!.pausedUntil == nil }
        guard let id = serving.randomElement(using: &random), let zab = members[id]!.zab else { return }
        syncCounter += 1
        let epoch = zab.currentEpoch
        let required = acknowledged.keys.filter { $0.epoch <= epoch }.max() ?? .zero
        syncChecks[syncCounter] = (id, members[id]!.incarnation, required)
        deliver(id, .touch(SessionTouch(sessionId: id << 32 | Int64(syncCounter), timeoutMs: 4000)))
        deliver(id, .revalidate(SessionTouch(sessionId: id << 32 | Int64(syncCounter), timeoutMs: 4000)))
        deliver(id, .request(ForwardedRequest(sessionId: id, cxid: syncCounter, type: ForwardedRequest.syncOpCode)))
    }

    func syncDone(_ id: ServerID, _ request: ForwardedRequest) {
        guard let check = syncChecks.removeValue(forKey: request.cxid) else {
            return fail("\(id) completed a sync nobody asked for")
        }
        guard check.member == id, check.incarnation == members[id]!.incarnation else { return }
        let applied = members[id]!.machine.appliedZxid
        guard applied >= check.required else {
            return fail("sync at \(id) returned at \(applied), before \(check.required) acknowledged ahead of it")
        }
        report.syncsCompleted += 1
        if healed { probeSyncDone = true }
    }

    // MARK: - Trace and failure

    func trace(_ line: String) {
        report.trace.append("[\(now)] \(line)")
        if report.trace.count > 80 { report.trace.removeFirst(report.trace.count - 80) }
    }

    func fail(_ message: String) {
        guard failure == nil else { return }
        failure = message
        trace("FAILURE: \(message)")
    }

    func statusLine() -> String {
        memberIds.map { id in
            let member = members[id]!
            guard member.up, let zab = member.zab else { return "\(id): down" }
            let election = zab.role == .looking ? " (\(zab.electionSummary))" : ""
            return "\(id): \(zab.role) applied \(zab.appliedZxid) logged \(zab.lastLoggedZxid)\(member.pausedUntil != nil ? " paused" : "")\(election)"
        }.joined(separator: "; ")
    }
}
