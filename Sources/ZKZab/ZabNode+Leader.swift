import DequeModule
import ZKBase

/// The leader's side (Leader.lead, LearnerHandler): discovery, sync of each learner, broadcast.
struct LeaderState: Sendable {
    enum Phase: Sendable, Equatable { case discovery, synchronization, broadcast }

    enum HandlerStage: Sendable, Equatable {
        /// Waiting for FOLLOWERINFO/OBSERVERINFO.
        case awaitingInfo
        /// LEADERINFO sent (or to be sent once the epoch is decided); waiting for ACKEPOCH.
        case awaitingAckEpoch
        /// ACKEPOCH in; sync starts once a quorum has acknowledged the epoch.
        case awaitingSync(peerLastZxid: Zxid)
        /// Sync packets and NEWLEADER sent; waiting for its ACK.
        case awaitingNewLeaderAck
        /// NEWLEADER acknowledged; UPTODATE follows once the leader is established.
        case awaitingStartup
        case broadcast
    }

    struct Handler: Sendable {
        var sid: ServerID?
        var observer = false
        var stage: HandlerStage = .awaitingInfo
        var lastHeardTick: Int64
        /// COMMITs held for a follower between NEWLEADER and UPTODATE, sent right after UPTODATE:
        /// an Apache 3.8.0 follower fails on a COMMIT there for a proposal sent before NEWLEADER
        /// (ZOOKEEPER-4394).
        var heldCommits: [Zxid] = []

        /// Receives proposals and commits: NEWLEADER has been queued to it.
        var isForwarding: Bool {
            switch stage {
            case .awaitingNewLeaderAck, .awaitingStartup, .broadcast: return true
            default: return false
            }
        }
    }

    struct Proposal: Sendable {
        var entry: ZabEntry
        var acks: Set<ServerID>
        var proposedTick: Int64
    }

    var phase: Phase = .discovery
    var startedTick: Int64
    /// The voters whose votes elected us (ZooKeeper's leadingVoteSet).
    var voteSet: Set<ServerID> = []
    var newEpoch: Int64?
    /// Accepted epochs of the voters that connected in discovery (ours included).
    var connectedEpochs: [ServerID: Int64] = [:]
    var epochAcks: Set<ServerID> = []
    var newLeaderAcks: Set<ServerID> = []
    var learners: [LinkID: Handler] = [:]
    /// Our log's end when we were elected: the initial history this epoch commits first.
    var initialHistoryEnd: Zxid
    /// (currentEpoch, lastLoggedZxid) when elected: a follower ahead of this means a bad election.
    var electedSummary: (epoch: Int64, zxid: Zxid)
    /// Proposed, not yet committed, in zxid order: commits leave from the front.
    var outstanding: Deque<Proposal> = []
    /// `sync`s waiting for everything proposed before them to commit (Leader.processSync); a nil
    /// link is one of our own clients'.
    var pendingSyncs: [(link: LinkID?, request: ForwardedRequest, after: Zxid)] = []
    var committedZxid: Zxid
    var lastPingTick: Int64

    /// The commit point a learner is synced to: in a new epoch, the whole initial history (it is
    /// committed by the NEWLEADER quorum before any learner gets UPTODATE).
    var syncCommitPoint: Zxid { phase == .broadcast ? committedZxid : max(committedZxid, initialHistoryEnd) }

    func checkInvariants(node: ZabNode) {
        var previous = committedZxid
        for proposal in outstanding {
            precondition(proposal.entry.zxid > previous, "outstanding proposals out of order")
            previous = proposal.entry.zxid
        }
        precondition(committedZxid <= node.lastLoggedZxid, "committed past the leader's log")
        if phase == .broadcast {
            precondition(committedZxid >= initialHistoryEnd, "established before committing the initial history")
            precondition(node.appliedZxid == committedZxid, "leader applied \(node.appliedZxid) but committed \(committedZxid)")
            precondition(newEpoch == node.currentEpoch, "established leader's epoch not current")
        }
        for handler in learners.values where handler.stage == .broadcast {
            precondition(handler.sid != nil, "a learner in broadcast without a server id")
        }
    }
}

