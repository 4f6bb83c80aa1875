import ZKBase
import ZKWire
import ZKZab

/// A ZabStore in memory, for interoperability experiments only: it reports appends durable at
/// once and forgets everything when the process ends, so a member using it must never count
/// toward a quorum that matters. `paddock debug zab-peer` refuses to run without `--volatile`.
public final class VolatileZabStore: ZabStore, @unchecked Sendable {
    var state = ZabPersistentState()
    var appliedCount = 0
    var onApply: (@Sendable (Zxid, Int) -> Void)?

    public init(onApply: (@Sendable (Zxid, Int) -> Void)? = nil) { self.onApply = onApply }

    public func load() throws -> ZabPersistentState { state }

    public func append(_ entries: [ZabEntry], completion: @escaping @Sendable (Zxid) -> Void) {
        state.entries.append(contentsOf: entries)
        if let last = entries.last?.zxid { completion(last) }
    }

    public func truncate(after zxid: Zxid) throws {
        state.entries.removeAll { $0.zxid > zxid }
    }

    public func saveEpochs(accepted: Int64, current: Int64) throws {
        state.acceptedEpoch = accepted
        state.currentEpoch = current
    }

    public func installSnapshot(_ zxid: Zxid, _ snapshot: [UInt8]) throws {
        state.entries.removeAll()
        state.logBase = zxid
        state.appliedZxid = zxid
    }

    public func apply(_ entries: [ZabEntry]) {
        guard let last = entries.last else { return }
        appliedCount += entries.count
        state.appliedZxid = last.zxid
        onApply?(last.zxid, appliedCount)
    }

    public func snapshotSource(through zxid: Zxid) -> any ZabSnapshotSource {
        WholeSnapshotSource(ZooKeeperSnapshotStream.encodeMinimal(rootData: []))
    }

    public func snapshotSink(_ zxid: Zxid) -> any ZabSnapshotSink { WholeSnapshotSink() }
}
