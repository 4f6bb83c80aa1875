import ZKBase

/// Fast leader election (FastLeaderElection.lookForLeader and its WorkerReceiver), tick-driven.
struct ElectionState: Sendable {
    /// Our current vote; nil for an observer, which never proposes itself.
    var proposal: Vote?
    /// LOOKING notifications of this round, by sender (ZooKeeper's recvset), ours included.
    var received: [ServerID: ElectionNotification] = [:]
    /// FOLLOWING/LEADING notifications, by sender (outofelection).
    var outOfElection: [ServerID: ElectionNotification] = [:]
    /// Set while a quorum agrees with our proposal: decide at this tick unless a better vote comes.
    var finalizeAt: Int64?
    var resendAt: Int64 = 0
    var resendInterval: Int

    init(proposal: Vote?, resendInterval: Int) {
        self.proposal = proposal
        self.resendInterval = resendInterval
    }

    func checkInvariants(round: Int64) {
        for (sender, notification) in received {
            precondition(notification.sender == sender && notification.electionEpoch == round,
                         "recvset holds a notification of another round or sender")
        }
    }
}

extension ZabNode {
    /// Our vote when an election starts: ourselves, with our last logged zxid and current epoch.
    var initialVote: Vote? {
        configuration.isVoter ? Vote(leader: configuration.myId, zxid: lastLoggedZxid, peerEpoch: currentEpoch) : nil
    }

    mutating func startElection() {
        electionRound += 1
        var election = ElectionState(proposal: initialVote, resendInterval: configuration.electionResendTicksMin)
        if let vote = election.proposal {
            election.received[configuration.myId] = ElectionNotification(
                vote: vote, electionEpoch: electionRound, state: .looking, sender: configuration.myId)
            // A one-voter ensemble (standaloneEnabled=false) is its own quorum.
            if configuration.isQuorum([configuration.myId]) {
                election.finalizeAt = tickCount + Int64(configuration.electionFinalizeTicks)
            }
        }
        election.resendAt = tickCount + Int64(election.resendInterval)
        state = .looking(election)
        actions.append(.roleChanged(.looking))
        sendNotifications(election)
    }

    func currentNotification(_ election: ElectionState) -> ElectionNotification {
        // An observer's proposal is empty: ZooKeeper sends Long.MIN_VALUE as the leader.
        let vote = election.proposal ?? Vote(leader: Int64.min, zxid: Zxid(Int64.min), peerEpoch: Int64.min)
        return ElectionNotification(vote: vote, electionEpoch: electionRound, state: .looking, sender: configuration.myId)
    }

    mutating func sendNotifications(_ election: ElectionState) {
        let message = currentNotification(election)
        for voter in configuration.voters where voter != configuration.myId {
            actions.append(.sendElection(to: voter, message))
        }
    }

    /// What we answer a peer that asks while we are not looking: the vote we settled on.
    var settledNotification: ElectionNotification? {
        guard let vote = settledVote else { return nil }
        let peerState: PeerState
        switch state {
        case .looking: peerState = .looking
        case .leading: peerState = .leading
        case .learning(let learner): peerState = learner.observer ? .observing : .following
        }
        return ElectionNotification(vote: vote, electionEpoch: settledRound, state: peerState, sender: configuration.myId)
    }

    mutating func onElectionNotification(_ notification: ElectionNotification) {
        let sender = notification.sender
        guard sender != configuration.myId, configuration.members.contains(sender) else { return }
        guard case .looking(var election) = state else {
            // WorkerReceiver: a looking peer gets our settled vote so it can join us.
            if notification.state == .looking, let reply = settledNotification {
                actions.append(.sendElection(to: sender, reply))
            }
            if notification.state == .looking, case .leading = state { leaderHeardLookingVoter(sender) }
            return
        }
        guard configuration.voters.contains(sender) else {
            // A looking non-voter (observer) asks: answer with our current vote, never count it.
            // (ZooKeeper answers every non-voter message; answering an observer that is not
            // looking would ping-pong with its own answer to us forever.)
            if notification.state == .looking {
                actions.append(.sendElection(to: sender, currentNotification(election)))
            }
            state = .looking(election)
            return
        }
        // Only a voter's notification postpones our resend, as only those reach ZooKeeper's
        // recvqueue (WorkerReceiver answers non-voters itself): an observer asking over and over
        // must not keep a voter from ever resending a vote that was lost.
        election.resendAt = tickCount + Int64(election.resendInterval)
        switch notification.state {
        case .looking:
            // A vote for someone who cannot lead (an observer, an unknown id) is not counted
            // (FastLeaderElection.validVoter).
            guard configuration.voters.contains(notification.vote.leader) else {
                state = .looking(election)
                return
            }
            lookingNotification(notification, &election)
        case .following, .leading, .observing:
            if settledByOthers(notification, &election) { return }
        }
        if case .looking = state { state = .looking(election) }
    }

