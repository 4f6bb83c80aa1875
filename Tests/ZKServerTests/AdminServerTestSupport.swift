import ZKTestSupport
import Foundation
import Logging
import NIOCore
import Synchronization
import ZKBase
import ZKServer
import ZKWire

/// One HTTP exchange over a raw socket: the request bytes as given, the answer until the server
/// closes (the admin server closes after each response), every wait bounded.
struct HTTPAnswer {
    var status: Int
    var headers: [String: String]
    var body: String

    static func exchange(port: Int, _ request: [UInt8], timeoutMs: Int64 = 5000) throws -> HTTPAnswer? {
        let socket = try RawSocket(port: port)
        socket.send(request)
        guard let bytes = socket.readUntilClosed(timeoutMs: timeoutMs) else { throw TestFailure("no end of answer in \(timeoutMs) ms") }
        return parse(bytes)
    }

    static func get(port: Int, _ path: String, method: String = "GET") throws -> HTTPAnswer {
        let request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        guard let answer = try exchange(port: port, Array(request.utf8)) else { throw TestFailure("\(method) \(path): no HTTP answer") }
        return answer
    }

    /// Status line, headers and body of one response; nil when the bytes are not one.
    static func parse(_ bytes: [UInt8]) -> HTTPAnswer? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return nil }
        let lines = text[..<split.lowerBound].split(separator: "\r\n")
        guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1.1 "),
              let status = Int(statusLine.dropFirst(9).prefix(3)) else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return HTTPAnswer(status: status, headers: headers, body: String(text[split.upperBound...]))
    }

    /// The body as a JSON object.
    func json() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
            throw TestFailure("not a JSON object: \(body)")
        }
        return object
    }
}

/// Keys of a JSON object in document order (JSONSerialization forgets the order).
func orderedKeys(_ json: String) -> [String] {
    // Top-level members are the lines indented by exactly two spaces in Jackson's layout.
    json.split(separator: "\n").compactMap { line -> String? in
        guard line.hasPrefix("  \""), !line.hasPrefix("   ") else { return nil }
        let rest = line.dropFirst(3)
        guard let end = rest.range(of: "\" : ") else { return nil }
        return String(rest[..<end.lowerBound])
    }
}

/// Collects log lines, for tests that check what the server logged.
final class CapturedLog: Sendable {
    let lines = Mutex<[String]>([])

    var logger: Logger {
        Logger(label: "paddock-test") { _ in CapturingLogHandler(log: self) }
    }

    var text: String { lines.withLock { $0.joined(separator: "\n") } }
}

struct CapturingLogHandler: LogHandler {
    let log: CapturedLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let line = "\(event.level) \(event.message)"
        log.lines.withLock { $0.append(line) }
    }
}

/// A client session that creates /admin-a, the ephemeral /admin-e and a data watch on /admin-a,
/// then stays open (the socket is returned) so cons, dump and the watch commands have something to show.
func sessionWithEphemeralAndWatch(port: Int) throws -> RawSocket {
    let socket = try RawSocket(port: port)
    guard socket.send(connectFrame()) else { throw TestFailure("could not send ConnectRequest") }
    _ = try ConnectResponse.decode(bytes: socket.readFrame())
    let requests: [ClientRequest] = [
        ClientRequest(xid: 1, opCodeRaw: OpCode.create.rawValue, body: .create(opCode: .create, CreateRequest(
            path: "/admin-a", data: Array("a".utf8), acl: ACL.openUnsafe, flags: CreateMode.persistent.rawValue, ttl: 0))),
        ClientRequest(xid: 2, opCodeRaw: OpCode.create.rawValue, body: .create(opCode: .create, CreateRequest(
            path: "/admin-e", data: [], acl: ACL.openUnsafe, flags: CreateMode.ephemeral.rawValue, ttl: 0))),
        ClientRequest(xid: 3, opCodeRaw: OpCode.getData.rawValue, body: .getData(path: "/admin-a", watch: true)),
    ]
    for request in requests {
        socket.send(frame(request))
        var reply = ByteBufferAllocator().buffer(bytes: try socket.readFrame())
        let header = try ReplyHeader(from: &reply)
        guard header.err == 0 else { throw TestFailure("request \(header.xid) failed: \(header)") }
    }
    return socket
}
