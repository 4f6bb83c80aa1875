import ZKBase
import ZKZab

/// Where a member keeps its ZAB state: the epochs, the log and the state machine. The peer calls
/// every method on its event loop. `truncate`, `saveEpochs` and `installSnapshot` are durable
/// when they return; `append` is durable when `completion` runs (on any thread).
///
/// Contract the core relies on: completions are reported in append order, and `truncate` and
/// `installSnapshot` cancel every append still in flight for the entries they remove — no
/// completion may later report such an entry, or a re-appended entry with the same zxid would
/// look durable before it is (the core counts `persisted(through:)` by zxid).
public protocol ZabStore: AnyObject {
    func load() throws -> ZabPersistentState
    func append(_ entries: [ZabEntry], completion: @escaping @Sendable (Zxid) -> Void)
    func truncate(after zxid: Zxid) throws
    func saveEpochs(accepted: Int64, current: Int64) throws
    func installSnapshot(_ zxid: Zxid, _ snapshot: [UInt8]) throws
    func apply(_ entries: [ZabEntry])
    /// The snapshot stream (ZooKeeper's serialization after SNAP) of the applied state, which is at `zxid`.
    func snapshotStream(through zxid: Zxid) -> [UInt8]
    /// Why a snapshot received after SNAP cannot be installed (nil: it can). A bad one closes
    /// the connection to that leader before the core sees it; nothing is changed.
    func checkSnapshot(_ zxid: Zxid, _ snapshot: [UInt8]) -> String?
    /// Why a txn the leader sent (PROPOSAL, INFORM) cannot be logged (nil: it can); a bad one
    /// closes the connection to that leader.
    func checkEntry(_ entry: ZabEntry) -> String?
}

extension ZabStore {
    public func checkSnapshot(_ zxid: Zxid, _ snapshot: [UInt8]) -> String? { nil }
    public func checkEntry(_ entry: ZabEntry) -> String? { nil }
}

/// The server above a peer: the session layer and request pipeline that ZAB's session actions
/// (`prepare`, `syncDone`, `requestRefused`, `sessionsTouched`, `revalidateSession`,
/// `revalidationDone`, `writeRefused`) and role changes go to. Called on the peer's loop.
public protocol ZabServerLayer: AnyObject {
    func zabRoleChanged(_ role: ZabRole)
    func zabSessionAction(_ action: ZabAction)
}

/// A member's addresses from its `server.N` line.
public struct PeerAddress: Sendable, Equatable {
    public var id: ServerID
    public var host: String
    public var quorumPort: Int
    public var electionPort: Int

    public init(id: ServerID, host: String, quorumPort: Int, electionPort: Int) {
        self.id = id
        self.host = host
        self.quorumPort = quorumPort
        self.electionPort = electionPort
    }
}
