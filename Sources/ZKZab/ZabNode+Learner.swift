import ZKBase

/// A follower's or observer's side (Learner.registerWithLeader, syncWithLeader, Follower,
/// Observer).
struct LearnerState: Sendable {
    enum Stage: Sendable, Equatable {
        case connecting
        /// FOLLOWERINFO sent; waiting for LEADERINFO.
        case awaitingLeaderInfo
        /// ACKEPOCH sent; receiving DIFF/TRUNC/SNAP, proposals and commits until NEWLEADER.
        case syncing
        /// NEWLEADER received; its ACK waits until every synced txn is durable.
        case awaitingDurableSync(newLeaderZxid: Zxid, through: Zxid)
        /// NEWLEADER acknowledged; waiting for UPTODATE.
        case awaitingUpToDate
        case broadcast
    }

    var leader: ServerID
    var observer: Bool
    var link: LinkID
    var stage: Stage = .connecting
    var startedTick: Int64
    var lastHeardTick: Int64
    /// The sync mode arrived (DIFF, TRUNC or SNAP).
    var syncModeReceived = false
    /// Everything through here is committed (the sync mode's zxid, then COMMITs).
    var commitHint: Zxid = .zero
    /// Proposals logged but not yet acknowledged (acked once durable), oldest first.
    var unacknowledged: [Zxid] = []
    /// When to try connecting to the leader again after a refused connection.
    var retryConnectAt: Int64?
    /// The zxid of the snapshot this sync installed, if it was a SNAP.
    var snapshotZxid: Zxid?
    /// Forwarded `sync`s, answered by SYNC packets in order.
    var pendingSyncs: [ForwardedRequest] = []
    /// Sessions whose REVALIDATE is out (Learner.pendingRevalidations).
    var pendingRevalidations: Set<Int64> = []
    /// Sessions our clients kept alive since the last PING reply (Learner's touchTable).
    var touched: [Int64: Int32] = [:]

    func checkInvariants(node: ZabNode) {
        if stage == .broadcast {
            precondition(node.appliedZxid <= node.lastLoggedZxid, "applied past the log")
        }
        if stage != .broadcast && stage != .awaitingUpToDate {
            precondition(unacknowledged.isEmpty || stage == .syncing || { if case .awaitingDurableSync = stage { return true }; return false }(),
                         "acks pending before sync")
        }
    }
}

extension ZabNode {
    var learnerState: LearnerState? {
        if case .learning(let learner) = state { return learner }
        return nil
    }

    mutating func withLearner(_ body: (inout LearnerState) -> Void) {
        guard case .learning(var learner) = state else { return }
        state = .looking(ElectionState(proposal: nil, resendInterval: 1))  // see withLeader
        body(&learner)
        state = .learning(learner)
    }

    mutating func becomeLearner(leader: ServerID) {
        let link = newOutboundLink()
        state = .learning(LearnerState(
            leader: leader, observer: !configuration.isVoter, link: link, startedTick: tickCount, lastHeardTick: tickCount))
        actions.append(.roleChanged(role))
        actions.append(.connect(link, to: leader))
    }

    mutating func learnerLinkOpened(_ link: LinkID) {
        guard let learner = learnerState, learner.link == link, learner.stage == .connecting else {
            actions.append(.close(link, reason: "unexpected connection"))
            return
        }
        actions.append(.send(link, .learnerInfo(
            sid: configuration.myId, acceptedEpoch: acceptedEpoch, observer: learner.observer,
            protocolVersion: ZabNode.protocolVersion)))
        let now = tickCount
        withLearner {
            $0.stage = .awaitingLeaderInfo
            $0.lastHeardTick = now
        }
    }

    mutating func learnerFails(_ reason: String) {
        goLooking(reason: reason)
    }

