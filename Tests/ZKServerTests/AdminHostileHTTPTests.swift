import ZKTestSupport
import Foundation
import NIOHTTP1
import Testing
@testable import ZKServer

/// Bad HTTP on the admin port gets an HTTP error or a closed connection, never a crash; the
/// admin server and the client port keep serving everyone else.
@Suite(.serialized) struct AdminHostileHTTPTests {
    enum Attack: CustomStringConvertible, Sendable {
        case raw(String, [UInt8])
        /// The request and the status it must get.
        case request(String, String, Int)

        var description: String {
            switch self {
            case .raw(let name, _), .request(let name, _, _): return name
            }
        }
    }

    static func attacks() -> [Attack] {
        var attacks: [Attack] = [
            .request("POST", "POST /commands/ruok HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405),
            .request("PUT with a body", "PUT /commands/srst HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 405),
            .request("DELETE", "DELETE /commands HTTP/1.1\r\n\r\n", 405),
            .request("TRACE", "TRACE /commands/ruok HTTP/1.1\r\n\r\n", 405),
            .request("unknown path", "GET /nothing/here HTTP/1.1\r\n\r\n", 404),
            .request("prefix without separator", "GET /commandsruok HTTP/1.1\r\n\r\n", 404),
            .request("dot segments", "GET /commands/../commands/ruok HTTP/1.1\r\n\r\n", 400),
            .request("bad percent escape", "GET /commands/%zz HTTP/1.1\r\n\r\n", 400),
            .request("percent-encoded non-UTF-8", "GET /commands/%ff%fe HTTP/1.1\r\n\r\n", 400),
            .request("URI past the limit", "GET /commands/" + String(repeating: "x", count: 5000) + " HTTP/1.1\r\n\r\n", 414),
            .request("body past the limit", "GET /commands/ruok HTTP/1.1\r\nContent-Length: 100000\r\n\r\n"
                + String(repeating: "b", count: 100_000), 413),
            .request("garbage method", "BREW /pot HTTP/1.1\r\n\r\n", 400),
            .request("head past the parser's bound", "GET /commands/ruok HTTP/1.1\r\nX: "
                + String(repeating: "h", count: 200_000) + "\r\n\r\n", 400),
            .raw("binary junk", (0..<600).map { UInt8(truncatingIfNeeded: $0 &* 37) }),
            .raw("a four-letter word", Array("mntr".utf8)),
            .raw("half a request line", Array("GET /comm".utf8)),
            .raw("NUL bytes", [UInt8](repeating: 0, count: 64)),
        ]
        var generator = SplitMix64(seed: 0xAD31)
        for index in 0..<20 {
            let count = Int.random(in: 1...400, using: &generator)
            attacks.append(.raw("random bytes #\(index)", (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        }
        return attacks
    }

    @Test func everyAttackIsAnsweredOrClosedAndOthersAreServed() async throws {
        let server = try TestServer(adminServer: true)
        defer { server.stop() }
        let adminPort = try #require(server.server.adminPort)
        try await onThread {
            for attack in Self.attacks() {
                let socket = try RawSocket(port: adminPort)
                switch attack {
                case .raw(_, let bytes):
                    socket.send(bytes)
                    socket.shutdownWrite()
                    #expect(socket.readUntilClosed() != nil, "\(attack): the connection stayed open")
                case .request(_, let text, let status):
                    socket.send(Array(text.utf8))
                    let bytes = socket.readUntilClosed()
                    let answer = bytes.flatMap(HTTPAnswer.parse)
                    #expect(answer?.status == status, "\(attack): \(String(decoding: (bytes ?? []).prefix(200), as: UTF8.self))")
                }
                let ruok = try HTTPAnswer.get(port: adminPort, "/commands/ruok")
                #expect(ruok.status == 200, "after \(attack)")
            }
            try wellFormedSession(port: server.port, path: "/served-after-admin-attacks")
        }
    }

    @Test func headAnswersWithoutBody() async throws {
        let server = try TestServer(adminServer: true)
        defer { server.stop() }
        let adminPort = try #require(server.server.adminPort)
        try await onThread {
            let answer = try HTTPAnswer.get(port: adminPort, "/commands/ruok", method: "HEAD")
            #expect(answer.status == 200 && answer.body.isEmpty && answer.headers["content-length"] == "42")
        }
    }

    @Test func idleConnectionIsClosed() async throws {
        let server = try TestServer(adminServer: true) { $0.adminIdleTimeoutMs = 200 }
        defer { server.stop() }
        let adminPort = try #require(server.server.adminPort)
        try await onThread {
            let socket = try RawSocket(port: adminPort)
            socket.send(Array("GET /commands/ru".utf8))
            #expect(socket.readUntilClosed(timeoutMs: 10_000) != nil, "an idle admin connection stayed open")
        }
    }

    @Test func tricklingRequestIsClosedAtTheDeadline() async throws {
        let server = try TestServer(adminServer: true) { $0.adminIdleTimeoutMs = 400 }
        defer { server.stop() }
        let adminPort = try #require(server.server.adminPort)
        try await onThread {
            let socket = try RawSocket(port: adminPort)
            let started = ZKTestSupport.monotonicMs()
            var closed = false
            // One byte every 100 ms keeps the idle timer quiet; the request deadline still ends it.
            for byte in Array("GET /commands/ruok HTTP/1.1\r\nX-Slow: ".utf8) + Array(repeating: UInt8(ascii: "s"), count: 200) {
                guard socket.send([byte]) else { break }
                if case .closed = socket.read(upTo: 1, deadlineMs: ZKTestSupport.monotonicMs() + 100) {
                    closed = true
                    break
                }
                if ZKTestSupport.monotonicMs() - started > 10_000 { break }
            }
            #expect(closed || socket.readUntilClosed(timeoutMs: 5000) != nil, "a trickling request kept its connection")
            #expect(ZKTestSupport.monotonicMs() - started < 10_000)
        }
    }

    @Test func connectionsPastTheBoundAreClosed() async throws {
        let server = try TestServer(adminServer: true)
        defer { server.stop() }
        let adminPort = try #require(server.server.adminPort)
        let bound = AdminServerLimits().connectionsMax
        try await onThread {
            var held: [RawSocket] = []
            for _ in 0..<bound { held.append(try RawSocket(port: adminPort)) }
            // Each held connection is counted once the loop accepts it: wait until one more is refused.
            let deadline = ZKTestSupport.monotonicMs() + 10_000
            var refused = false
            while !refused && ZKTestSupport.monotonicMs() < deadline {
                let extra = try RawSocket(port: adminPort)
                extra.send(Array("GET /commands/ruok HTTP/1.1\r\n\r\n".utf8))
                refused = extra.readUntilClosed().map { $0.isEmpty } ?? false
            }
            #expect(refused, "connection \(bound + 1) was served")
            held.removeAll()
            try wellFormedSession(port: server.port, path: "/served-while-admin-full")
            let deadlineServed = ZKTestSupport.monotonicMs() + 10_000
            var served = false
            while !served && ZKTestSupport.monotonicMs() < deadlineServed {
                served = (try? HTTPAnswer.get(port: adminPort, "/commands/ruok").status) == 200
            }
            #expect(served, "the admin server did not serve again after the held connections closed")
        }
    }

    @Test(arguments: [
        ("GET", "/commands", AdminRoute.listing),
        ("GET", "/commands/", .listing),
        ("GET", "/commands/mntr?x=1", .command("mntr")),
        ("HEAD", "/commands/ruok", .command("ruok")),
        ("GET", "/commands/a%2Fb", .command("a/b")),
        ("POST", "/commands/ruok", .methodNotAllowed),
        ("GET", "/other", .notFound),
        ("GET", "*", .badRequest),
        ("GET", "/commands/./ruok", .badRequest),
    ])
    func routes(method: String, uri: String, route: AdminRoute) {
        let limits = AdminServerLimits()
        #expect(AdminRoute.of(method: HTTPMethod(rawValue: method), uri: uri, commandURL: "/commands", limits: limits) == route)
    }
}
