import NIOCore
import ZKBase

/// Reads a SNAP sync's snapshot stream (layout in `ZooKeeperSnapshotStream`) as it arrives: each
/// call takes the next whole item off the front of the buffer and leaves a partial one for the
/// next read, so a learner verifies and loads a snapshot of any size while holding only the bytes
/// of one item, never the whole stream. Every count and length is checked against the limits.
public struct ZooKeeperSnapshotStreamParser: Sendable {
    public enum Item: Sendable, Equatable {
        case session(id: Int64, timeoutMs: Int32)
        case aclList(id: Int64, acl: [ACL])
        /// `path` as ZooKeeper writes it: "" for the root.
        case node(path: String, data: [UInt8]?, aclId: Int64, stat: StatPersisted)
        /// The "/" end marker and the signature have been read: nothing follows.
        case end
    }

    private enum Phase: Sendable {
        case sessionCount
        case sessions(left: Int)
        case aclCount
        case aclLists(left: Int)
        case nodes
        case signature
        case finished
    }

    public let limits: QuorumWireLimits
    private var phase = Phase.sessionCount
    public private(set) var nodeCount = 0
    /// Bytes of the stream consumed so far.
    public private(set) var consumedBytes = 0

    public init(limits: QuorumWireLimits = QuorumWireLimits()) { self.limits = limits }

    public var isFinished: Bool { if case .finished = phase { true } else { false } }

    /// The next item, or nil until its bytes have all arrived. Throws on bytes that cannot be
    /// such a stream; after `.end` it must not be called again.
    public mutating func next(from buffer: inout ByteBuffer) throws -> Item? {
        while true {
            let start = buffer.readerIndex
            guard let item = try step(&buffer) else { return nil }
            consumedBytes += buffer.readerIndex - start
            guard consumedBytes <= limits.snapshotBytesMax else {
                throw QuorumWireError.lengthOutOfRange(field: "snapshot", length: Int64(consumedBytes), maximum: limits.snapshotBytesMax)
            }
            if let item { return item }
        }
    }

    /// One step: nil when more bytes are needed, `.some(nil)` when a count was read (no item).
    private mutating func step(_ buffer: inout ByteBuffer) throws -> Item?? {
        switch phase {
        case .sessionCount:
            guard let count = buffer.readInteger(endianness: .big, as: Int32.self) else { return nil }
            phase = .sessions(left: try checkedCount("sessions", count))
            return .some(nil)
        case .sessions(let left):
            if left == 0 {
                phase = .aclCount
                return .some(nil)
            }
            guard buffer.readableBytes >= 12 else { return nil }
            let id = try buffer.readJuteLong("session id")
            let timeout = try buffer.readJuteInt("session timeout")
            phase = .sessions(left: left - 1)
            return .session(id: id, timeoutMs: timeout)
        case .aclCount:
            guard let count = buffer.readInteger(endianness: .big, as: Int32.self) else { return nil }
            phase = .aclLists(left: try checkedCount("ACL cache", count))
            return .some(nil)
        case .aclLists(let left):
            if left == 0 {
                phase = .nodes
                return .some(nil)
            }
            guard try aclListIsWhole(buffer) else { return nil }
            let id = try buffer.readJuteLong("ACL id")
            let acl = try buffer.readACLVector("ACL list") ?? []
            phase = .aclLists(left: left - 1)
            return .aclList(id: id, acl: acl)
        case .nodes:
            var scanner = QuorumScanner(buffer, limits: limits)
            guard let pathLength = scanner.int() else { return nil }
            guard pathLength >= 0, Int(pathLength) <= limits.bufferBytesMax else {
                throw QuorumWireError.lengthOutOfRange(field: "snapshot path", length: Int64(pathLength), maximum: limits.bufferBytesMax)
            }
            guard scanner.skip(Int(pathLength)) else { return nil }
            if pathLength == 1, buffer.getInteger(at: buffer.readerIndex + 4, as: UInt8.self) == UInt8(ascii: "/") {
                buffer.moveReaderIndex(forwardBy: 5)
                phase = .signature
                return .some(nil)
            }
            guard try scanner.lengthPrefixed("snapshot node data", maximum: limits.bufferBytesMax),
                  scanner.skip(8 + ZooKeeperSnapshotStream.statPersistedBytes) else { return nil }
            nodeCount += 1
            guard nodeCount <= limits.snapshotItemsMax else {
                throw QuorumWireError.lengthOutOfRange(field: "snapshot nodes", length: Int64(nodeCount), maximum: limits.snapshotItemsMax)
            }
            let path = try buffer.readJuteString("snapshot path") ?? ""
            let data = try buffer.readJuteBuffer("snapshot node data")
            let aclId = try buffer.readJuteLong("snapshot node ACL id")
            return .node(path: path, data: data, aclId: aclId, stat: try StatPersisted(from: &buffer))
        case .signature:
            let expected = Array(ZooKeeperSnapshotStream.signature.utf8)
            guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int32.self) else { return nil }
            guard length == Int32(expected.count) else { throw QuorumWireError.malformed("snapshot signature length \(length)") }
            guard buffer.readableBytes >= 4 + expected.count else { return nil }
            buffer.moveReaderIndex(forwardBy: 4)
            guard buffer.readBytes(length: expected.count) == expected else {
                throw QuorumWireError.malformed("snapshot signature is not \(ZooKeeperSnapshotStream.signature)")
            }
            phase = .finished
            return .end
        case .finished:
            preconditionFailure("the snapshot stream parser was called after the signature")
        }
    }

    private func checkedCount(_ field: String, _ count: Int32) throws -> Int {
        guard count >= 0, Int(count) <= limits.snapshotItemsMax else {
            throw QuorumWireError.lengthOutOfRange(field: "snapshot \(field)", length: Int64(count), maximum: limits.snapshotItemsMax)
        }
        return Int(count)
    }

    private func aclListIsWhole(_ buffer: ByteBuffer) throws -> Bool {
        var scanner = QuorumScanner(buffer, limits: limits)
        guard scanner.long() != nil, let count = scanner.int() else { return false }
        if count == -1 { return true }
        _ = try checkedCount("ACL list", count)
        for _ in 0..<count {
            guard scanner.int() != nil, try scanner.lengthPrefixed("Id.scheme", maximum: limits.bufferBytesMax),
                  try scanner.lengthPrefixed("Id.id", maximum: limits.bufferBytesMax) else { return false }
        }
        return true
    }
}