    mutating func learnerReceived(_ link: LinkID, _ message: ZabMessage) {
        guard let learner = learnerState, learner.link == link else {
            actions.append(.close(link, reason: "message on a stale link"))
            return
        }
        let now = tickCount
        let last = lastLoggedZxid
        withLearner { $0.lastHeardTick = now }
        switch (learner.stage, message) {
        case (.awaitingUpToDate, .ping(let zxid, _)), (.broadcast, .ping(let zxid, _)):
            // Learner.ping: the reply echoes the leader's zxid and carries the touch table.
            let touches = learner.touched.keys.sorted().map { SessionTouch(sessionId: $0, timeoutMs: learner.touched[$0]!) }
            withLearner { $0.touched.removeAll() }
            actions.append(.send(link, .ping(zxid, touches: touches)))
        case (_, .ping):
            // Before our NEWLEADER ACK a ZooKeeper leader reads exactly one packet, the ACK.
            break
        case (.awaitingLeaderInfo, .leaderInfo(let epoch, let version)):
            // Before 0x10000 (ZooKeeper 3.3) a leader sent no epoch proposal at all.
            guard version >= ZabNode.protocolVersion else {
                return learnerFails("leader speaks quorum protocol version 0x\(String(version, radix: 16)), older than 0x\(String(ZabNode.protocolVersion, radix: 16)) (ZooKeeper 3.4 and later): version mismatch")
            }
            leaderInfo(link, epoch)
        case (.syncing, .diff(let zxid)) where !learner.syncModeReceived:
            withLearner {
                $0.syncModeReceived = true
                $0.commitHint = min(zxid, last)
            }
        case (.syncing, .trunc(let zxid)) where !learner.syncModeReceived:
            truncate(after: zxid)
        case (.syncing, .snap(let zxid, let snapshot)) where !learner.syncModeReceived:
            installSnapshot(zxid, snapshot)
        case (.syncing, .proposal(let entry)) where learner.syncModeReceived,
             (.syncing, .inform(let entry)) where learner.syncModeReceived:
            // A ZooKeeper leader's SNAP is fuzzy: txns it already holds may follow it.
            if learner.snapshotZxid.map({ entry.zxid <= $0 }) == true { return }
            guard entry.zxid > lastLoggedZxid else { return learnerFails("proposal \(entry.zxid) not after \(lastLoggedZxid)") }
            appendEntries([entry])
            if case .inform = message { withLearner { $0.commitHint = max($0.commitHint, entry.zxid) } }
        case (.syncing, .commit(let zxid)) where learner.syncModeReceived:
            withLearner { $0.commitHint = max($0.commitHint, min(zxid, last)) }
        case (.syncing, .newLeader(let zxid)) where learner.syncModeReceived:
            newLeader(zxid)
        case (.awaitingDurableSync, .proposal(let entry)), (.awaitingUpToDate, .proposal(let entry)),
             (.broadcast, .proposal(let entry)):
            guard !learner.observer else { return learnerFails("observer got a PROPOSAL in broadcast") }
            guard entry.zxid > lastLoggedZxid else { return learnerFails("proposal \(entry.zxid) not after \(lastLoggedZxid)") }
            appendEntries([entry])
            withLearner { $0.unacknowledged.append(entry.zxid) }
            if case .broadcast = learner.stage { learnerPersisted() }
        case (.awaitingDurableSync, .commit(let zxid)), (.awaitingUpToDate, .commit(let zxid)):
            withLearner { $0.commitHint = max($0.commitHint, min(zxid, last)) }
        case (.broadcast, .commit(let zxid)):
            apply(through: zxid)
        case (.broadcast, .revalidated(let sessionId, let valid)):
            guard learner.pendingRevalidations.contains(sessionId) else { return }
            withLearner { $0.pendingRevalidations.remove(sessionId) }
            actions.append(.revalidationDone(sessionId: sessionId, valid: valid))
        case (.broadcast, .sync):
            guard let request = learner.pendingSyncs.first else { return learnerFails("SYNC with no sync outstanding") }
            withLearner { $0.pendingSyncs.removeFirst() }
            actions.append(.syncDone(request))
        case (.awaitingDurableSync, .inform(let entry)), (.awaitingUpToDate, .inform(let entry)), (.broadcast, .inform(let entry)):
            guard learner.observer else { return learnerFails("follower got an INFORM") }
            if entry.zxid > lastLoggedZxid { appendEntries([entry]) }
            withLearner { $0.commitHint = max($0.commitHint, entry.zxid) }
            if case .broadcast = learner.stage { apply(through: entry.zxid) }
        case (.awaitingUpToDate, .upToDate):
            // As Learner.syncWithLeader: acknowledge UPTODATE with the epoch's zxid (the leader
            // ignores ACKs whose counter is 0), then serve.
            actions.append(.send(link, .ack(Zxid.epochStart(acceptedEpoch))))
            withLearner { $0.stage = .broadcast }
            apply(through: learnerState!.commitHint)
            // updateElectionVote: our vote now names the leader's new epoch (ZOOKEEPER-1732), so
            // members that restart can match it in election.
            settledVote?.peerEpoch = acceptedEpoch
            actions.append(.roleChanged(role))
        default:
            learnerFails("unexpected \(message) in stage \(learner.stage)")
        }
    }

