import ZKBase

/// Everything the ZAB core needs to know about the ensemble and its time limits, in ticks of the
/// shell's fixed tick length. The shell derives the tick counts from zoo.cfg (`initLimit` and
/// `syncLimit` are in units of `tickTime`; election waits are in milliseconds).
public struct ZabConfiguration: Sendable {
    public var myId: ServerID
    /// Voting members (`server.N=...:participant`), sorted.
    public var voters: [ServerID]
    /// Non-voting members (`server.N=...:observer`), sorted.
    public var observers: [ServerID]
    /// initLimit: the most a leader waits for a quorum to connect and sync, and a learner for its sync.
    public var initLimitTicks: Int
    /// syncLimit: the most a leader or learner goes without hearing the other side once established.
    public var syncLimitTicks: Int
    /// How often the leader pings its learners (ZooKeeper: half a tickTime).
    public var pingIntervalTicks: Int
    /// How long a learner waits before it tries the leader's quorum port again (the leader may
    /// not listen yet; ZooKeeper's leaderConnectDelayDuringRetryMs, 100 ms). Defaults to
    /// `pingIntervalTicks`.
    public var learnerConnectRetryTicks: Int
    /// FastLeaderElection.finalizeWait (200 ms): how long a quorum for our vote must stand unchallenged.
    public var electionFinalizeTicks: Int
    /// First and largest resend interval of election notifications (200 ms doubling to 60 s).
    public var electionResendTicksMin: Int
    public var electionResendTicksMax: Int
    public var limits: ZabLimits
    /// ZooKeeper's zookeeper.leader.maxTimeToWaitForEpoch, in ticks: a new leader still waiting
    /// for a quorum's FOLLOWERINFO after this long quits when a voter that elected it reports
    /// itself looking (Leader.reportLookingSid). nil (ZooKeeper's default, -1): it waits for initLimit.
    public var epochWaitTicksMax: Int?
    /// Sync-phase bugs of Apache ZooKeeper put back on purpose, so tests can show the simulator
    /// finds them. Always empty outside tests.
    public var injectedBugs: ZabInjectedBugs

    public init(
        myId: ServerID, voters: [ServerID], observers: [ServerID] = [], initLimitTicks: Int = 40,
        syncLimitTicks: Int = 20, pingIntervalTicks: Int = 2, electionFinalizeTicks: Int = 1,
        electionResendTicksMin: Int = 1, electionResendTicksMax: Int = 32, limits: ZabLimits = ZabLimits(),
        injectedBugs: ZabInjectedBugs = [], learnerConnectRetryTicks: Int? = nil
    ) {
        self.learnerConnectRetryTicks = max(1, learnerConnectRetryTicks ?? pingIntervalTicks)
        self.epochWaitTicksMax = nil
        self.myId = myId
        self.voters = voters.sorted()
        self.observers = observers.sorted()
        self.initLimitTicks = initLimitTicks
        self.syncLimitTicks = syncLimitTicks
        self.pingIntervalTicks = pingIntervalTicks
        self.electionFinalizeTicks = electionFinalizeTicks
        self.electionResendTicksMin = electionResendTicksMin
        self.electionResendTicksMax = electionResendTicksMax
        self.limits = limits
        self.injectedBugs = injectedBugs
        precondition(Set(voters).count == voters.count && Set(observers).isDisjoint(with: voters),
                     "a server id is listed twice")
        precondition(voters.contains(myId) || observers.contains(myId), "myid \(myId) is not a server.N of the ensemble")
        precondition(initLimitTicks > 0 && syncLimitTicks > 0 && pingIntervalTicks > 0, "limits must be positive")
        precondition(pingIntervalTicks < syncLimitTicks, "pings must come more often than syncLimit")
        precondition(electionResendTicksMin > 0 && electionResendTicksMin <= electionResendTicksMax)
    }

    public var isVoter: Bool { voters.contains(myId) }
    public var members: [ServerID] { (voters + observers).sorted() }

    /// Majority of the voters (QuorumMaj).
    public func isQuorum<S: Sequence>(_ ids: S) -> Bool where S.Element == ServerID {
        var count = 0
        for id in Set(ids) where voters.contains(id) { count += 1 }
        return count * 2 > voters.count
    }
}

/// Bounds of the ZAB core (STYLE.md: a limit on everything).
public struct ZabLimits: Sendable {
    /// Proposals the leader keeps outstanding before it refuses writes (backpressure).
    public var proposalsInFlightMax: Int = 10_000
    /// Committed entries kept in memory for DIFF syncs (ZooKeeper's commitLogCount is 500);
    /// a learner further behind gets a SNAP.
    public var committedEntriesKeptMax: Int = 500
    /// Learner connections the leader serves at once.
    public var learnersMax: Int = 64
    /// Sessions a learner remembers as touched between two PINGs (one PING reply's worth; the
    /// rest wait for the next, and every live client pings well within its timeout).
    public var touchedSessionsMax: Int = 100_000
    /// Bytes of messages a leader holds for a learner while its snapshot stream is being sent
    /// (they follow the stream); past this the learner is dropped and syncs again. ZooKeeper's
    /// queue is unbounded; 1 GiB holds about 30 s of 1 KiB sets at 33k/s (two messages each),
    /// several times what a million-znode stream takes here (about 4 s).
    public var queuedBehindSnapshotBytesMax: Int = 1 << 30
    /// Nodes read from the tree per part of a snapshot stream (one turn of the event loop).
    public var snapshotPartNodes: Int = 2000

    public init(proposalsInFlightMax: Int = 10_000, committedEntriesKeptMax: Int = 500, learnersMax: Int = 64) {
        precondition(proposalsInFlightMax > 0 && committedEntriesKeptMax > 0 && learnersMax > 0)
        self.proposalsInFlightMax = proposalsInFlightMax
        self.committedEntriesKeptMax = committedEntriesKeptMax
        self.learnersMax = learnersMax
    }
}

/// Apache ZooKeeper sync-phase bugs, each re-created on demand to prove the simulator catches it.
public struct ZabInjectedBugs: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// ZOOKEEPER-4646/-4685: the learner ACKs NEWLEADER before the synced txns are durable.
    public static let ackNewLeaderBeforePersist = ZabInjectedBugs(rawValue: 1 << 0)
    /// ZOOKEEPER-3911: the learner records the new currentEpoch before the synced txns are durable,
    /// so after a crash it claims an epoch whose history it lacks.
    public static let currentEpochBeforeTxnsPersisted = ZabInjectedBugs(rawValue: 1 << 1)
    /// ZOOKEEPER-4785-style DIFF race: the leader sends a DIFF where the learner's log diverged,
    /// instead of TRUNC to the last common zxid.
    public static let diffInsteadOfTrunc = ZabInjectedBugs(rawValue: 1 << 2)
}
