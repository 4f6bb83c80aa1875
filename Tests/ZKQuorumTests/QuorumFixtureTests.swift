import Foundation
import NIOCore
import Testing
import ZKBase
import ZKWire
import ZKZab

/// Real member-to-member traffic of an Apache ZooKeeper 3.8.0 ensemble (Fixtures/FIXTURES.md,
/// captured by tests/ensemble/capture_quorum_fixtures.py) decoded by Paddock's codecs: every
/// byte accounted for, every frame re-encoded byte for byte, and the ZAB messages mapped both ways.
@Suite struct QuorumFixtureTests {
    static let directory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")

    static func files(_ prefix: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".hex") }.sorted()
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
        let hex = text.filter { !$0.isWhitespace }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.count / 2)
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    @Test func fixturesArePresent() {
        #expect(Self.files("election-").count >= 10)
        #expect(Self.files("quorum-").count >= 10)
    }

    @Test(arguments: files("election-"))
    func electionStreamDecodes(_ name: String) throws {
        let bytes = try Self.bytes(name)
        var buffer = ByteBufferAllocator().buffer(bytes: bytes)
        let connected = buffer.getInteger(at: 0, endianness: .big, as: Int64.self) == ElectionHandshake.protocolVersionV1
        if connected {
            let start = buffer.readerIndex
            let handshake = try #require(try ElectionHandshake.decode(from: &buffer))
            #expect(handshake.address?.hasPrefix("127.0.0.1:") == true)
            var again = ByteBufferAllocator().buffer(capacity: 64)
            handshake.encode(into: &again)
            #expect(Array(bytes[start..<buffer.readerIndex]) == again.readBytes(length: again.readableBytes))
        }
        var frames = 0
        while buffer.readableBytes > 0 {
            let frameStart = buffer.readerIndex
            let payload = try #require(try ElectionNotificationMessage.readFrame(from: &buffer), "\(name): truncated frame")
            let message = try ElectionNotificationMessage(payload: payload)
            #expect((0...3).contains(message.state))
            #expect(message.version == 2)
            #expect(String(decoding: message.config, as: UTF8.self).contains("server.1="))
            // Byte for byte the same frame when we encode the same values.
            #expect(message.frameBytes() == Array(bytes[frameStart..<buffer.readerIndex]), "\(name) frame \(frames)")
            let notification = try #require(ElectionNotification(message: message, sender: 1))
            #expect(notification.wireMessage.state == message.state && notification.wireMessage.zxid == message.zxid)
            frames += 1
        }
        // A connection from a lower to a higher sid carries only the handshake: the initiator
        // drops it and the higher sid dials back (QuorumCnxManager.startConnection).
        #expect(frames > 0 || connected, "\(name) holds neither a handshake nor a notification")
    }

    /// Packets the ZAB core maps both ways byte for byte (NEWLEADER carries ZooKeeper's config
    /// text, a learner's PING its session touches: Paddock sends those empty).
    static let exactTypes: Set<QuorumPacketType> = [
        .followerInfo, .observerInfo, .leaderInfo, .ackEpoch, .diff, .trunc, .snap, .ack, .upToDate, .proposal, .commit, .inform,
        .request, .sync, .ping, .revalidate,
    ]

    @Test(arguments: files("quorum-"))
    func quorumStreamDecodes(_ name: String) throws {
        let bytes = try Self.bytes(name)
        var buffer = ByteBufferAllocator().buffer(bytes: bytes)
        var packets = 0
        while buffer.readableBytes > 0 {
            let start = buffer.readerIndex
            let packet = try #require(try QuorumPacket.decode(from: &buffer), "\(name): truncated packet at \(start)")
            let type = try #require(packet.knownType, "\(name): unknown type \(packet.type)")
            #expect(packet.encodedBytes() == Array(bytes[start..<buffer.readerIndex]))
            var snapshot: [UInt8] = []
            if type == .snap {
                let length = try #require(try ZooKeeperSnapshotStream.length(of: buffer), "\(name): truncated snapshot")
                snapshot = buffer.readBytes(length: length)!
            }
            if Self.exactTypes.contains(type) {
                let message = try ZabMessage(packet: packet, snapshot: snapshot)
                #expect(message.quorumPacket == packet, "\(name): \(packet) maps back to \(message.quorumPacket)")
            } else if type == .newLeader {
                let message = try ZabMessage(packet: packet)
                #expect(message.quorumPacket.zxid == packet.zxid && message.quorumPacket.type == packet.type)
            }
            packets += 1
        }
        #expect(packets > 0)
    }

    /// The fixtures hold each sync mode and the broadcast traffic: the codecs saw them all.
    @Test func everySyncModeAndBroadcastPacketAppears() throws {
        var seen: [QuorumPacketType: Int] = [:]
        for name in Self.files("quorum-") {
            var buffer = ByteBufferAllocator().buffer(bytes: try Self.bytes(name))
            var decoder = QuorumStreamDecoder()
            while buffer.readableBytes > 0 {
                let start = buffer.readerIndex
                guard let packet = try QuorumPacket.decode(from: &buffer) else { break }
                seen[packet.knownType!, default: 0] += 1
                if packet.knownType == .snap {
                    buffer.moveReaderIndex(to: start)
                    let message = try #require(try decoder.next(from: &buffer))
                    guard case .snap(let zxid, let snapshot) = message else { Issue.record("SNAP decoded as \(message)"); return }
                    #expect(zxid.rawValue == packet.zxid && snapshot.count > 100)
                }
            }
        }
        for type in [QuorumPacketType.diff, .trunc, .snap, .proposal, .ack, .commit, .inform, .ping, .newLeader, .upToDate,
                     .followerInfo, .observerInfo, .leaderInfo, .ackEpoch, .request, .sync, .revalidate] {
            #expect((seen[type] ?? 0) > 0, "no \(type) in the fixtures")
        }
    }

    /// A stream that arrives a few bytes at a time decodes to the same messages as all at once
    /// (the SNAP snapshot's end is found by a scan that resumes where the last read stopped).
    @Test func aStreamArrivingInSmallReadsDecodesTheSame() throws {
        let bytes = try Self.bytes("quorum-leader3-to-follower1-snap.hex")
        var whole = ByteBufferAllocator().buffer(bytes: bytes)
        var wholeDecoder = QuorumStreamDecoder()
        var expected: [ZabMessage] = []
        while let message = try wholeDecoder.next(from: &whole) { expected.append(message) }
        for chunk in [1, 7, 64, 1000] {
            var decoder = QuorumStreamDecoder()
            var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
            var got: [ZabMessage] = []
            var offset = 0
            while offset < bytes.count {
                let end = min(bytes.count, offset + chunk)
                buffer.writeBytes(bytes[offset..<end])
                offset = end
                while let message = try decoder.next(from: &buffer) { got.append(message) }
            }
            #expect(got == expected, "reads of \(chunk) bytes")
        }
        #expect(expected.contains { if case .snap = $0 { return true } else { return false } })
    }

    /// Every prefix of a real stream is either decoded in whole packets or waits for more bytes:
    /// never an error, never a crash.
    @Test func truncatedStreamsWaitForMoreBytes() throws {
        let bytes = try Self.bytes("quorum-leader3-to-follower1-snap.hex")
        for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 400)) {
            var buffer = ByteBufferAllocator().buffer(bytes: Array(bytes[..<cut]))
            var decoder = QuorumStreamDecoder()
            while let _ = try decoder.next(from: &buffer) {}
        }
    }
}