extension ZabNode {
    var leaderState: LeaderState? {
        if case .leading(let leader) = state { return leader }
        return nil
    }

    mutating func becomeLeader(voteSet: Set<ServerID>) {
        var leader = LeaderState(
            startedTick: tickCount, initialHistoryEnd: lastLoggedZxid, electedSummary: (currentEpoch, lastLoggedZxid),
            committedZxid: appliedZxid, lastPingTick: tickCount)
        leader.voteSet = voteSet
        leader.connectedEpochs[configuration.myId] = acceptedEpoch
        state = .leading(leader)
        actions.append(.roleChanged(role))
        decideEpochIfQuorum()
    }

    /// A looking voter's notification reached us while we lead (ZooKeeper's Leader.reportLookingSid):
    /// if it elected us and we have waited past `epochWaitTicksMax` for a quorum's FOLLOWERINFO,
    /// we quit leading and look again.
    mutating func leaderHeardLookingVoter(_ sid: ServerID) {
        guard let waitMax = configuration.epochWaitTicksMax, let leader = leaderState, leader.newEpoch == nil,
              leader.voteSet.contains(sid), tickCount - leader.startedTick > Int64(waitMax)
        else { return }
        actions.append(.quitLeading(.disloyalVoter(sid)))
        goLooking(reason: "voter \(sid), which elected this leader, is looking again; no quorum after \(waitMax) ticks")
    }

    /// A learner link's server id, once its FOLLOWERINFO/OBSERVERINFO has come (for the shell's
    /// per-learner metrics).
    public func learnerServerID(of link: LinkID) -> ServerID? {
        leaderState?.learners[link]?.sid
    }

    /// Leader: everything through this zxid is committed.
    public var leaderCommittedZxid: Zxid? { leaderState?.committedZxid }

    mutating func withLeader(_ body: (inout LeaderState) -> Void) {
        guard case .leading(var leader) = state else { return }
        // The enum lets go of the state first, so `leader`'s arrays are uniquely referenced and
        // change in place (else every change to the outstanding proposals copies all of them).
        state = .looking(ElectionState(proposal: nil, resendInterval: 1))
        body(&leader)
        state = .leading(leader)
    }

    mutating func leaderAccepted(_ link: LinkID) {
        guard let leader = leaderState, leader.learners.count < configuration.limits.learnersMax else {
            actions.append(.close(link, reason: "too many learner connections"))
            return
        }
        let now = tickCount
        withLeader { $0.learners[link] = LeaderState.Handler(lastHeardTick: now) }
    }

    mutating func leaderLinkClosed(_ link: LinkID) {
        forgetLearner(link)
    }

    mutating func closeLearner(_ link: LinkID, _ reason: String) {
        forgetLearner(link)
        actions.append(.close(link, reason: reason))
    }

    /// A learner that is gone no longer vouches for anything: its NEWLEADER ACK stops counting
    /// (it may be syncing with another leader of a later epoch by the time ours would complete).
    mutating func forgetLearner(_ link: LinkID) {
        withLeader { leader in
            if let sid = leader.learners[link]?.sid, leader.phase != .broadcast { leader.newLeaderAcks.remove(sid) }
            leader.learners[link] = nil
        }
    }

