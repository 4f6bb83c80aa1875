import Testing
import ZKSim
import ZKZab

/// The simulator must catch Apache ZooKeeper's sync-phase bugs when they are put back into the
/// core: for each, some seed of a bounded search fails an invariant. (If the core's safeguards
/// were not what keeps the fixed seeds passing, these would find nothing.)
@Suite struct InjectedBugTests {
    /// Searches seeds 1...limit; returns the first failing report.
    func firstFailure(_ bug: ZabInjectedBugs, limit: UInt64) -> SimulationReport? {
        for seed in 1...limit {
            let report = Simulation.run(SimulationOptions(seed: seed, injectedBugs: bug))
            // Only a safety violation counts as finding the bug, not a run that failed to converge.
            if let failure = report.failure, !failure.hasPrefix("no convergence"), !failure.hasPrefix("more than") {
                return report
            }
        }
        return nil
    }

    @Test(arguments: [
        ("ZOOKEEPER-4646/4685: ACK of NEWLEADER before the synced txns are durable", ZabInjectedBugs.ackNewLeaderBeforePersist),
        ("ZOOKEEPER-3911: currentEpoch recorded before the synced txns are durable", ZabInjectedBugs.currentEpochBeforeTxnsPersisted),
        ("ZOOKEEPER-4785: DIFF past a diverged log instead of TRUNC", ZabInjectedBugs.diffInsteadOfTrunc),
    ])
    func simulatorFindsBug(_ name: String, _ bug: ZabInjectedBugs) {
        let found = firstFailure(bug, limit: 120)
        #expect(found != nil, "no seed in 1...120 found \(name)")
        if let found { print("\(name): found by seed \(found.options.seed): \(found.failure ?? "")") }
    }
}
