import ZKBase
import ZKZab

/// The simulator's only source of randomness (ZKBase's SplitMix64).
public typealias SeededGenerator = SplitMix64

/// One simulated run's shape. The seed also picks the fault rates ("swarm testing"), so
/// different seeds stress different mixes; `SimulationOptions(seed:)` is what the tests use.
public struct SimulationOptions: Sendable, CustomStringConvertible {
    public var seed: UInt64
    public var voters: Int
    public var observers: Int
    /// Simulated time with faults, then time for the healed ensemble to converge (in steps; a
    /// member's tick is about `stepsPerTick` steps, with drift).
    public var faultSteps: Int64
    public var livenessSteps: Int64
    public var stepsPerTick: Int64 = 10
    /// A run that needs more events than this is stuck in a storm: a failure, not a hang.
    public var eventsMax = 2_000_000
    /// Per-message probabilities and delays on the election "datagrams" and quorum links.
    public var dropProbability: Double
    public var duplicateProbability: Double
    public var delayStepsMax: Int64
    /// Per-step probabilities of a fault event.
    public var crashProbability: Double
    public var pauseProbability: Double
    public var partitionProbability: Double
    public var linkCutProbability: Double
    /// Disk: how long an append takes to become durable, and how often it is very slow.
    public var diskDelayStepsMax: Int64
    public var slowDiskProbability: Double
    public var writeProbability: Double
    /// Chance of crashing a learner just after it takes a new epoch, or a leader just after it is established.
    public var syncWindowCrashProbability: Double
    public var committedEntriesKeptMax: Int
    /// Run the request pipeline (`ServerCore`) on every member and drive writes from clients
    /// through it (Simulation+Server); off, writes go straight to the leader's ZAB core.
    public var serverLayer = true
    public var injectedBugs: ZabInjectedBugs

    public init(seed: UInt64, injectedBugs: ZabInjectedBugs = []) {
        var random = SeededGenerator(seed: seed ^ 0x5eed_0f_5eed)
        self.seed = seed
        self.voters = [3, 3, 5, 5, 7].randomElement(using: &random)!
        self.observers = Int.random(in: 0...1, using: &random)
        self.faultSteps = 20_000
        self.livenessSteps = 12_000
        self.dropProbability = [0, 0.01, 0.05, 0.2].randomElement(using: &random)!
        self.duplicateProbability = [0, 0.01, 0.05].randomElement(using: &random)!
        self.delayStepsMax = [2, 5, 15, 40].randomElement(using: &random)!
        self.crashProbability = [0.0002, 0.0005, 0.001].randomElement(using: &random)!
        self.pauseProbability = [0, 0.0002, 0.0005].randomElement(using: &random)!
        self.partitionProbability = [0, 0.0002, 0.0005].randomElement(using: &random)!
        self.linkCutProbability = [0, 0.0005, 0.002].randomElement(using: &random)!
        self.diskDelayStepsMax = [1, 5, 20].randomElement(using: &random)!
        self.slowDiskProbability = [0, 0.01, 0.05].randomElement(using: &random)!
        self.writeProbability = [0.05, 0.2, 0.5].randomElement(using: &random)!
        self.committedEntriesKeptMax = [8, 50, 500].randomElement(using: &random)!
        self.syncWindowCrashProbability = [0, 0.05, 0.2, 0.5].randomElement(using: &random)!
        self.injectedBugs = injectedBugs
    }

    public var description: String {
        "seed \(seed): \(voters) voters + \(observers) observers, drop \(dropProbability), dup \(duplicateProbability), "
            + "delay <= \(delayStepsMax), crash \(crashProbability), pause \(pauseProbability), partition \(partitionProbability), "
            + "cut \(linkCutProbability), disk <= \(diskDelayStepsMax) (slow \(slowDiskProbability)), writes \(writeProbability), "
            + "kept \(committedEntriesKeptMax), sync-window crashes \(syncWindowCrashProbability)"
    }
}

/// What a run found. `failure` is nil when every invariant held and the ensemble converged.
public struct SimulationReport: Sendable, CustomStringConvertible {
    public var options: SimulationOptions
    public var failure: String?
    public var steps: Int64 = 0
    public var events = 0
    public var writesAcknowledged = 0
    public var committedTxns = 0
    public var elections = 0
    public var crashes = 0
    public var snapSyncs = 0
    public var truncSyncs = 0
    public var diffSyncs = 0
    /// Client syncs that returned, each checked against the writes acknowledged before it.
    public var syncsCompleted = 0
    /// Session touches that reached an established leader (its own clients' or in PING replies).
    public var sessionTouchesReported = 0
    /// Reconnecting sessions the leader confirmed alive (REVALIDATE round trips).
    public var revalidations = 0
    /// Leaders that quit because a voter that elected them went back to looking.
    public var quitLeadingDueToDisloyalVoter = 0
    /// Creates whose client got a successful reply (server layer).
    public var clientWritesAcknowledged = 0
    /// Reads (exists) clients sent to members (server layer).
    public var clientReads = 0
    public var epochs = 0
    /// The last events before the end (or the failure), one line each.
    public var trace: [String] = []

    public var description: String {
        var text = "\(options)\n  \(failure.map { "FAILED: \($0)" } ?? "ok"): \(steps) steps, \(events) events, "
            + "\(writesAcknowledged) writes acknowledged, \(committedTxns) txns committed, \(epochs) epochs, "
            + "\(crashes) crashes, syncs diff/trunc/snap \(diffSyncs)/\(truncSyncs)/\(snapSyncs), client syncs \(syncsCompleted), session touches \(sessionTouchesReported), client creates answered \(clientWritesAcknowledged)"
        if failure != nil { text += "\n  last events:\n    " + trace.joined(separator: "\n    ") }
        return text
    }
}