    mutating func leaderReceived(_ link: LinkID, _ message: ZabMessage) {
        guard var handler = leaderState?.learners[link] else {
            actions.append(.close(link, reason: "unknown learner link"))
            return
        }
        handler.lastHeardTick = tickCount
        withLeader { $0.learners[link] = handler }
        switch (handler.stage, message) {
        case (.awaitingInfo, .learnerInfo(let sid, let epoch, let observer, let version)):
            // A learner before 0x10000 (ZooKeeper 3.3) knows no epoch negotiation.
            guard version >= ZabNode.protocolVersion else {
                return closeLearner(link, "server \(sid) speaks quorum protocol version 0x\(String(version, radix: 16)), older than 0x\(String(ZabNode.protocolVersion, radix: 16)) (ZooKeeper 3.4 and later): version mismatch")
            }
            learnerInfo(link, sid: sid, acceptedEpoch: epoch, observer: observer)
        case (.awaitingAckEpoch, .ackEpoch(let lastLogged, let peerEpoch)):
            ackEpoch(link, handler, lastLogged: lastLogged, peerCurrentEpoch: peerEpoch)
        case (.awaitingNewLeaderAck, .ack(let zxid)):
            guard zxid == Zxid.epochStart(leaderState?.newEpoch ?? -1) else {
                // ZOOKEEPER-4685: a 3.8.0 follower may ACK a proposal before NEWLEADER.
                if let sid = handler.sid, !handler.observer { proposalAcked(zxid, by: sid) }
                return
            }
            newLeaderAcked(link, handler)
        case (.awaitingStartup, .ack(let zxid)), (.broadcast, .ack(let zxid)):
            if let sid = handler.sid, !handler.observer { proposalAcked(zxid, by: sid) }
        case (_, .ping(_, let touches)):
            if let touches, !touches.isEmpty, let sid = handler.sid {
                actions.append(.sessionsTouched(touches, from: sid))
            }
        case (.broadcast, .revalidate(let touch)), (.awaitingStartup, .revalidate(let touch)):
            guard let sid = handler.sid else { return closeLearner(link, "REVALIDATE before FOLLOWERINFO") }
            actions.append(.revalidateSession(touch, link: link, from: sid))
        case (.broadcast, .request(let request)), (.awaitingStartup, .request(let request)):
            guard let sid = handler.sid else { return closeLearner(link, "REQUEST before FOLLOWERINFO") }
            if request.isSync { leaderSync(request, link: link) } else { actions.append(.prepare(request, from: sid)) }
        default:
            closeLearner(link, "unexpected \(message) from a learner in stage \(handler.stage)")
        }
    }

    mutating func learnerInfo(_ link: LinkID, sid: ServerID, acceptedEpoch peerEpoch: Int64, observer: Bool) {
        let known = observer ? configuration.observers.contains(sid) : configuration.voters.contains(sid)
        guard peerEpoch >= 0 && peerEpoch < Int64(Int32.max) else {
            return closeLearner(link, "server \(sid) sent accepted epoch \(peerEpoch)")
        }
        guard known, sid != configuration.myId else {
            return closeLearner(link, "server \(sid) is not a \(observer ? "observer" : "participant") of this ensemble")
        }
        guard let learners = leaderState?.learners else { return }
        // A reconnecting learner replaces its older link.
        for (other, handler) in learners where other != link && handler.sid == sid {
            closeLearner(other, "server \(sid) connected again")
        }
        withLeader {
            // Its earlier ACKs may be for entries its next sync erases: they count no more
            // (it acknowledges again once resynced).
            for index in $0.outstanding.indices { $0.outstanding[index].acks.remove(sid) }
            if $0.phase != .broadcast { $0.newLeaderAcks.remove(sid) }
            $0.learners[link]?.sid = sid
            $0.learners[link]?.observer = observer
            $0.learners[link]?.stage = .awaitingAckEpoch
            if !observer && $0.newEpoch == nil { $0.connectedEpochs[sid] = peerEpoch }
        }
        if let epoch = leaderState?.newEpoch {
            actions.append(.send(link, .leaderInfo(newEpoch: epoch, protocolVersion: ZabNode.protocolVersion)))
        } else {
            decideEpochIfQuorum()
        }
    }

