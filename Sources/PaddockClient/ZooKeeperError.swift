import ZKBase

/// An operation's failure: ZooKeeper's error code (KeeperException.Code) and what failed.
public struct ZooKeeperError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String
    /// For a failed multi: each op's own result (the op that failed has its code, the ones
    /// before it `.ok`, the ones after it `.runtimeInconsistency`).
    public var multiResults: [OperationResult]

    public init(_ code: ErrorCode, _ message: String = "", multiResults: [OperationResult] = []) {
        self.code = code
        self.message = message
        self.multiResults = multiResults
    }

    public var description: String {
        message.isEmpty ? "ZooKeeper error \(code) (\(code.rawValue))" : "ZooKeeper error \(code) (\(code.rawValue)): \(message)"
    }

    /// Whether the request may not have reached the server's log: retrying a read is safe,
    /// retrying a write may apply it twice (see README "PaddockClient", retries).
    public var outcomeUnknown: Bool { code == .connectionLoss || code == .operationTimeout }
}
