import ZKBase

/// A member's id: the N of `server.N` and of `myid`.
public typealias ServerID = Int64

/// FastLeaderElection's peer states, with ZooKeeper's ordinals (what a notification carries).
public enum PeerState: Int32, Sendable, Equatable, CustomStringConvertible {
    case looking = 0
    case following = 1
    case leading = 2
    case observing = 3

    public var description: String {
        switch self {
        case .looking: return "looking"
        case .following: return "following"
        case .leading: return "leading"
        case .observing: return "observing"
        }
    }
}

/// A vote of fast leader election: who should lead, and that candidate's last zxid and epoch.
public struct Vote: Sendable, Equatable, CustomStringConvertible {
    public var leader: ServerID
    public var zxid: Zxid
    public var peerEpoch: Int64

    public init(leader: ServerID, zxid: Zxid, peerEpoch: Int64) {
        self.leader = leader
        self.zxid = zxid
        self.peerEpoch = peerEpoch
    }

    /// FastLeaderElection.totalOrderPredicate: is `self` a better vote than `other`? Higher epoch,
    /// then higher zxid, then higher server id.
    public func isBetter(than other: Vote) -> Bool {
        if peerEpoch != other.peerEpoch { return peerEpoch > other.peerEpoch }
        if zxid != other.zxid { return zxid > other.zxid }
        return leader > other.leader
    }

    public var description: String { "(\(leader), \(zxid), epoch \(peerEpoch))" }
}

/// One fast-leader-election message (FastLeaderElection.Notification / ToSend): the sender's
/// vote, its election round (`electionEpoch`, the logical clock) and its state.
public struct ElectionNotification: Sendable, Equatable, CustomStringConvertible {
    public var vote: Vote
    public var electionEpoch: Int64
    public var state: PeerState
    public var sender: ServerID

    public init(vote: Vote, electionEpoch: Int64, state: PeerState, sender: ServerID) {
        self.vote = vote
        self.electionEpoch = electionEpoch
        self.state = state
        self.sender = sender
    }

    public var description: String { "notification from \(sender): \(state) round \(electionEpoch) vote \(vote)" }
}

/// A quorum-port connection, named by the shell (accepted ones) or by the core (the ones it asks
/// the shell to open: `ZabNode.outboundLinkBit` is set in those).
public struct LinkID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (left: LinkID, right: LinkID) -> Bool { left.rawValue < right.rawValue }
    public var description: String { "link#\(rawValue & ~ZabNode.outboundLinkBit)\(rawValue & ZabNode.outboundLinkBit != 0 ? "o" : "i")" }
}

/// One replicated txn: its zxid and its bytes (TxnHeader + record + digest in the server; opaque
/// to ZAB).
public struct ZabEntry: Sendable, Equatable {
    public var zxid: Zxid
    public var payload: [UInt8]

    public init(zxid: Zxid, payload: [UInt8]) {
        self.zxid = zxid
        self.payload = payload
    }
}

/// A client request a learner forwards to the leader (REQUEST): writes for the leader's prep
/// stage, and `sync` (ZooKeeper op code 9), which the leader answers with SYNC once everything it
/// had proposed before it is committed.
public struct ForwardedRequest: Sendable, Equatable {
    public static let syncOpCode: Int32 = 9
    public var sessionId: Int64
    public var cxid: Int32
    public var type: Int32
    public var body: [UInt8]
    public var authInfo: [Id]?

    public init(sessionId: Int64, cxid: Int32, type: Int32, body: [UInt8] = [], authInfo: [Id]? = nil) {
        self.sessionId = sessionId
        self.cxid = cxid
        self.type = type
        self.body = body
        self.authInfo = authInfo
    }

    public var isSync: Bool { type == ForwardedRequest.syncOpCode }
}

/// A session a learner's client kept alive: reported to the leader, which owns expiry.
public struct SessionTouch: Sendable, Equatable {
    public var sessionId: Int64
    public var timeoutMs: Int32
    public init(sessionId: Int64, timeoutMs: Int32) {
        self.sessionId = sessionId
        self.timeoutMs = timeoutMs
    }
}

/// The quorum-port messages ZAB exchanges, typed. Each maps to one ZooKeeper 3.8 QuorumPacket
/// (type, zxid, data); `ZabMessage+QuorumPacket` is that mapping.
public enum ZabMessage: Sendable, Equatable {
    /// Learner -> leader: FOLLOWERINFO/OBSERVERINFO with the learner's accepted epoch (as a zxid).
    case learnerInfo(sid: ServerID, acceptedEpoch: Int64, observer: Bool, protocolVersion: Int32)
    /// Leader -> learner: LEADERINFO with the epoch the leader proposes.
    case leaderInfo(newEpoch: Int64, protocolVersion: Int32)
    /// Learner -> leader: ACKEPOCH with the learner's last logged zxid and current epoch (-1 when
    /// it had already accepted this epoch).
    case ackEpoch(lastLoggedZxid: Zxid, currentEpoch: Int64)
    /// Leader -> learner: the sync mode. DIFF's and TRUNC's zxid are the leader's commit point
    /// for this learner (TRUNC: also where to cut the log).
    case diff(Zxid)
    case trunc(Zxid)
    /// SNAP with the snapshot the leader streams after it (opaque bytes; state through `zxid`).
    case snap(Zxid, snapshot: [UInt8])
    case newLeader(Zxid)
    case ack(Zxid)
    case upToDate
    case proposal(ZabEntry)
    case commit(Zxid)
    /// Leader -> observer: a committed txn.
    case inform(ZabEntry)
    /// The leader's PING has no data (`touches` nil); a learner's reply carries the sessions its
    /// clients kept alive since the last one (an empty list when none).
    case ping(Zxid, touches: [SessionTouch]?)
    /// Learner -> leader: a client request (REQUEST).
    case request(ForwardedRequest)
    /// Leader -> learner: the answer to a forwarded `sync` (SYNC), after the commits before it.
    case sync
    /// Learner -> leader: a client reconnected here with this session (REVALIDATE); is it alive?
    case revalidate(SessionTouch)
    /// Leader -> learner: the answer (REVALIDATE with `long sessionId, boolean valid`).
    case revalidated(sessionId: Int64, valid: Bool)
}

