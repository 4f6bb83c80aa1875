/// What `paddock bench load` runs: against any ZooKeeper-compatible server, over the wire.
public struct LoadConfiguration: Sendable {
    public enum Operation: Sendable, Equatable {
        case create
        case set
        case get
        /// Reads with this probability (0...1), sets otherwise.
        case mixed(readFraction: Double)

        public init?(parsing text: String) {
            switch text {
            case "create": self = .create
            case "set": self = .set
            case "get": self = .get
            default:
                guard text.hasPrefix("mixed:"), let fraction = Double(text.dropFirst(6)), (0...1).contains(fraction) else {
                    return nil
                }
                self = .mixed(readFraction: fraction)
            }
        }

        public var name: String {
            switch self {
            case .create: return "create"
            case .set: return "set"
            case .get: return "get"
            case .mixed(let fraction): return "mixed:\(fraction)"
            }
        }
    }

    public var hosts: [(host: String, port: Int)]
    public var operation: Operation
    public var sessions: Int
    public var inflight: Int
    public var valueBytes: Int
    public var znodes: Int
    public var warmupSeconds: Double
    public var seconds: Double
    public var threads: Int
    /// Root under which the benchmark creates its znodes (removed at the end).
    public var root: String
    public var seed: UInt64
    /// Each write carries different random bytes (values that do not compress), instead of one
    /// patterned value per session.
    public var randomValues = false

    public init(
        hosts: [(host: String, port: Int)], operation: Operation, sessions: Int = 8, inflight: Int = 16,
        valueBytes: Int = 1024, znodes: Int = 1000, warmupSeconds: Double = 2, seconds: Double = 10, threads: Int = 1,
        root: String = "/paddock-bench", seed: UInt64 = 1
    ) {
        self.hosts = hosts
        self.operation = operation
        self.sessions = sessions
        self.inflight = inflight
        self.valueBytes = valueBytes
        self.znodes = znodes
        self.warmupSeconds = warmupSeconds
        self.seconds = seconds
        self.threads = threads
        self.root = root
        self.seed = seed
    }
}

/// What a run measured.
public struct LoadReport: Sendable, Codable {
    public var operation: String
    public var sessions: Int
    public var inflight: Int
    public var valueBytes: Int
    public var seconds: Double
    public var operations: UInt64
    public var errors: UInt64
    public var operationsPerSecond: Double
    public var latencyMicrosecondsP50: UInt64
    public var latencyMicrosecondsP99: UInt64
    public var latencyMicrosecondsP999: UInt64
    public var latencyMicrosecondsMax: UInt64
    /// CPU time of this load generator per operation (user + system), in microseconds.
    public var clientCPUMicrosecondsPerOperation: Double
    /// CPU time of the server process per operation, when its pid was given.
    public var serverCPUMicrosecondsPerOperation: Double?
    /// Operations per second in each whole second of the measured period, in order.
    public var operationsPerSecondSeries: [Double]? = nil
}
