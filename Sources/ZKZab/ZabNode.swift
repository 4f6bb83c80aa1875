import DequeModule
import ZKBase

/// What a member keeps on disk for ZAB: its epochs and its log. `logBase` is a zxid the member's
/// history is known to contain (its snapshot point, or where older entries were dropped); `entries`
/// follow it without gaps in order. The state machine has applied everything through
/// `appliedZxid` (at least `logBase`, at most the last entry).
public struct ZabPersistentState: Sendable, Equatable {
    public var acceptedEpoch: Int64
    public var currentEpoch: Int64
    public var logBase: Zxid
    public var appliedZxid: Zxid
    public var entries: [ZabEntry]

    public init(acceptedEpoch: Int64 = 0, currentEpoch: Int64 = 0, logBase: Zxid = .zero, appliedZxid: Zxid? = nil, entries: [ZabEntry] = []) {
        self.acceptedEpoch = acceptedEpoch
        self.currentEpoch = currentEpoch
        self.logBase = logBase
        self.appliedZxid = appliedZxid ?? logBase
        self.entries = entries
    }
}

/// The ZAB protocol of one member as a value (Junqueira, Reed, Serafini, DSN 2011, as Apache
/// ZooKeeper 3.8 implements it): fast leader election, discovery (FOLLOWERINFO, LEADERINFO,
/// ACKEPOCH), synchronization (DIFF, TRUNC, SNAP, NEWLEADER, UPTODATE) and broadcast (PROPOSAL,
/// ACK, COMMIT, INFORM, PING). `handle` takes one input and returns what the shell must do, in
/// order; it does no I/O and reads no clock (time is `.tick`).
///
/// Durability rules kept here (the ones ZooKeeper's sync-phase bugs broke):
/// - a learner ACKs NEWLEADER, and records the new current epoch, only once every txn of the
///   sync is durable (ZOOKEEPER-3911, -4646, -4685);
/// - a follower ACKs a proposal only once it is durable; the leader counts itself the same way;
/// - a txn is applied only once committed: a learner applies nothing before UPTODATE and then
///   only up to the commit point the leader gave (DIFF/TRUNC/SNAP zxid and COMMITs);
/// - a learner whose log diverged is cut back (TRUNC) to the last zxid both hold, never DIFFed
///   past the divergence (ZOOKEEPER-4785).
public struct ZabNode: Sendable {
    public static let outboundLinkBit: UInt64 = 1 << 63
    /// The quorum protocol version ZooKeeper 3.8 sends in FOLLOWERINFO and LEADERINFO (0x10000).
    public static let protocolVersion: Int32 = 0x10000

    public let configuration: ZabConfiguration
    public internal(set) var acceptedEpoch: Int64
    public internal(set) var currentEpoch: Int64
    /// Entries held in memory, after `logBase`, in zxid order (durable through `persistedZxid`).
    public internal(set) var logBase: Zxid
    /// A deque: entries leave from the front as they are applied (beyond what DIFF keeps) and
    /// arrive at the back, thousands a second, with thousands more outstanding between.
    public internal(set) var entries: Deque<ZabEntry>
    public internal(set) var persistedZxid: Zxid
    public internal(set) var appliedZxid: Zxid
    public internal(set) var tickCount: Int64 = 0
    /// FastLeaderElection's logical clock: the election round.
    public internal(set) var electionRound: Int64 = 0
    /// The vote this member settled on in its last election, and that round.
    public internal(set) var settledVote: Vote?
    var settledRound: Int64 = 0
    var state: RoleState
    var nextLinkNumber: UInt64 = 1
    var actions: [ZabAction] = []

    enum RoleState: Sendable {
        case looking(ElectionState)
        case leading(LeaderState)
        case learning(LearnerState)
    }

    public init(configuration: ZabConfiguration, persistent: ZabPersistentState) {
        precondition(persistent.currentEpoch <= persistent.acceptedEpoch, "currentEpoch is past acceptedEpoch")
        precondition(persistent.appliedZxid >= persistent.logBase, "applied point before the log base")
        self.configuration = configuration
        self.acceptedEpoch = persistent.acceptedEpoch
        self.currentEpoch = persistent.currentEpoch
        self.logBase = persistent.logBase
        self.entries = Deque(persistent.entries)
        self.appliedZxid = persistent.appliedZxid
        self.persistedZxid = persistent.entries.last?.zxid ?? persistent.logBase
        self.state = .looking(ElectionState(proposal: nil, resendInterval: configuration.electionResendTicksMin))
        precondition(appliedZxid <= lastLoggedZxid, "applied point past the log")
        checkInvariants()
    }

    /// The shell calls this once after creating the node: it starts the first election.
    public mutating func start() -> [ZabAction] {
        startElection()
        return takeActions()
    }

    public var lastLoggedZxid: Zxid { entries.last?.zxid ?? logBase }

    public var role: ZabRole {
        switch state {
        case .looking: return .looking
        case .leading(let leader): return .leading(epoch: leader.newEpoch ?? acceptedEpoch, established: leader.phase == .broadcast)
        case .learning(let learner):
            return learner.observer
                ? .observing(leader: learner.leader, established: learner.stage == .broadcast)
                : .following(leader: learner.leader, established: learner.stage == .broadcast)
        }
    }

