import Foundation
import NIOCore
import Testing
import ZKBase
import ZKWire

/// One frame of a golden capture (Fixtures/*.hex, see Fixtures/README.md).
struct FixtureFrame {
    var fromClient: Bool
    var frame: [UInt8]
    /// The `#` comment line just before the frame: it names the records.
    var comment: String
    var line: Int
    /// `[conn N]` tag of multi-connection captures; "" otherwise.
    var connection: String

    var payload: [UInt8] { Array(frame.dropFirst(4)) }
    var isConnectRecord: Bool { comment.contains(fromClient ? "ConnectRequest{" : "ConnectResponse{") }
}

enum Fixtures {
    static var directory: URL? { Bundle.module.url(forResource: "Fixtures", withExtension: nil) }

    static var fileNames: [String] {
        guard let directory, let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        return names.filter { $0.hasSuffix(".hex") }.sorted()
    }

    static var available: Bool { !fileNames.isEmpty }

    static func frames(of name: String) throws -> [FixtureFrame] {
        let url = try #require(directory).appendingPathComponent(name)
        let text = try String(contentsOf: url, encoding: .utf8)
        var frames: [FixtureFrame] = []
        var comment = ""
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") {
                comment = line
                continue
            }
            guard line.hasPrefix(">") || line.hasPrefix("<") else { continue }
            let hexText = line.dropFirst().trimmingCharacters(in: .whitespaces)
            var connection = ""
            if let open = comment.range(of: "[conn "), let close = comment[open.upperBound...].firstIndex(of: "]") {
                connection = String(comment[open.upperBound..<close])
            }
            frames.append(FixtureFrame(fromClient: line.hasPrefix(">"), frame: bytes(hex: hexText), comment: comment, line: index + 1, connection: connection))
        }
        return frames
    }
}

@Suite struct GoldenFixtureTests {
    /// Not skipped when the captures are missing: their absence fails the suite.
    @Test func fixturesArePresent() {
        #expect(Fixtures.available, "Tests/ZKWireTests/Fixtures has no .hex captures (tools/capture-golden makes them)")
        #expect(Fixtures.fileNames.count >= 10)
    }

    /// Every client frame decodes and re-encodes to the same bytes; every server frame decodes
    /// (as the reply to the request with the same xid on that connection) and re-encodes identically.
    @Test(arguments: Fixtures.fileNames)
    func framesRoundTrip(_ name: String) throws {
        let frames = try Fixtures.frames(of: name)
        try #require(!frames.isEmpty, "\(name) holds no frames")
        var opCodeByXid: [String: [Int32: Int32]] = [:]
        for frame in frames {
            let where_ = "\(name):\(frame.line)"
            try #require(frame.frame.count >= 4, "\(where_): frame shorter than its length prefix")
            let declared = Int(frame.frame[0]) << 24 | Int(frame.frame[1]) << 16 | Int(frame.frame[2]) << 8 | Int(frame.frame[3])
            #expect(declared == frame.frame.count - 4, "\(where_): length prefix \(declared) != payload \(frame.frame.count - 4)")
            if frame.fromClient {
                let opCodeRaw = try checkClientFrame(frame, at: where_)
                if let (xid, type) = opCodeRaw { opCodeByXid[frame.connection, default: [:]][xid] = type }
            } else {
                try checkServerFrame(frame, opCodeByXid: opCodeByXid[frame.connection] ?? [:], at: where_)
            }
        }
    }

    /// Returns (xid, opcode) of a request frame; nil for a ConnectRequest.
    private func checkClientFrame(_ frame: FixtureFrame, at where_: String) throws -> (Int32, Int32)? {
        var input = buffer(frame.payload)
        if frame.isConnectRecord {
            let request = try ConnectRequest(from: &input)
            #expect(input.readableBytes == 0, "\(where_): ConnectRequest left bytes")
            #expect(hex(request.encodedBytes()) == hex(frame.payload), "\(where_): ConnectRequest re-encodes differently")
            return nil
        }
        let request = try ClientRequest.decode(from: &input)
        #expect(input.readableBytes == 0, "\(where_): request left \(input.readableBytes) bytes")
        let reencoded = hex(encoded(request))
        // A multi's create ops keep their wire type (create2 here), though ZooKeeper handles them
        // by their flags (MultiOperation.asZooKeeperRebuildsIt; the pipeline tests check that).
        #expect(reencoded == hex(frame.payload), "\(where_): \(request.body) re-encodes differently")
        return (request.xid, request.opCodeRaw)
    }

    private func checkServerFrame(_ frame: FixtureFrame, opCodeByXid: [Int32: Int32], at where_: String) throws {
        var input = buffer(frame.payload)
        if frame.isConnectRecord {
            let response = try ConnectResponse(from: &input)
            #expect(input.readableBytes == 0)
            #expect(hex(response.encodedBytes()) == hex(frame.payload), "\(where_): ConnectResponse re-encodes differently")
            return
        }
        let header = try ReplyHeader(from: &input)
        var out = ByteBufferAllocator().buffer(capacity: frame.payload.count)
        header.encode(into: &out)
        if header.xid == SpecialXid.notification {
            let event = try WatcherEvent(from: &input)
            #expect(input.readableBytes == 0)
            event.encode(into: &out)
            #expect(hex(drain(&out)) == hex(frame.payload), "\(where_): notification re-encodes differently")
            return
        }
        let opCodeRaw = try #require(opCodeByXid[header.xid], "\(where_): reply xid \(header.xid) matches no request in the file")
        guard let opCode = OpCode(rawValue: opCodeRaw) else {
            #expect(input.readableBytes == 0, "\(where_): reply to unknown opcode \(opCodeRaw) has a body")
            #expect(header.err == ErrorCode.unimplemented.rawValue)
            return
        }
        let body = input.readableBytes == 0 ? ResponseBody.empty : try ResponseBody.decode(opCode: opCode, from: &input)
        let leftover = input.readableBytes
        body.encode(into: &out)
        let reencoded = hex(drain(&out))
        let check = {
            #expect(leftover == 0, "\(where_): \(opCode) reply left \(leftover) bytes")
            #expect(reencoded == hex(frame.payload), "\(where_): \(opCode) reply re-encodes differently")
        }
        check()
    }
}
