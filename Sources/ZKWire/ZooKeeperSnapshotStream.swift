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
/// No header, checksum or digest. This type only finds where such a stream ends (it is not
/// length-prefixed), checking every length against limits, so the shell can hand the whole
/// stream to the snapshot reader.
public enum ZooKeeperSnapshotStream {
    public static let signature = "BenWasHere"
    static let statPersistedBytes = 60

    /// The byte length of the snapshot stream at the front of `buffer` (signature included), or
    /// nil when it has not all arrived. Throws on bytes that cannot be such a stream.
    public static func length(of buffer: ByteBuffer, limits: QuorumWireLimits = QuorumWireLimits()) throws -> Int? {
        var progress = ScanProgress()
        return try length(of: buffer, limits: limits, resuming: &progress)
    }

    /// Where an unfinished scan of a stream stopped: the node records before `nodesOffset`
    /// (relative to the stream's start) are whole and checked. A stream arriving in many reads
    /// is scanned once overall, not once per read.
    public struct ScanProgress: Sendable {
        var nodesOffset: Int?
        var nodes = 0
        public init() {}
    }

    /// `length(of:limits:)`, continuing from `progress` (which must come from scans of the same
    /// stream at the same reader index) and recording where it stopped.
    public static func length(of buffer: ByteBuffer, limits: QuorumWireLimits, resuming progress: inout ScanProgress) throws -> Int? {
        var scanner = QuorumScanner(buffer, limits: limits)
        if let resume = progress.nodesOffset {
            guard scanner.skip(resume) else { return nil }
            return try scanNodes(&scanner, buffer, limits, &progress)
        }
        guard let sessions = scanner.int() else { return nil }
        try checkCount("sessions", sessions, limits)
        guard scanner.skip(Int(sessions) * 12) else { return nil }
        guard let lists = scanner.int() else { return nil }
        try checkCount("ACL cache", lists, limits)
        for _ in 0..<lists {
            guard scanner.long() != nil, let count = scanner.int() else { return nil }
            if count == -1 { continue }
            try checkCount("ACL list", count, limits)
            for _ in 0..<count {
                guard scanner.int() != nil, try scanner.lengthPrefixed("Id.scheme", maximum: limits.bufferBytesMax),
                      try scanner.lengthPrefixed("Id.id", maximum: limits.bufferBytesMax) else { return nil }
            }
        }
        progress.nodesOffset = scanner.consumed
        return try scanNodes(&scanner, buffer, limits, &progress)
    }

    static func scanNodes(_ scanner: inout QuorumScanner, _ buffer: ByteBuffer, _ limits: QuorumWireLimits,
                          _ progress: inout ScanProgress) throws -> Int? {
        var nodes = progress.nodes
        while true {
            // Every record before this one is whole: a later call starts here.
            progress.nodesOffset = scanner.consumed
            progress.nodes = nodes
            let pathStart = scanner.offset
            guard let pathLength = scanner.int() else { return nil }
            guard pathLength >= 0, Int(pathLength) <= limits.bufferBytesMax else {
                throw QuorumWireError.lengthOutOfRange(field: "snapshot path", length: Int64(pathLength), maximum: limits.bufferBytesMax)
            }
            guard scanner.skip(Int(pathLength)) else { return nil }
            if pathLength == 1, buffer.getInteger(at: pathStart + 4, as: UInt8.self) == UInt8(ascii: "/") { break }
            guard try scanner.lengthPrefixed("snapshot node data", maximum: limits.bufferBytesMax),
                  scanner.skip(8 + statPersistedBytes) else { return nil }
            nodes += 1
            guard nodes <= limits.snapshotItemsMax else {
                throw QuorumWireError.lengthOutOfRange(field: "snapshot nodes", length: Int64(nodes), maximum: limits.snapshotItemsMax)
            }
            guard scanner.consumed <= limits.snapshotBytesMax else {
                throw QuorumWireError.lengthOutOfRange(field: "snapshot", length: Int64(scanner.consumed), maximum: limits.snapshotBytesMax)
            }
        }
        let signatureStart = scanner.offset
        guard let signatureLength = scanner.int() else { return nil }
        guard signatureLength == Int32(signature.utf8.count) else {
            throw QuorumWireError.malformed("snapshot signature length \(signatureLength)")
        }
        guard scanner.skip(Int(signatureLength)) else { return nil }
        let found = buffer.getBytes(at: signatureStart + 4, length: Int(signatureLength)) ?? []
        guard found == Array(signature.utf8) else { throw QuorumWireError.malformed("snapshot signature is not \(signature)") }
        return scanner.consumed
    }

    static func checkCount(_ field: String, _ count: Int32, _ limits: QuorumWireLimits) throws {
        guard count >= 0, Int(count) <= limits.snapshotItemsMax else {
            throw QuorumWireError.lengthOutOfRange(field: "snapshot \(field)", length: Int64(count), maximum: limits.snapshotItemsMax)
        }
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