    mutating func lookingNotification(_ notification: ElectionNotification, _ election: inout ElectionState) {
        if notification.electionEpoch > electionRound {
            electionRound = notification.electionEpoch
            election.received.removeAll()
            election.finalizeAt = nil
            let mine = initialVote
            if let mine, !notification.vote.isBetter(than: mine) {
                election.proposal = mine
            } else {
                election.proposal = notification.vote
            }
            if let vote = election.proposal, configuration.isVoter {
                election.received[configuration.myId] = ElectionNotification(
                    vote: vote, electionEpoch: electionRound, state: .looking, sender: configuration.myId)
            }
            sendNotifications(election)
        } else if notification.electionEpoch < electionRound {
            // Behind us: tell it our round and vote; do not count it. (An observer's round is
            // its own business: voters answer every looking observer, so an observer that told
            // them they are behind would start an endless exchange.)
            if configuration.isVoter {
                actions.append(.sendElection(to: notification.sender, currentNotification(election)))
            }
            return
        } else if election.proposal.map({ notification.vote.isBetter(than: $0) }) ?? true {
            election.proposal = notification.vote
            election.finalizeAt = nil
            if configuration.isVoter {
                election.received[configuration.myId] = ElectionNotification(
                    vote: notification.vote, electionEpoch: electionRound, state: .looking, sender: configuration.myId)
            }
            sendNotifications(election)
        } else if configuration.isVoter, let proposal = election.proposal, proposal.isBetter(than: notification.vote) {
            // Same round, and the sender still backs a worse vote: it has not seen ours. Tell it
            // directly. ZooKeeper leaves this to its TCP links (a reconnect resends the last
            // message), but a vote lost before a heal would otherwise wait for our own resend,
            // which the sender's notifications keep postponing: a livelock (ZKSim seed
            // 3387070801519958678, all three voters looking forever after healing).
            actions.append(.sendElection(to: notification.sender, currentNotification(election)))
        }
        election.received[notification.sender] = notification
        guard let proposal = election.proposal else { return }
        let agreeing = election.received.values.filter { $0.vote == proposal }.map(\.sender)
        if configuration.isQuorum(agreeing) {
            if election.finalizeAt == nil { election.finalizeAt = tickCount + Int64(configuration.electionFinalizeTicks) }
        } else {
            election.finalizeAt = nil
        }
    }

    /// FOLLOWING/LEADING notifications: join an established leader once a quorum follows it and
    /// the leader itself says it leads (termPredicate + checkLeader on outofelection).
    mutating func settledByOthers(_ notification: ElectionNotification, _ election: inout ElectionState) -> Bool {
        election.outOfElection[notification.sender] = notification
        let leader = notification.vote.leader
        let supporters = election.outOfElection.values.filter {
            $0.vote.leader == leader && $0.vote.peerEpoch == notification.vote.peerEpoch
        }
        guard configuration.isQuorum(supporters.map(\.sender)) else { return false }
        if leader != configuration.myId {
            guard election.outOfElection[leader]?.state == .leading else { return false }
        } else {
            return false
        }
        electionRound = max(electionRound, notification.electionEpoch)
        decide(notification.vote)
        return true
    }

    mutating func electionTick() {
        guard case .looking(var election) = state else { return }
        if let finalizeAt = election.finalizeAt, tickCount >= finalizeAt, let proposal = election.proposal {
            decide(proposal)
            return
        }
        if tickCount >= election.resendAt {
            sendNotifications(election)
            election.resendInterval = min(election.resendInterval * 2, configuration.electionResendTicksMax)
            election.resendAt = tickCount + Int64(election.resendInterval)
        }
        state = .looking(election)
    }

    mutating func decide(_ vote: Vote) {
        guard configuration.voters.contains(vote.leader) else { return }
        var voteSet: Set<ServerID> = [configuration.myId]
        if case .looking(let election) = state {
            for notification in election.received.values where notification.vote == vote { voteSet.insert(notification.sender) }
        }
        settledVote = vote
        settledRound = electionRound
        if vote.leader == configuration.myId {
            precondition(configuration.isVoter, "an observer cannot lead")
            becomeLeader(voteSet: voteSet)
        } else {
            becomeLearner(leader: vote.leader)
        }
    }
}

extension ZabNode {
    /// What a looking member holds (for simulator failure reports): round, proposal, the votes
    /// received this round and out of election, and when it decides or resends.
    public var electionSummary: String {
        guard case .looking(let election) = state else { return "not looking" }
        let received = election.received.keys.sorted().map { "\($0):\(election.received[$0]!.vote)" }.joined(separator: " ")
        let outside = election.outOfElection.keys.sorted().map { "\($0):\(election.outOfElection[$0]!.state)/\(election.outOfElection[$0]!.vote)" }.joined(separator: " ")
        return "round \(electionRound) proposal \(election.proposal.map { "\($0)" } ?? "none") received [\(received)] out [\(outside)] finalizeAt \(election.finalizeAt.map { "\($0)" } ?? "-") resendAt \(election.resendAt) tick \(tickCount)"
    }
}
