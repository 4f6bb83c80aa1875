import ZKTestSupport
import Foundation
import Glibc
import Logging
import Metrics
import NIOCore
import ZKBase
import ZKConfig
import ZKServer
import ZKWire


/// Runs blocking socket work on its own thread, so the test never blocks the cooperative pool.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// A PaddockServer on 127.0.0.1, an ephemeral port and a scratch data directory.
final class TestServer: Sendable {
    let server: PaddockServer
    let dataDirectory: String
    var port: Int { server.localPort }

    /// `adminServer`: serve the admin HTTP server on 127.0.0.1 and an ephemeral port (off by
    /// default: ZooKeeper's default, 0.0.0.0:8080, would have every test server compete for one port).
    init(whitelist: FourLetterWordWhitelist = .only(["ruok", "srvr"]), adminServer: Bool = false,
         logger: Logger = Logger(label: "paddock-test") { _ in SwiftLogNoOpLogHandler() },
         metricsFactory: (any MetricsFactory)? = nil,
         configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("paddock-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var configuration = ServerConfiguration(dataDirectory: directory, clientPort: 0)
        configuration.clientPortAddress = "127.0.0.1"
        configuration.tickTimeMs = 2000
        // A full parallel unit run on 2 cores delayed a test's ConnectRequest past ZooKeeper's
        // 10 s sessionless limit (the server closed the connection first); the limit has its own tests.
        configuration.sessionlessConnectionTimeoutMs = 600_000
        configuration.sessionTimeoutMsMin = 4000
        configuration.sessionTimeoutMsMax = 40_000
        configuration.fourLetterWordWhitelist = whitelist
        configuration.adminServerEnabled = adminServer
        configuration.adminServerAddress = "127.0.0.1"
        configuration.adminServerPort = 0
        configure(&configuration)
        server = try PaddockServer.start(configuration: configuration, logger: logger, metricsFactory: metricsFactory)
        dataDirectory = directory
    }

    func stop() {
        server.stop()
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }
}


func frame(_ payload: [UInt8]) -> [UInt8] {
    let length = UInt32(payload.count)
    return [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)] + payload
}

func frame(_ request: ClientRequest) -> [UInt8] {
    var buffer = ByteBufferAllocator().buffer(capacity: 64)
    request.encode(into: &buffer)
    return frame(buffer.readBytes(length: buffer.readableBytes) ?? [])
}

func connectFrame(timeoutMs: Int32 = 10_000) -> [UInt8] {
    frame(ConnectRequest(timeoutMs: timeoutMs).encodedBytes())
}

/// Splits a byte stream into frame payloads (a trailing partial frame is ignored).
func payloads(of stream: [UInt8]) -> [[UInt8]] {
    var result: [[UInt8]] = []
    var index = 0
    while index + 4 <= stream.count {
        let length = Int(UInt32(stream[index]) << 24 | UInt32(stream[index + 1]) << 16 | UInt32(stream[index + 2]) << 8 | UInt32(stream[index + 3]))
        guard index + 4 + length <= stream.count else { break }
        result.append(Array(stream[(index + 4)..<(index + 4 + length)]))
        index += 4 + length
    }
    return result
}

func residentSetBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let kilobytes = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return kilobytes * 1024
    }
    return 0
}

/// A well-behaved client: connect, create, getData, all encoded with ZKWire.
func wellFormedSession(port: Int, path: String) throws {
    let socket = try RawSocket(port: port)
    guard socket.send(connectFrame()) else { throw TestFailure("could not send ConnectRequest") }
    let response = try ConnectResponse.decode(bytes: socket.readFrame())
    guard response.sessionId != 0, response.timeoutMs == 10_000, response.password.count == 16 else {
        throw TestFailure("bad ConnectResponse \(response)")
    }
    let data = Array("payload".utf8)
    socket.send(frame(ClientRequest(xid: 1, opCodeRaw: OpCode.create.rawValue, body: .create(opCode: .create, CreateRequest(
        path: path, data: data, acl: ACL.openUnsafe, flags: CreateMode.persistent.rawValue, ttl: 0)))))
    socket.send(frame(ClientRequest(xid: 2, opCodeRaw: OpCode.getData.rawValue, body: .getData(path: path, watch: false))))
    var createReply = ByteBufferAllocator().buffer(bytes: try socket.readFrame())
    let createHeader = try ReplyHeader(from: &createReply)
    guard createHeader.xid == 1, createHeader.err == 0 else { throw TestFailure("create failed: \(createHeader)") }
    guard try ResponseBody.decode(opCode: .create, from: &createReply) == .create(path: path) else {
        throw TestFailure("create reply names the wrong path")
    }
    var getReply = ByteBufferAllocator().buffer(bytes: try socket.readFrame())
    let getHeader = try ReplyHeader(from: &getReply)
    guard getHeader.xid == 2, getHeader.err == 0, getHeader.zxid == createHeader.zxid else {
        throw TestFailure("getData failed: \(getHeader)")
    }
    guard case .getData(let read, let stat) = try ResponseBody.decode(opCode: .getData, from: &getReply),
          read == data, stat.czxid == createHeader.zxid else {
        throw TestFailure("getData returned the wrong data")
    }
}

/// SplitMix64: seeded, so a failing attack can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