    /// getEpochToPropose: once a quorum (us included) has connected, the new epoch is one past
    /// every accepted epoch we heard of; we accept it durably before telling anyone.
    mutating func decideEpochIfQuorum() {
        guard let leader = leaderState, leader.newEpoch == nil, configuration.isQuorum(leader.connectedEpochs.keys) else { return }
        let epoch = (leader.connectedEpochs.values.max() ?? acceptedEpoch) + 1
        guard epoch < Int64(Int32.max) else {
            return goLooking(reason: "epochs are exhausted (next would be \(epoch))")
        }
        saveEpochs(accepted: max(epoch, acceptedEpoch), current: currentEpoch)
        let myId = configuration.myId
        withLeader {
            $0.newEpoch = epoch
            $0.epochAcks.insert(myId)
        }
        actions.append(.roleChanged(role))
        for (link, handler) in leaderState!.learners.sorted(by: { $0.key < $1.key }) where handler.stage == .awaitingAckEpoch {
            actions.append(.send(link, .leaderInfo(newEpoch: epoch, protocolVersion: ZabNode.protocolVersion)))
        }
        epochAckQuorumReached()
    }

    mutating func ackEpoch(_ link: LinkID, _ handler: LeaderState.Handler, lastLogged: Zxid, peerCurrentEpoch: Int64) {
        guard let leader = leaderState, leader.newEpoch != nil, let sid = handler.sid else {
            return closeLearner(link, "ACKEPOCH before LEADERINFO")
        }
        if leader.phase == .discovery && !handler.observer && peerCurrentEpoch != -1 {
            let summary = leader.electedSummary
            if peerCurrentEpoch > summary.epoch || (peerCurrentEpoch == summary.epoch && lastLogged > summary.zxid) {
                return goLooking(reason: "follower \(sid) is ahead of the leader (epoch \(peerCurrentEpoch), zxid \(lastLogged))")
            }
        }
        withLeader {
            $0.learners[link]?.stage = .awaitingSync(peerLastZxid: lastLogged)
            // As Leader.waitForEpochAck: an ACKEPOCH of -1 (the learner had already accepted
            // this epoch) carries no state summary, so it does not count toward the quorum.
            if !handler.observer && peerCurrentEpoch != -1 { $0.epochAcks.insert(sid) }
        }
        if leaderState!.phase == .discovery {
            epochAckQuorumReached()
        } else {
            syncLearner(link)
        }
    }

    /// waitForEpochAck: with a quorum of ACKEPOCHs the epoch is ours; sync everyone waiting.
    mutating func epochAckQuorumReached() {
        guard let leader = leaderState, leader.phase == .discovery, leader.newEpoch != nil,
              configuration.isQuorum(leader.epochAcks) else { return }
        // The current epoch is recorded only once our own initial history is durable (in
        // establishIfQuorum): a leader that crashed with a new epoch but a shorter log would
        // win later elections and cut acknowledged txns (ZOOKEEPER-4643 on the leader's side).
        let now = tickCount
        withLeader {
            $0.phase = .synchronization
            $0.startedTick = now  // sync gets its own initLimit, as in ZooKeeper
        }
        for link in leaderState!.learners.keys.sorted() {
            if case .awaitingSync = leaderState!.learners[link]!.stage { syncLearner(link) }
        }
        leaderPersisted()
    }