@Suite struct QuorumHostileInputTests {
    @Test func oversizedLengthsAreRefusedBeforeAllocating() {
        var packet = ByteBufferAllocator().buffer(capacity: 32)
        packet.writeJuteInt(2)
        packet.writeJuteLong(1)
        packet.writeJuteInt(Int32.max)
        #expect(throws: QuorumWireError.self) { _ = try QuorumPacket.decode(from: &packet) }
        var frame = ByteBufferAllocator().buffer(capacity: 8)
        frame.writeJuteInt(600 * 1024)
        #expect(throws: QuorumWireError.self) { _ = try ElectionNotificationMessage.readFrame(from: &frame) }
        var handshake = ByteBufferAllocator().buffer(capacity: 24)
        handshake.writeJuteLong(ElectionHandshake.protocolVersionV1)
        handshake.writeJuteLong(2)
        handshake.writeJuteInt(1 << 20)
        #expect(throws: QuorumWireError.self) { _ = try ElectionHandshake.decode(from: &handshake) }
        var version = ByteBufferAllocator().buffer(capacity: 8)
        version.writeJuteLong(-7)
        #expect(throws: QuorumWireError.unknownProtocolVersion(-7)) { _ = try ElectionHandshake.decode(from: &version) }
    }

    @Test func shortAndOddNotificationsAreHandledAsZooKeeperDoes() throws {
        #expect(throws: QuorumWireError.self) { _ = try ElectionNotificationMessage(payload: ByteBufferAllocator().buffer(bytes: [UInt8](repeating: 0, count: 27))) }
        var old = ByteBufferAllocator().buffer(capacity: 28)
        old.writeJuteInt(0)
        old.writeJuteLong(3)
        old.writeJuteLong(0x5_0000_0007)
        old.writeJuteLong(9)
        let message = try ElectionNotificationMessage(payload: old)
        #expect(message.peerEpoch == 5 && message.version == 0)
        #expect(ElectionNotification(message: ElectionNotificationMessage(state: 7, leader: 1, zxid: 0, electionEpoch: 1, peerEpoch: 0), sender: 2) == nil)
    }

    /// Seeded random bytes and bit flips of real packets: decoders return, throw, or wait; they never crash.
    @Test func randomBytesNeverCrash() throws {
        var generator = SeededBytes(seed: 0x9e37)
        for _ in 0..<3000 {
            let count = Int(generator.next() % 96)
            let bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            var buffer = ByteBufferAllocator().buffer(bytes: bytes)
            var decoder = QuorumStreamDecoder()
            _ = try? decoder.next(from: &buffer)
            var frame = ByteBufferAllocator().buffer(bytes: bytes)
            if let payload = try? ElectionNotificationMessage.readFrame(from: &frame) { _ = try? ElectionNotificationMessage(payload: payload) }
            _ = try? ElectionNotificationMessage(payload: ByteBufferAllocator().buffer(bytes: bytes))
            var handshake = ByteBufferAllocator().buffer(bytes: bytes)
            _ = try? ElectionHandshake.decode(from: &handshake)
            _ = try? ZooKeeperSnapshotStream.length(of: ByteBufferAllocator().buffer(bytes: bytes))
        }
    }

    struct SeededBytes {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 11
        }
    }
}