    /// True when this member serves clients: an established leader, or a learner past UPTODATE.
    public var isServing: Bool {
        switch role {
        case .looking: return false
        case .leading(_, let established), .following(_, let established), .observing(_, let established): return established
        }
    }

    /// The committed entry with this zxid, if still held in memory (the shell applies from these).
    public func entry(_ zxid: Zxid) -> ZabEntry? {
        guard let index = index(of: zxid) else { return nil }
        return entries[index]
    }

    /// Entries with zxid in (after, through], in order.
    public func entries(after: Zxid, through: Zxid) -> Slice<Deque<ZabEntry>> {
        let start = firstIndex(after: after)
        let end = firstIndex(after: through)
        return start <= end ? entries[start..<end] : entries[start..<start]
    }

    /// The index of the first entry with a zxid above `zxid` (binary search: entries are in
    /// zxid order), or the end index.
    func firstIndex(after zxid: Zxid) -> Int {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].zxid > zxid { high = middle } else { low = middle + 1 }
        }
        return low
    }

    func index(of zxid: Zxid) -> Int? {
        var low = 0
        var high = entries.count - 1
        while low <= high {
            let middle = (low + high) / 2
            let found = entries[middle].zxid
            if found == zxid { return middle }
            if found < zxid { low = middle + 1 } else { high = middle - 1 }
        }
        return nil
    }

    // MARK: - Inputs

    public mutating func handle(_ input: ZabInput) -> [ZabAction] {
        switch input {
        case .tick:
            tickCount += 1
            onTick()
        case .election(let notification):
            onElectionNotification(notification)
        case .linkOpened(let link):
            if case .learning = state { learnerLinkOpened(link) } else { actions.append(.close(link, reason: "not learning")) }
        case .linkAccepted(let link):
            if case .leading = state { leaderAccepted(link) } else { actions.append(.close(link, reason: "not leading")) }
        case .received(let link, let message):
            onMessage(link, message)
        case .linkClosed(let link):
            onLinkClosed(link)
        case .persisted(let zxid):
            onPersisted(zxid)
        case .write(let payload):
            onWrite(payload, expected: nil)
        case .propose(let entry):
            onWrite(entry.payload, expected: entry.zxid)
        case .stepDown(let reason):
            goLooking(reason: reason)
        case .request(let request):
            onRequest(request)
        case .revalidate(let touch):
            switch state {
            case .leading(let leader) where leader.phase == .broadcast:
                actions.append(.revalidateSession(touch, link: nil, from: configuration.myId))
            case .learning(let learner) where learner.stage == .broadcast
                && (learner.pendingRevalidations.count < configuration.limits.touchedSessionsMax):
                withLearner { $0.pendingRevalidations.insert(touch.sessionId) }
                actions.append(.send(learner.link, .revalidate(touch)))
            default:
                actions.append(.revalidationDone(sessionId: touch.sessionId, valid: nil))
            }
        case .revalidationAnswer(let link, let sessionId, let valid):
            guard case .leading = state else { break }
            if let link {
                if leaderState?.learners[link] != nil { actions.append(.send(link, .revalidated(sessionId: sessionId, valid: valid))) }
            } else {
                actions.append(.revalidationDone(sessionId: sessionId, valid: valid))
            }
        case .touch(let touch):
            switch state {
            case .learning(let learner) where learner.touched.count < configuration.limits.touchedSessionsMax || learner.touched[touch.sessionId] != nil:
                withLearner { $0.touched[touch.sessionId] = touch.timeoutMs }
            case .leading:
                actions.append(.sessionsTouched([touch], from: configuration.myId))
            default:
                break
            }
        }
        return takeActions()
    }

    mutating func takeActions() -> [ZabAction] {
        let taken = actions
        actions.removeAll(keepingCapacity: true)
        return taken
    }

    mutating func onTick() {
        switch state {
        case .looking: electionTick()
        case .leading: leaderTick()
        case .learning: learnerTick()
        }
    }

    mutating func onMessage(_ link: LinkID, _ message: ZabMessage) {
        switch state {
        case .looking: actions.append(.close(link, reason: "message while looking"))
        case .leading: leaderReceived(link, message)
        case .learning: learnerReceived(link, message)
        }
    }

    mutating func onLinkClosed(_ link: LinkID) {
        switch state {
        case .looking: break
        case .leading: leaderLinkClosed(link)
        case .learning(let learner):
            guard learner.link == link else { return }
            if learner.stage == .connecting {
                // Learner.connectToLeader retries: the leader may not be listening yet. The
                // initLimit deadline still sends us back to election if it never is.
                let retryAt = tickCount + Int64(configuration.learnerConnectRetryTicks)
                withLearner { $0.retryConnectAt = retryAt }
            } else {
                goLooking(reason: "connection to leader \(learner.leader) closed")
            }
        }
    }

    mutating func onPersisted(_ zxid: Zxid) {
        // A report for entries since cut away by a TRUNC only confirms what is still there.
        let durable = min(zxid, lastLoggedZxid)
        guard durable > persistedZxid else { return }
        persistedZxid = durable
        switch state {
        case .looking: break
        case .leading: leaderPersisted()
        case .learning: learnerPersisted()
        }
    }

    // MARK: - Shared helpers

    mutating func newOutboundLink() -> LinkID {
        defer { nextLinkNumber += 1 }
        return LinkID(ZabNode.outboundLinkBit | nextLinkNumber)
    }

    mutating func appendEntries(_ new: [ZabEntry]) {
        guard !new.isEmpty else { return }
        var previous = lastLoggedZxid
        for entry in new {
            precondition(entry.zxid > previous, "log append out of order: \(entry.zxid) after \(previous)")
            previous = entry.zxid
        }
        entries.append(contentsOf: new)
        actions.append(.appendLog(new))
    }

    /// Applies committed entries through `zxid` and drops what DIFF no longer needs.
    mutating func apply(through zxid: Zxid) {
        let target = min(zxid, lastLoggedZxid)
        guard target > appliedZxid else { return }
        actions.append(.apply(Array(entries(after: appliedZxid, through: target))))
        appliedZxid = target
        let applied = firstIndex(after: appliedZxid)
        let surplus = applied - configuration.limits.committedEntriesKeptMax
        if surplus > 0 {
            logBase = entries[surplus - 1].zxid
            entries.removeFirst(surplus)
        }
    }

    mutating func saveEpochs(accepted: Int64, current: Int64) {
        precondition(accepted >= acceptedEpoch && current >= currentEpoch && current <= accepted,
                     "epochs only move forward: accepted \(acceptedEpoch)->\(accepted), current \(currentEpoch)->\(current)")
        acceptedEpoch = accepted
        currentEpoch = current
        actions.append(.saveEpochs(accepted: accepted, current: current))
    }

    /// A client request that needs the leader (REQUEST forwarding and `sync`).
    mutating func onRequest(_ request: ForwardedRequest) {
        switch state {
        case .leading(let leader) where leader.phase == .broadcast:
            if request.isSync {
                leaderSync(request, link: nil)
            } else {
                actions.append(.prepare(request, from: configuration.myId))
            }
        case .learning(let learner) where learner.stage == .broadcast:
            actions.append(.send(learner.link, .request(request)))
            if request.isSync { withLearner { $0.pendingSyncs.append(request) } }
        default:
            actions.append(.requestRefused(request, reason: "no established leader"))
        }
    }

    mutating func goLooking(reason: String) {
        switch state {
        case .looking: return
        case .leading(let leader):
            for link in leader.learners.keys.sorted() { actions.append(.close(link, reason: "leader stepping down: \(reason)")) }
            for sync in leader.pendingSyncs where sync.link == nil {
                actions.append(.requestRefused(sync.request, reason: "leader stepped down: \(reason)"))
            }
        case .learning(let learner):
            actions.append(.close(learner.link, reason: "learner stopping: \(reason)"))
            for request in learner.pendingSyncs {
                actions.append(.requestRefused(request, reason: "left the leader: \(reason)"))
            }
            for sessionId in learner.pendingRevalidations.sorted() {
                actions.append(.revalidationDone(sessionId: sessionId, valid: nil))
            }
        }
        startElection()
    }

    // MARK: - Invariants

    /// Preconditions over the whole value; tests and the simulator call it after every step.
    public func checkInvariants() {
        precondition(currentEpoch <= acceptedEpoch, "currentEpoch \(currentEpoch) > acceptedEpoch \(acceptedEpoch)")
        precondition(logBase <= appliedZxid && appliedZxid <= lastLoggedZxid, "applied \(appliedZxid) outside [\(logBase), \(lastLoggedZxid)]")
        precondition(persistedZxid <= lastLoggedZxid, "persisted past the log")
        var previous = logBase
        for entry in entries {
            precondition(entry.zxid > previous, "log not in zxid order at \(entry.zxid)")
            previous = entry.zxid
        }
        switch state {
        case .looking(let election): election.checkInvariants(round: electionRound)
        case .leading(let leader): leader.checkInvariants(node: self)
        case .learning(let learner): learner.checkInvariants(node: self)
        }
    }
}

/// What the leader knows of its learners, for `mntr` (ZooKeeper's zk_learners,
/// zk_synced_followers, zk_synced_observers, zk_pending_syncs, zk_outstanding proposals).
public struct ZabLeaderStatus: Sendable, Equatable {
    public var learners: Int
    public var syncedFollowers: Int
    public var syncedObservers: Int
    public var pendingSyncs: Int
    public var outstandingProposals: Int
}

extension ZabNode {
    /// Nil unless leading.
    public var leaderStatus: ZabLeaderStatus? {
        guard let leader = leaderState else { return nil }
        let handlers = leader.learners.values
        return ZabLeaderStatus(
            learners: handlers.count,
            syncedFollowers: handlers.filter { !$0.observer && $0.stage == .broadcast }.count,
            syncedObservers: handlers.filter { $0.observer && $0.stage == .broadcast }.count,
            pendingSyncs: leader.pendingSyncs.count,
            outstandingProposals: leader.outstanding.count)
    }
}