    /// LearnerHandler.syncFollower: DIFF, TRUNC+DIFF or SNAP, then NEWLEADER.
    mutating func syncLearner(_ link: LinkID) {
        guard let leader = leaderState, let handler = leader.learners[link], let epoch = leader.newEpoch,
              case .awaitingSync(let peerLast) = handler.stage else { return }
        let commitPoint = leader.syncCommitPoint
        let last = lastLoggedZxid
        var sendFrom: Zxid
        // TRUNC to T is safe only when the learner holds T: then both logs up to T are T's
        // epoch's history plus that epoch's txns before T. It holds T for sure when T is of the
        // same epoch as its last zxid; otherwise it gets a snapshot (as ZooKeeper does).
        if peerLast == last && last <= commitPoint {
            actions.append(.send(link, .diff(last)))
            sendFrom = last
        } else if peerLast > commitPoint && (index(of: peerLast) != nil || commitPoint.epoch == peerLast.epoch) {
            // Ahead of what is committed: cut back to the commit point and resend the rest, even
            // what it already holds (a ZooKeeper follower ACKs only proposals sent in this sync).
            actions.append(.send(link, .trunc(commitPoint)))
            sendFrom = commitPoint
        } else if peerLast <= commitPoint && peerLast >= logBase && (peerLast == logBase || index(of: peerLast) != nil) {
            actions.append(.send(link, .diff(commitPoint)))
            sendFrom = peerLast
        } else if let common = divergencePoint(peerLast, commitPoint) {
            actions.append(.send(link, .trunc(common)))
            sendFrom = common
        } else if peerLast > logBase && peerLast < commitPoint && configuration.injectedBugs.contains(.diffInsteadOfTrunc) {
            actions.append(.send(link, .diff(commitPoint)))
            sendFrom = peerLast
        } else {
            actions.append(.send(link, .snap(appliedZxid, snapshot: [])))
            actions.append(.sendSnapshot(link, through: appliedZxid))
            sendFrom = appliedZxid
        }
        // Observers get only committed txns (later ones arrive as INFORM once committed), as
        // Leader.startForwarding does; an Apache observer fails on an uncommitted one.
        for entry in entries(after: sendFrom, through: handler.observer ? min(last, commitPoint) : last) {
            actions.append(.send(link, .proposal(entry)))
            if entry.zxid <= commitPoint { actions.append(.send(link, .commit(entry.zxid))) }
        }
        actions.append(.send(link, .newLeader(Zxid.epochStart(epoch))))
        withLeader { $0.learners[link]?.stage = .awaitingNewLeaderAck }
    }

    /// Where to cut a learner whose last zxid we do not hold: the last zxid before it that we
    /// hold, if that is of the same epoch as the learner's last zxid (so the learner holds it).
    func divergencePoint(_ peerLast: Zxid, _ commitPoint: Zxid) -> Zxid? {
        guard peerLast > logBase, peerLast < commitPoint, !configuration.injectedBugs.contains(.diffInsteadOfTrunc) else { return nil }
        let common = entries.last { $0.zxid < peerLast }?.zxid ?? logBase
        return common.epoch == peerLast.epoch ? common : nil
    }

    mutating func newLeaderAcked(_ link: LinkID, _ handler: LeaderState.Handler) {
        withLeader {
            $0.learners[link]?.stage = .awaitingStartup
            if let sid = handler.sid, !handler.observer { $0.newLeaderAcks.insert(sid) }
        }
        if leaderState!.phase == .broadcast {
            upToDate(link)
        } else {
            establishIfQuorum()
        }
    }

    mutating func upToDate(_ link: LinkID) {
        actions.append(.send(link, .upToDate))
        let held = leaderState?.learners[link]?.heldCommits ?? []
        for zxid in held { actions.append(.send(link, .commit(zxid))) }
        withLeader {
            $0.learners[link]?.stage = .broadcast
            $0.learners[link]?.heldCommits = []
        }
    }

    /// waitForNewLeaderAck: a quorum holds our initial history durably, so it is committed.
    mutating func establishIfQuorum() {
        guard var leader = leaderState, leader.phase == .synchronization else { return }
        if persistedZxid >= leader.initialHistoryEnd || configuration.injectedBugs.contains(.ackNewLeaderBeforePersist) {
            if let epoch = leader.newEpoch, currentEpoch < epoch { saveEpochs(accepted: acceptedEpoch, current: epoch) }
            leader.newLeaderAcks.insert(configuration.myId)
        }
        state = .leading(leader)
        // Our own ACK is required too: our initial history durable and our epoch recorded.
        guard leader.newLeaderAcks.contains(configuration.myId), configuration.isQuorum(leader.newLeaderAcks) else { return }
        leader.phase = .broadcast
        leader.committedZxid = max(leader.committedZxid, leader.initialHistoryEnd)
        state = .leading(leader)
        apply(through: leader.committedZxid)
        settledVote?.peerEpoch = currentEpoch
        actions.append(.roleChanged(role))
        for (link, handler) in leader.learners.sorted(by: { $0.key < $1.key }) where handler.stage == .awaitingStartup {
            upToDate(link)
        }
        // Proposals waiting on the quorum may have it now.
        commitReady()
    }

