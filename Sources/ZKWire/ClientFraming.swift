import NIOCore

/// Client-side framing (the load generator's sessions and PaddockClient): the connect frame,
/// length-prefixed request frames, and splitting the byte stream back into reply frames.
public struct ClientFraming: Sendable {
    private var inbound = ByteBuffer()
    /// A reply frame longer than this is refused (jute.maxbuffer's default plus headroom).
    public let frameBytesMax: Int

    public init(frameBytesMax: Int = 0xfffff + 1024) { self.frameBytesMax = frameBytesMax }

    public mutating func append(_ incoming: inout ByteBuffer) { inbound.writeBuffer(&incoming) }

    /// Bytes received and not yet returned as frames.
    public var bufferedBytes: Int { inbound.readableBytes }

    /// The next complete frame's payload, or nil until more bytes arrive; throws on a length
    /// below zero or over `frameBytesMax` (the connection must close).
    public mutating func nextFrame() throws(ClientFramingError) -> ByteBuffer? {
        guard let length = inbound.getInteger(at: inbound.readerIndex, as: Int32.self) else { return nil }
        guard length >= 0, Int(length) <= frameBytesMax else { throw ClientFramingError(length: length) }
        guard inbound.readableBytes >= 4 + Int(length) else { return nil }
        inbound.moveReaderIndex(forwardBy: 4)
        return inbound.readSlice(length: Int(length))
    }

    public mutating func compact() { inbound.discardReadBytes() }

    public static func connectFrame(_ request: ConnectRequest = ConnectRequest(timeoutMs: 30_000), allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 64)
        buffer.writeInteger(Int32(0))
        request.encode(into: &buffer)
        buffer.setInteger(Int32(buffer.readableBytes - 4), at: 0)
        return buffer
    }

    public static func requestFrame(_ request: ClientRequest, allocator: ByteBufferAllocator, capacity: Int) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: capacity)
        writeRequestFrame(request, into: &buffer)
        return buffer
    }

    /// Appends one length-prefixed request frame to `buffer`.
    public static func writeRequestFrame(_ request: ClientRequest, into buffer: inout ByteBuffer) {
        let start = buffer.writerIndex
        buffer.writeInteger(Int32(0))
        request.encode(into: &buffer)
        buffer.setInteger(Int32(buffer.writerIndex - start - 4), at: start)
    }
}

public struct ClientFramingError: Error, CustomStringConvertible, Sendable {
    public var length: Int32
    public var description: String { "reply frame length \(length) out of range" }
}
