import NIOCore
import ZKBase

/// The snapshot a ZooKeeper 3.8 leader writes after SNAP on the quorum stream
/// (`SerializeUtils.serializeSnapshot` + `DataTree.serialize`, then `LearnerHandler`'s signature):
///
///     int sessionCount, {long sessionId, int timeoutMs} x sessionCount
///     int aclCacheCount, {long aclRef, vector<ACL> acls} x aclCacheCount
///     {ustring path, buffer data, long aclRef, StatPersisted(60 bytes)}*   pre-order, root path ""
///     ustring "/"                                                          end of nodes
///     ustring "BenWasHere"                                                 signature
///
/// No header, checksum or digest. `ZooKeeperSnapshotStreamParser` reads it as it arrives; this
/// type finds where a whole one ends (it is not length-prefixed) with that parser, for callers
/// that keep the stream's bytes (tests, `--volatile` peers).
public enum ZooKeeperSnapshotStream {
    public static let signature = "BenWasHere"
    static let statPersistedBytes = 60

    /// The byte length of the snapshot stream at the front of `buffer` (signature included), or
    /// nil when it has not all arrived. Throws on bytes that cannot be such a stream.
    public static func length(of buffer: ByteBuffer, limits: QuorumWireLimits = QuorumWireLimits()) throws -> Int? {
        var progress = ScanProgress(limits: limits)
        return try length(of: buffer, limits: limits, resuming: &progress)
    }

    /// Where an unfinished scan of a stream stopped: the items before it are whole and checked
    /// (by `ZooKeeperSnapshotStreamParser`, the one reader of this format). A stream arriving in
    /// many reads is scanned once overall, not once per read.
    public struct ScanProgress: Sendable {
        var parser: ZooKeeperSnapshotStreamParser
        public init(limits: QuorumWireLimits = QuorumWireLimits()) { parser = ZooKeeperSnapshotStreamParser(limits: limits) }
    }

    /// `length(of:limits:)`, continuing from `progress` (which must come from scans of the same
    /// stream at the same reader index) and recording where it stopped. `limits` is the one
    /// `progress` was made with.
    public static func length(of buffer: ByteBuffer, limits: QuorumWireLimits, resuming progress: inout ScanProgress) throws -> Int? {
        var rest = buffer
        rest.moveReaderIndex(forwardBy: progress.parser.consumedBytes)
        while let item = try progress.parser.next(from: &rest) {
            if item == .end { return progress.parser.consumedBytes }
        }
        return nil
    }

    /// A stream holding only a root node whose data is `rootData`: what tests and the simulator send.
    public static func encodeMinimal(rootData: [UInt8]) -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 128 + rootData.count)
        buffer.writeJuteInt(0)
        buffer.writeJuteInt(0)
        buffer.writeJuteString("")
        buffer.writeJuteBuffer(rootData)
        buffer.writeJuteLong(-1)
        buffer.writeRepeatingByte(0, count: statPersistedBytes)
        buffer.writeJuteString("/")
        buffer.writeJuteString(signature)
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    /// The root node's data of a stream `encodeMinimal` made.
    public static func minimalRootData(_ bytes: [UInt8]) throws -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(bytes: bytes)
        guard try buffer.readJuteInt("sessions") == 0, try buffer.readJuteInt("acls") == 0,
              try buffer.readJuteString("path") == "" else { throw QuorumWireError.malformed("not a minimal snapshot stream") }
        return try buffer.readJuteBuffer("data") ?? []
    }
}
