import NIOCore
import ZKBase
import ZKWire
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
    /// The snapshot stream (ZooKeeper's serialization after SNAP) of the applied state, which
    /// is at `zxid` now; the peer sends its parts as the connection drains, between other work.
    func snapshotSource(through zxid: Zxid) -> any ZabSnapshotSource
    /// Where the stream after a leader's SNAP at `zxid` goes as it arrives. A stream it refuses
    /// closes the connection to that leader before the core sees the SNAP; nothing is changed.
    func snapshotSink(_ zxid: Zxid) -> any ZabSnapshotSink
    /// Why a txn the leader sent (PROPOSAL, INFORM) cannot be logged (nil: it can); a bad one
    /// closes the connection to that leader.
    func checkEntry(_ entry: ZabEntry) -> String?
}

extension ZabStore {
    public func checkEntry(_ entry: ZabEntry) -> String? { nil }
}

/// A leader's snapshot stream, made a part at a time on the peer's loop.
public protocol ZabSnapshotSource: AnyObject {
    /// The next part, or nil once the stream has all been given. Throws when it cannot go on
    /// (the state was replaced meanwhile): the learner's connection is closed.
    func nextPart() throws -> ByteBuffer?
}

/// A learner's reader of the stream after SNAP, fed on the peer's loop as bytes arrive.
public protocol ZabSnapshotSink: AnyObject {
    /// Takes the stream's bytes off the front of `buffer`, verifying them; true once the whole
    /// stream has been read (bytes after it stay in `buffer`). Throws on a stream it refuses.
    func consume(_ buffer: inout ByteBuffer) throws -> Bool
    /// What the SNAP message hands the core for `installSnapshot` (empty when the store keeps
    /// what it read itself).
    var snapshotBytes: [UInt8] { get }
}

/// A stream given whole at once (stores whose snapshots are small: tests, `--volatile`).
public final class WholeSnapshotSource: ZabSnapshotSource {
    var bytes: [UInt8]?
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public func nextPart() throws -> ByteBuffer? { bytes.take().map { ByteBuffer(bytes: $0) } }
}

/// Keeps the stream's bytes until its end (found by `ZooKeeperSnapshotStream`'s scan), for
/// stores that read the whole stream at `installSnapshot` (tests, `--volatile`).
public final class WholeSnapshotSink: ZabSnapshotSink {
    let limits: QuorumWireLimits
    var scan: ZooKeeperSnapshotStream.ScanProgress
    var collected = ByteBuffer()
    public private(set) var snapshotBytes: [UInt8] = []

    public init(limits: QuorumWireLimits = QuorumWireLimits()) {
        self.limits = limits
        scan = ZooKeeperSnapshotStream.ScanProgress(limits: limits)
    }

    public func consume(_ buffer: inout ByteBuffer) throws -> Bool {
        collected.writeBuffer(&buffer)
        guard let length = try ZooKeeperSnapshotStream.length(of: collected, limits: limits, resuming: &scan) else { return false }
        snapshotBytes = collected.readBytes(length: length) ?? []
        // What followed the stream goes back to the connection's buffer.
        buffer = collected
        collected = ByteBuffer()
        return true
    }
}

/// The server above a peer: the session layer and request pipeline that ZAB's session actions
/// (`prepare`, `syncDone`, `requestRefused`, `sessionsTouched`, `revalidateSession`,
/// `revalidationDone`, `writeRefused`) and role changes go to. Called on the peer's loop.
public protocol ZabServerLayer: AnyObject {
    func zabRoleChanged(_ role: ZabRole)
    func zabSessionAction(_ action: ZabAction)
    /// A quorum message as it crosses the wire, for metrics: each one read (`sent` false; before
    /// bursts of ACKs and COMMITs are folded into their last) and each one written to a learner
    /// or the leader (`sent` true). Nothing may be changed in reply.
    func zabQuorumMessage(_ message: ZabMessage, sent: Bool)
    /// Leader, for metrics: a learner's ACK of a proposal not yet committed was read (`zxid`,
    /// the learner's server id, the proposal when the leader still holds it).
    func zabAckRead(_ zxid: Zxid, from sid: ServerID, proposal: ZabEntry?)
    /// Leader, for metrics: quorum packets left the queue to a learner: for each, how many were
    /// still queued behind it, and, for every 1000th packet to it, how long it waited (ns)
    /// (ZooKeeper's LearnerHandler.sendPackets and its marker packets).
    func zabLearnerQueueDrained(_ sid: ServerID, queuedBehind: Int, markerWaitNanoseconds: [Int64])
    /// The leader quit leading for a reason ZooKeeper counts.
    func zabQuitLeading(_ reason: ZabQuitLeadingReason)
}

extension ZabServerLayer {
    public func zabQuorumMessage(_ message: ZabMessage, sent: Bool) {}
    public func zabAckRead(_ zxid: Zxid, from sid: ServerID, proposal: ZabEntry?) {}
    public func zabLearnerQueueDrained(_ sid: ServerID, queuedBehind: Int, markerWaitNanoseconds: [Int64]) {}
    public func zabQuitLeading(_ reason: ZabQuitLeadingReason) {}
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