    mutating func onWrite(_ payload: [UInt8], expected: Zxid?) {
        // Fields, not a copy of the leader's state: a copy alive while `withLeader` appends below
        // would make the append copy every outstanding proposal.
        guard let (phase, inFlight, newEpoch) = leaderState.map({ ($0.phase, $0.outstanding.count, $0.newEpoch) }),
              phase == .broadcast, let newEpoch else {
            actions.append(.writeRefused(reason: "not an established leader"))
            return
        }
        guard inFlight < configuration.limits.proposalsInFlightMax else {
            actions.append(.writeRefused(reason: "too many proposals in flight"))
            return
        }
        guard let zxid = lastLoggedZxid.epoch == newEpoch ? lastLoggedZxid.next : Zxid(epoch: newEpoch, counter: 1) else {
            actions.append(.writeRefused(reason: "zxid counter exhausted; starting a new epoch"))
            goLooking(reason: "zxid counter rolled over")
            return
        }
        if let expected, expected != zxid {
            actions.append(.writeRefused(reason: "proposal numbered \(expected), the next zxid is \(zxid)"))
            return
        }
        let entry = ZabEntry(zxid: zxid, payload: payload)
        appendEntries([entry])
        let now = tickCount
        withLeader { $0.outstanding.append(LeaderState.Proposal(entry: entry, acks: [], proposedTick: now)) }
        for (link, handler) in leaderState!.learners.sorted(by: { $0.key < $1.key }) where handler.isForwarding && !handler.observer {
            actions.append(.send(link, .proposal(entry)))
        }
    }

    /// Leader.processSync: answer once everything proposed so far is committed.
    mutating func leaderSync(_ request: ForwardedRequest, link: LinkID?) {
        guard let leader = leaderState else { return }
        if lastLoggedZxid <= leader.committedZxid {
            completeSync(request, link: link)
        } else {
            let after = lastLoggedZxid
            withLeader { $0.pendingSyncs.append((link, request, after)) }
        }
    }

    mutating func completeSync(_ request: ForwardedRequest, link: LinkID?) {
        if let link { actions.append(.send(link, .sync)) } else { actions.append(.syncDone(request)) }
    }

    mutating func proposalAcked(_ zxid: Zxid, by sid: ServerID) {
        withLeader { leader in
            guard let first = leader.outstanding.first?.entry.zxid, zxid >= first,
                  let last = leader.outstanding.last?.entry.zxid, zxid <= last else { return }
            // Outstanding proposals are consecutive zxids of one epoch: the index is the offset
            // (both ends checked first, so a hostile zxid cannot overflow the subtraction).
            let offset = zxid.rawValue - first.rawValue
            let index: Int
            if offset >= 0, offset < Int64(leader.outstanding.count), leader.outstanding[Int(offset)].entry.zxid == zxid {
                index = Int(offset)
            } else if let found = leader.outstanding.firstIndex(where: { $0.entry.zxid == zxid }) {
                index = found
            } else {
                return
            }
            // A learner logs proposals in zxid order and acknowledges once they are durable, so
            // its ACK of this one covers every earlier outstanding one (a shell may pass on only
            // the last of a burst of ACKs). Earlier ones already covered stop the walk.
            var covered = index
            while covered >= 0, leader.outstanding[covered].acks.insert(sid).inserted { covered -= 1 }
        }
        commitReady()
    }

