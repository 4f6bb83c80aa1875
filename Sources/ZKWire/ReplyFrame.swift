import NIOCore
import ZKBase

/// A reply in its wire form: the 4-byte frame length, the ReplyHeader, the body. Every reply
/// frame a server sends is laid out here.
///
/// A getData reply is encoded where it is produced, with its value copied once from the tree's
/// storage into the frame: carrying the value as a `[UInt8]` cost an allocation, a copy and a
/// free per read (about a sixth of a getData's time in perf), and a borrowed view of the tree
/// would not outlive a write applied later in the same step, which may change or move the bytes.
/// The frame is complete, so the shell sends it without touching it (a write to a buffer the
/// output still shares would copy it).
public struct ReplyFrame: Sendable, Hashable {
    /// The header again as a value, for the shell's bookkeeping (which request it answers).
    public let header: ReplyHeader
    /// The whole frame, its length included.
    public let bytes: ByteBuffer
    /// The getData value's length (0 for a null value): ZooKeeper counts it in read_per_namespace.
    public let dataCount: Int

    /// Length prefix plus ReplyHeader.
    public static let headBytes = 4 + ReplyHeader.encodedSize

    /// A successful getData reply (GetDataResponse{data, stat}); `data` nil for a null value.
    public static func getData(
        header: ReplyHeader, data: UnsafeRawBufferPointer?, stat: Stat, allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) -> ReplyFrame {
        let dataCount = data?.count ?? 0
        let frameBytes = headBytes + 4 + dataCount + Stat.encodedSize
        var bytes = allocator.buffer(capacity: frameBytes)
        // One write of the whole frame (see JuteRawWriter).
        bytes.writeJuteRecord(byteCount: frameBytes) { writer in
            writer.int32(Int32(frameBytes - 4))
            header.store(into: &writer)
            writer.buffer(data)
            stat.store(into: &writer)
        }
        return ReplyFrame(header: header, bytes: bytes, dataCount: dataCount)
    }

    /// The frame of a reply held as a value.
    public static func encode(_ header: ReplyHeader, _ body: ResponseBody, allocator: ByteBufferAllocator) -> ByteBuffer {
        var bytes = allocator.buffer(capacity: 64)
        bytes.writeJuteInt(0)
        header.encode(into: &bytes)
        body.encode(into: &bytes)
        setLength(of: &bytes)
        return bytes
    }

    /// Fills in the 4-byte length at the front of a frame written after a placeholder.
    public static func setLength(of frame: inout ByteBuffer) {
        precondition(frame.readableBytes >= 4, "a frame starts with its 4-byte length")
        frame.setInteger(Int32(frame.readableBytes - 4), at: frame.readerIndex, endianness: .big)
    }

    /// The header and body read back (for tests and the simulator; the shell never decodes its own replies).
    public func decoded(as opCode: OpCode) throws -> (header: ReplyHeader, body: ResponseBody) {
        var frame = bytes
        let length = try frame.readJuteInt("ReplyFrame.length")
        guard Int(length) == frame.readableBytes else {
            throw JuteDecodingError.lengthOutOfRange(field: "ReplyFrame.length", length: length)
        }
        let header = try ReplyHeader(from: &frame)
        return (header, try ResponseBody.decode(opCode: opCode, from: &frame))
    }
}
