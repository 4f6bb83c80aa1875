import Testing
import ZKBase
import ZKZab

/// ZooKeeper's Leader.reportLookingSid / quitLeading: a new leader still waiting for a quorum's
/// FOLLOWERINFO past zookeeper.leader.maxTimeToWaitForEpoch quits when a voter that elected it is
/// looking again, and counts quit_leading_due_to_disloyal_voter. The core says so with
/// `.quitLeading(.disloyalVoter)`; the shell counts it.
@Suite struct DisloyalVoterTests {
    /// Member 3 of {1, 2, 3}, elected with 2's vote; its election round.
    func electedLeader(epochWaitTicksMax: Int?) -> (node: ZabNode, round: Int64) {
        var configuration = ZabConfiguration(myId: 3, voters: [1, 2, 3], initLimitTicks: 40)
        configuration.epochWaitTicksMax = epochWaitTicksMax
        var node = ZabNode(configuration: configuration, persistent: ZabPersistentState())
        let started = node.start()
        let round = started.compactMap { action -> Int64? in
            if case .sendElection(_, let notification) = action { return notification.electionEpoch } else { return nil }
        }.first ?? 1
        let vote = Vote(leader: 3, zxid: .zero, peerEpoch: 0)
        _ = node.handle(.election(ElectionNotification(vote: vote, electionEpoch: round, state: .looking, sender: 2)))
        for _ in 0..<3 where node.role == .looking { _ = node.handle(.tick) }
        return (node, round)
    }

    func lookingNotification(from sender: ServerID, round: Int64) -> ZabInput {
        .election(ElectionNotification(vote: Vote(leader: sender, zxid: .zero, peerEpoch: 0), electionEpoch: round + 1,
                                       state: .looking, sender: sender))
    }

    @Test func aLeaderWaitingPastTheLimitQuitsWhenAVoterThatElectedItLooksAgain() {
        var (node, round) = electedLeader(epochWaitTicksMax: 3)
        guard case .leading(_, false) = node.role else {
            Issue.record("not leading: \(node.role)")
            return
        }
        // Within the limit: the looking voter is answered, the leader stays.
        var actions = node.handle(lookingNotification(from: 2, round: round))
        #expect(!actions.contains(.quitLeading(.disloyalVoter(2))))
        for _ in 0..<4 { _ = node.handle(.tick) }
        // Member 1 did not vote for it: no reason to quit.
        actions = node.handle(lookingNotification(from: 1, round: round))
        #expect(actions.filter { if case .quitLeading = $0 { return true } else { return false } }.isEmpty)
        #expect(node.role != .looking)
        // Past the limit, 2 (which elected it) is looking: it quits, says why, and looks again.
        actions = node.handle(lookingNotification(from: 2, round: round))
        #expect(actions.contains(.quitLeading(.disloyalVoter(2))))
        #expect(actions.contains(.roleChanged(.looking)))
        #expect(node.role == .looking)
    }

    @Test func withoutTheLimitTheLeaderWaitsForInitLimit() {
        var (node, round) = electedLeader(epochWaitTicksMax: nil)
        for _ in 0..<10 { _ = node.handle(.tick) }
        let actions = node.handle(lookingNotification(from: 2, round: round))
        #expect(actions.filter { if case .quitLeading = $0 { return true } else { return false } }.isEmpty)
        guard case .leading = node.role else {
            Issue.record("stopped leading: \(node.role)")
            return
        }
    }
}