/// Why a leader quit leading, when ZooKeeper counts the reason (the shell counts it too).
public enum ZabQuitLeadingReason: Sendable, Equatable {
    /// A voter whose vote elected this leader is looking again while the leader still waits for a
    /// quorum's FOLLOWERINFO past `epochWaitTicksMax` (ZooKeeper's quit_leading_due_to_disloyal_voter).
    case disloyalVoter(ServerID)
}

/// What the core asks its shell to do, in order. Durable-state actions (`truncateLog`,
/// `saveEpochs`, `installSnapshot`) complete before the next action runs; `appendLog` is
/// asynchronous and reported back with `ZabInput.persisted(through:)`.
public enum ZabAction: Sendable, Equatable {
    case sendElection(to: ServerID, ElectionNotification)
    /// Open a quorum connection to the leader's quorum port; report `linkOpened` or `linkClosed`.
    case connect(LinkID, to: ServerID)
    case send(LinkID, ZabMessage)
    /// Stream a snapshot of the applied state, which is exactly at `through`, after a SNAP.
    case sendSnapshot(LinkID, through: Zxid)
    /// Close a quorum link; `reason` is for the log (a peer that broke the protocol, a timeout).
    case close(LinkID, reason: String)
    case appendLog([ZabEntry])
    /// Remove every log record after `zxid` (durable before the next action).
    case truncateLog(after: Zxid)
    case saveEpochs(accepted: Int64, current: Int64)
    /// Replace the state machine and the log with a received snapshot (durable before the next action).
    case installSnapshot(Zxid, snapshot: [UInt8])
    /// Apply these committed txns to the state machine, in order (the next ones after the last applied).
    case apply([ZabEntry])
    case roleChanged(ZabRole)
    /// A client write the core could not take (not an established leader, or too many in flight).
    case writeRefused(reason: String)
    /// Leader: a learner's forwarded write, for the prep stage (which then calls `write`).
    case prepare(ForwardedRequest, from: ServerID)
    /// A `sync` is done: everything committed before it reached the leader is applied here.
    case syncDone(ForwardedRequest)
    /// Leader: is this session alive? The session layer answers with `revalidationAnswer` (and,
    /// if alive, notes that member as the session's owner). A nil link: one of our own clients.
    case revalidateSession(SessionTouch, link: LinkID?, from: ServerID)
    /// The verdict on a reconnecting client's session (valid = not expired; nil = unknown: the
    /// leader could not be asked, and the client should just reconnect, not hear "expired").
    case revalidationDone(sessionId: Int64, valid: Bool?)
    /// Leader: sessions a learner's clients kept alive (from its PING reply); the session layer
    /// pushes their deadlines out.
    case sessionsTouched([SessionTouch], from: ServerID)
    /// A request that cannot go on (no established leader, or we left it): the client's
    /// connection is lost, as in ZooKeeper.
    case requestRefused(ForwardedRequest, reason: String)
    /// The leader quits leading for `reason` (it goes looking right after: `roleChanged(.looking)`).
    case quitLeading(ZabQuitLeadingReason)
}

/// Where a member stands (`zabstate`'s ELECTION, DISCOVERY, SYNCHRONIZATION, BROADCAST, per role).
public enum ZabRole: Sendable, Equatable, CustomStringConvertible {
    case looking
    case leading(epoch: Int64, established: Bool)
    case following(leader: ServerID, established: Bool)
    case observing(leader: ServerID, established: Bool)

    public var description: String {
        switch self {
        case .looking: return "looking"
        case .leading(let epoch, let established): return "leading epoch \(epoch)\(established ? "" : " (syncing)")"
        case .following(let leader, let established): return "following \(leader)\(established ? "" : " (syncing)")"
        case .observing(let leader, let established): return "observing \(leader)\(established ? "" : " (syncing)")"
        }
    }
}

/// Inputs of the core: ticks of a fixed length, peer messages, connection events, the log's
/// progress and client writes.
public enum ZabInput: Sendable, Equatable {
    case tick
    case election(ElectionNotification)
    /// An outbound link (from `connect`) is up.
    case linkOpened(LinkID)
    /// Someone connected to our quorum port.
    case linkAccepted(LinkID)
    case received(LinkID, ZabMessage)
    case linkClosed(LinkID)
    /// The log holds every appended entry up to and including this zxid durably.
    case persisted(through: Zxid)
    /// A new txn to replicate (the leader's prep stage made it); refused unless leading and established.
    case write(payload: [UInt8])
    /// As `write`, for a prep stage that numbers its txns itself: refused unless `entry.zxid` is
    /// the zxid the leader gives its next proposal.
    case propose(ZabEntry)
    /// Leave the current role and elect again (the shell cannot go on in it).
    case stepDown(reason: String)
    /// A learner's client session was active: reported in the next PING reply.
    case touch(SessionTouch)
    /// A client reconnected with an existing session: ask the leader whether it is alive.
    case revalidate(SessionTouch)
    /// Leader: the session layer's verdict on a `revalidateSession`.
    case revalidationAnswer(link: LinkID?, sessionId: Int64, valid: Bool)
    /// A client request that needs the leader: on a learner it is forwarded (REQUEST); a `sync`
    /// completes with `syncDone` on a learner or the leader alike.
    case request(ForwardedRequest)
}
