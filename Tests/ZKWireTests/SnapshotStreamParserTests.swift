import NIOCore
import Testing
import ZKBase
import ZKWire

/// The SNAP stream parser reads a leader's bytes as they arrive: a valid stream split anywhere
/// gives the same items, and hostile counts, lengths and signatures are refused before anything
/// is allocated for them, whichever read they arrive in.
@Suite struct SnapshotStreamParserTests {
    static let limits = QuorumWireLimits(bufferBytesMax: 4096, snapshotBytesMax: 1 << 20, snapshotItemsMax: 1000)

    static func stream(_ body: (inout ByteBuffer) -> Void) -> [UInt8] {
        var buffer = ByteBuffer()
        body(&buffer)
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    /// Sessions, one ACL list, root and /a, then "/" and the signature.
    static let valid = stream { buffer in
        buffer.writeJuteInt(1)
        buffer.writeJuteLong(0x100)
        buffer.writeJuteInt(30_000)
        buffer.writeJuteInt(1)
        buffer.writeJuteLong(1)
        buffer.writeACLVector(ACL.openUnsafe)
        for path in ["", "/a"] {
            buffer.writeJuteString(path)
            buffer.writeJuteBuffer([1, 2, 3])
            buffer.writeJuteLong(1)
            StatPersisted().encode(into: &buffer)
        }
        buffer.writeJuteString("/")
        buffer.writeJuteString(ZooKeeperSnapshotStream.signature)
    }

    /// Feeds `bytes` in pieces of `piece` bytes; the items, or the error thrown.
    static func parse(_ bytes: [UInt8], piece: Int) -> Result<[ZooKeeperSnapshotStreamParser.Item], any Error> {
        var parser = ZooKeeperSnapshotStreamParser(limits: limits)
        var buffer = ByteBuffer()
        var items: [ZooKeeperSnapshotStreamParser.Item] = []
        var offset = 0
        do {
            while !parser.isFinished && offset < bytes.count {
                let end = min(bytes.count, offset + piece)
                buffer.writeBytes(bytes[offset..<end])
                offset = end
                while !parser.isFinished, let item = try parser.next(from: &buffer) { items.append(item) }
            }
            return .success(items)
        } catch {
            return .failure(error)
        }
    }

    @Test func aValidStreamSplitAnywhereGivesTheSameItems() throws {
        let whole = try Self.parse(Self.valid, piece: Self.valid.count).get()
        #expect(whole.count == 5 && whole.last == .end)
        for piece in 1...40 {
            #expect(try Self.parse(Self.valid, piece: piece).get() == whole, "pieces of \(piece) bytes")
        }
    }

    @Test(arguments: [
        ("session count -1", stream { $0.writeJuteInt(-1) }),
        ("session count over the limit", stream { $0.writeJuteInt(1001) }),
        ("ACL cache count Int32.max", stream { $0.writeJuteInt(0); $0.writeJuteInt(Int32.max) }),
        ("ACL list of 2^31-1 entries", stream { $0.writeJuteInt(0); $0.writeJuteInt(1); $0.writeJuteLong(1); $0.writeJuteInt(Int32.max) }),
        ("ACL scheme of 1 GiB", stream {
            $0.writeJuteInt(0); $0.writeJuteInt(1); $0.writeJuteLong(1); $0.writeJuteInt(1); $0.writeJuteInt(31); $0.writeJuteInt(1 << 30)
        }),
        ("path of 2 GiB", stream { $0.writeJuteInt(0); $0.writeJuteInt(0); $0.writeJuteInt(Int32.max) }),
        ("negative path length", stream { $0.writeJuteInt(0); $0.writeJuteInt(0); $0.writeJuteInt(-5) }),
        ("node data of 1 GiB", stream { $0.writeJuteInt(0); $0.writeJuteInt(0); $0.writeJuteString(""); $0.writeJuteInt(1 << 30) }),
        ("wrong signature length", stream { $0.writeJuteInt(0); $0.writeJuteInt(0); $0.writeJuteString("/"); $0.writeJuteInt(9) }),
        ("wrong signature", stream { $0.writeJuteInt(0); $0.writeJuteInt(0); $0.writeJuteString("/"); $0.writeJuteString("BenWasHerX") }),
    ])
    func hostileStreamsAreRefusedInAnyPieces(_ what: String, _ bytes: [UInt8]) {
        for piece in [1, 3, 7, bytes.count] {
            guard case .failure = Self.parse(bytes, piece: piece) else {
                Issue.record("\(what): accepted in pieces of \(piece) bytes")
                return
            }
        }
    }

    @Test func moreNodesThanTheLimitAreRefused() {
        let bytes = Self.stream { buffer in
            buffer.writeJuteInt(0)
            buffer.writeJuteInt(0)
            for index in 0..<1001 {
                buffer.writeJuteString(index == 0 ? "" : "/n\(index)")
                buffer.writeJuteBuffer(nil)
                buffer.writeJuteLong(-1)
                StatPersisted().encode(into: &buffer)
            }
        }
        guard case .failure = Self.parse(bytes, piece: 512) else {
            Issue.record("1001 nodes accepted with a limit of 1000")
            return
        }
    }

    @Test func aTruncatedStreamWaitsWithoutItsEnd() throws {
        for cut in stride(from: 0, to: Self.valid.count, by: 5) {
            let items = try Self.parse(Array(Self.valid.prefix(cut)), piece: 13).get()
            #expect(items.last != .end, "cut at \(cut)")
        }
    }
}