    mutating func leaderPersisted() {
        guard let phase = leaderState?.phase else { return }
        if phase == .synchronization {
            establishIfQuorum()
            return
        }
        let durable = persistedZxid
        let myId = configuration.myId
        withLeader { leader in
            for index in leader.outstanding.indices {
                guard leader.outstanding[index].entry.zxid <= durable else { break }
                leader.outstanding[index].acks.insert(myId)
            }
        }
        commitReady()
    }

    /// Commits outstanding proposals in zxid order while the oldest has a quorum of ACKs.
    mutating func commitReady() {
        guard let phase = leaderState?.phase, phase == .broadcast else { return }
        var committed: [ZabEntry] = []
        let configuration = self.configuration
        withLeader { leader in
            let count = leader.outstanding.prefix { configuration.isQuorum($0.acks) }.count
            guard count > 0 else { return }
            committed = leader.outstanding[..<count].map(\.entry)
            leader.outstanding.removeFirst(count)
            leader.committedZxid = committed[count - 1].zxid
        }
        guard let last = committed.last, let leader = leaderState else { return }
        for (link, handler) in leader.learners.sorted(by: { $0.key < $1.key }) where handler.isForwarding {
            if !handler.observer && handler.stage != .broadcast {
                withLeader { $0.learners[link]?.heldCommits.append(contentsOf: committed.map(\.zxid)) }
                continue
            }
            for entry in committed {
                actions.append(.send(link, handler.observer ? .inform(entry) : .commit(entry.zxid)))
            }
        }
        apply(through: last.zxid)
        // Syncs answer after the commits before them (same link, so the learner applies first).
        let ready = leader.pendingSyncs.prefix { $0.after <= last.zxid }
        if !ready.isEmpty {
            withLeader { $0.pendingSyncs.removeFirst(ready.count) }
            for sync in ready where sync.link == nil || leader.learners[sync.link!] != nil {
                completeSync(sync.request, link: sync.link)
            }
        }
    }

    mutating func leaderTick() {
        guard let leader = leaderState else { return }
        if leader.phase != .broadcast {
            if tickCount - leader.startedTick > Int64(configuration.initLimitTicks) {
                goLooking(reason: "no quorum synced within initLimit")
            }
            if case .leading = state { pingLearners() }
            return
        }
        var synced: Set<ServerID> = [configuration.myId]
        for handler in leader.learners.values where handler.stage == .broadcast && !handler.observer {
            if let sid = handler.sid, tickCount - handler.lastHeardTick <= Int64(configuration.syncLimitTicks) { synced.insert(sid) }
        }
        guard configuration.isQuorum(synced) else {
            return goLooking(reason: "not sufficient followers synced, only synced with \(synced.sorted())")
        }
        for (link, handler) in leader.learners.sorted(by: { $0.key < $1.key }) {
            let limit = handler.stage == .broadcast ? configuration.syncLimitTicks : configuration.initLimitTicks
            if tickCount - handler.lastHeardTick > Int64(limit) {
                closeLearner(link, "learner silent for \(limit) ticks")
            } else if handler.stage == .broadcast, !handler.observer, let sid = handler.sid,
                      let stale = leader.outstanding.first(where: { !$0.acks.contains(sid) }),
                      tickCount - stale.proposedTick > Int64(configuration.syncLimitTicks) {
                // LearnerHandler.SyncLimitCheck: answering pings is not enough; a follower that
                // has not acknowledged a proposal within syncLimit is not in sync.
                closeLearner(link, "follower \(sid) has not acknowledged \(stale.entry.zxid) within syncLimit")
            }
        }
        pingLearners()
    }

    mutating func pingLearners() {
        guard let leader = leaderState, tickCount - leader.lastPingTick >= Int64(configuration.pingIntervalTicks) else { return }
        let now = tickCount
        withLeader { $0.lastPingTick = now }
        // Only learners past NEWLEADER: an Apache learner exits on a PING during discovery or sync.
        for (link, handler) in leader.learners.sorted(by: { $0.key < $1.key }) where handler.isForwarding {
            actions.append(.send(link, .ping(lastLoggedZxid, touches: nil)))
        }
    }
}
