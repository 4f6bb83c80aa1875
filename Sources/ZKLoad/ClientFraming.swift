import NIOCore
import ZKWire

/// Client-side framing shared by the load sessions and the setup session: the connect frame,
/// length-prefixed request frames, and splitting the byte stream back into reply frames.
struct ClientFraming {
    private var inbound = ByteBuffer()

    mutating func append(_ incoming: inout ByteBuffer) { inbound.writeBuffer(&incoming) }

    /// The next complete frame's payload, or nil until more bytes arrive.
    mutating func nextFrame() -> ByteBuffer? {
        guard let length = inbound.getInteger(at: inbound.readerIndex, as: Int32.self),
            length >= 0, inbound.readableBytes >= 4 + Int(length)
        else { return nil }
        inbound.moveReaderIndex(forwardBy: 4)
        return inbound.readSlice(length: Int(length))
    }

    mutating func compact() { inbound.discardReadBytes() }

    static func connectFrame(allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 64)
        buffer.writeInteger(Int32(0))
        ConnectRequest(timeoutMs: 30_000).encode(into: &buffer)
        buffer.setInteger(Int32(buffer.readableBytes - 4), at: 0)
        return buffer
    }

    static func requestFrame(_ request: ClientRequest, allocator: ByteBufferAllocator, capacity: Int) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: capacity)
        buffer.writeInteger(Int32(0))
        request.encode(into: &buffer)
        buffer.setInteger(Int32(buffer.readableBytes - 4), at: 0)
        return buffer
    }
}
