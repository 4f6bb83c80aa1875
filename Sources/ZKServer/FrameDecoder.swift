import NIOCore

/// What arrives on a client connection: a length-prefixed frame, or (first thing only) a
/// four-letter word such as `ruok`.
public enum InboundFrame {
    case fourLetterWord(String)
    case frame(ByteBuffer)
}

public struct FrameError: Error, CustomStringConvertible {
    public var description: String
}

/// Splits the byte stream into frames: int32 big-endian length + payload. A length below zero or
/// above jute.maxbuffer closes the connection before anything is allocated ("Len error").
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = InboundFrame

    public static let fourLetterWords: Set<String> = [
        "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr", "ruok", "srst", "srvr",
        "stat", "stmk", "wchc", "wchp", "wchs",
    ]

    private let frameBytesMax: Int
    private var firstFrame = true

    public init(frameBytesMax: Int) { self.frameBytesMax = frameBytesMax }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int32.self) else {
            return .needMoreData
        }
        if firstFrame {
            firstFrame = false
            if let bytes = buffer.getBytes(at: buffer.readerIndex, length: 4) {
                let word = String(decoding: bytes, as: UTF8.self)
                if Self.fourLetterWords.contains(word) {
                    buffer.moveReaderIndex(forwardBy: 4)
                    context.fireChannelRead(wrapInboundOut(.fourLetterWord(word)))
                    return .continue
                }
            }
        }
        guard length >= 0, Int(length) <= frameBytesMax else {
            throw FrameError(description: "Len error \(length)")
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        let frame = buffer.readSlice(length: Int(length))!
        context.fireChannelRead(wrapInboundOut(.frame(frame)))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        .needMoreData
    }
}
