import NIOCore
import NIOEmbedded
import Testing
import ZKServer

@Suite struct FrameDecoderTests {
    static func channel(frameBytesMax: Int = 100) throws -> EmbeddedChannel {
        EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(frameBytesMax: frameBytesMax)))
    }

    static func frames(_ channel: EmbeddedChannel) throws -> [String] {
        var result: [String] = []
        while let inbound = try channel.readInbound(as: InboundFrame.self) {
            switch inbound {
            case .fourLetterWord(let word): result.append("4lw \(word)")
            case .frame(var buffer): result.append("frame \(buffer.readBytes(length: buffer.readableBytes) ?? [])")
            }
        }
        return result
    }

    @Test func dripFedFramesComeOutWhole() throws {
        let channel = try Self.channel()
        let bytes: [UInt8] = [0, 0, 0, 3, 7, 8, 9, 0, 0, 0, 0, 0, 0, 0, 1, 42]
        for byte in bytes { try channel.writeInbound(ByteBuffer(bytes: [byte])) }
        #expect(try Self.frames(channel) == ["frame [7, 8, 9]", "frame []", "frame [42]"])
        _ = try channel.finish()
    }

    @Test func severalFramesInOneRead() throws {
        let channel = try Self.channel()
        try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 1, 5, 0, 0, 0, 2, 6, 7, 0, 0]))
        #expect(try Self.frames(channel) == ["frame [5]", "frame [6, 7]"])
        _ = try channel.finish()
    }

    @Test func fourLetterWordOnlyAsTheFirstThing() throws {
        let channel = try Self.channel()
        try channel.writeInbound(ByteBuffer(bytes: Array("ru".utf8)))
        try channel.writeInbound(ByteBuffer(bytes: Array("ok".utf8)))
        #expect(try Self.frames(channel) == ["4lw ruok"])
        _ = try channel.finish()

        let later = try Self.channel(frameBytesMax: 0xfffff)
        try later.writeInbound(ByteBuffer(bytes: [0, 0, 0, 1, 9]))
        #expect(throws: (any Error).self, "after a frame, 'ruok' is a length of 0x72756f6b") {
            try later.writeInbound(ByteBuffer(bytes: Array("ruok".utf8)))
        }
        #expect(try Self.frames(later) == ["frame [9]"])
    }

    @Test(arguments: [[0xff, 0xff, 0xff, 0xff], [0x80, 0, 0, 0], [0, 0, 0, 101], [0x7f, 0xff, 0xff, 0xff]] as [[UInt8]])
    func badLengthsFailBeforeBuffering(_ prefix: [UInt8]) throws {
        let channel = try Self.channel(frameBytesMax: 100)
        #expect(throws: (any Error).self) { try channel.writeInbound(ByteBuffer(bytes: prefix)) }
        #expect(try Self.frames(channel).isEmpty)
    }

    @Test func lengthAtTheLimitIsAccepted() throws {
        let channel = try Self.channel(frameBytesMax: 100)
        try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 100] + [UInt8](repeating: 1, count: 100)))
        #expect(try Self.frames(channel).count == 1)
        _ = try channel.finish()
    }
}