    mutating func leaderInfo(_ link: LinkID, _ epoch: Int64) {
        let reportedEpoch: Int64
        if epoch > acceptedEpoch {
            reportedEpoch = currentEpoch
            saveEpochs(accepted: epoch, current: currentEpoch)
        } else if epoch == acceptedEpoch {
            reportedEpoch = -1
        } else {
            return learnerFails("leader's epoch \(epoch) is less than our accepted epoch \(acceptedEpoch)")
        }
        actions.append(.send(link, .ackEpoch(lastLoggedZxid: lastLoggedZxid, currentEpoch: reportedEpoch)))
        withLearner { $0.stage = .syncing }
    }

    mutating func truncate(after zxid: Zxid) {
        guard zxid >= appliedZxid else {
            return learnerFails("TRUNC to \(zxid) would cut applied txns (applied through \(appliedZxid))")
        }
        if zxid < lastLoggedZxid {
            entries.removeAll { $0.zxid > zxid }
            persistedZxid = min(persistedZxid, zxid)
            actions.append(.truncateLog(after: zxid))
        }
        withLearner {
            $0.syncModeReceived = true
            $0.commitHint = zxid
        }
    }

    mutating func installSnapshot(_ zxid: Zxid, _ snapshot: [UInt8]) {
        entries.removeAll()
        logBase = zxid
        appliedZxid = zxid
        persistedZxid = zxid
        actions.append(.installSnapshot(zxid, snapshot: snapshot))
        withLearner {
            $0.syncModeReceived = true
            $0.commitHint = zxid
            $0.snapshotZxid = zxid
        }
    }

    mutating func newLeader(_ zxid: Zxid) {
        let epoch = zxid.epoch
        guard epoch == acceptedEpoch else { return learnerFails("NEWLEADER of epoch \(epoch), accepted \(acceptedEpoch)") }
        // Wait for what the sync brought, not for proposals that keep arriving after it.
        let through = lastLoggedZxid
        withLearner { $0.stage = .awaitingDurableSync(newLeaderZxid: zxid, through: through) }
        if configuration.injectedBugs.contains(.currentEpochBeforeTxnsPersisted) {
            saveEpochs(accepted: acceptedEpoch, current: epoch)
        }
        learnerPersisted()
    }

    mutating func learnerPersisted() {
        guard let learner = learnerState else { return }
        switch learner.stage {
        case .awaitingDurableSync(let zxid, let through):
            let syncDurable = persistedZxid >= through || configuration.injectedBugs.contains(.ackNewLeaderBeforePersist)
            guard syncDurable else { return }
            if currentEpoch < zxid.epoch { saveEpochs(accepted: acceptedEpoch, current: zxid.epoch) }
            actions.append(.send(learner.link, .ack(zxid)))
            // Txns beyond the commit point came as outstanding proposals: they need our ACK too.
            if !learner.observer {
                for entry in entries(after: learner.commitHint, through: persistedZxid) {
                    actions.append(.send(learner.link, .ack(entry.zxid)))
                }
            }
            let durable = persistedZxid
            withLearner {
                $0.stage = .awaitingUpToDate
                $0.unacknowledged.removeAll { $0 <= durable }
            }
            fallthrough
        case .awaitingUpToDate, .broadcast:
            guard let current = learnerState else { return }
            let ready = current.unacknowledged.prefix { $0 <= persistedZxid }
            guard !ready.isEmpty else { return }
            for zxid in ready where !current.observer { actions.append(.send(current.link, .ack(zxid))) }
            withLearner { $0.unacknowledged.removeFirst(ready.count) }
        default:
            break
        }
    }

    mutating func learnerTick() {
        guard let learner = learnerState else { return }
        if learner.stage == .connecting, let retryAt = learner.retryConnectAt, tickCount >= retryAt {
            let link = newOutboundLink()
            withLearner {
                $0.link = link
                $0.retryConnectAt = nil
            }
            actions.append(.connect(link, to: learner.leader))
        }
        let limit = learner.stage == .broadcast ? configuration.syncLimitTicks : configuration.initLimitTicks
        if tickCount - learner.lastHeardTick > Int64(limit) {
            learnerFails("leader \(learner.leader) silent for \(limit) ticks in stage \(learner.stage)")
        }
    }
}
