import ZKBase
import ZKWire

/// What applying one txn produced (ZooKeeper's ProcessTxnResult): the error, the path and stat
/// the reply needs, and per-op results for a multi.
public struct TxnResult: Sendable, Hashable {
    public var type: OpCode
    public var error: ErrorCode
    public var path: String?
    public var stat: Stat?
    public var multiResults: [TxnResult]

    public init(type: OpCode, error: ErrorCode = .ok, path: String? = nil, stat: Stat? = nil, multiResults: [TxnResult] = []) {
        self.type = type
        self.error = error
        self.path = path
        self.stat = stat
        self.multiResults = multiResults
    }
}
