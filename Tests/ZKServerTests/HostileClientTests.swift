import ZKTestSupport
import Foundation
import Testing
import ZKBase
import ZKServer
import ZKWire

/// Bad clients must lose their own connection and nothing else.
@Suite(.serialized) struct HostileClientTests {
    enum Attack: Sendable, CustomStringConvertible {
        case randomBytes(seed: UInt64)
        case negativeLength(Int32)
        case oversizedLength(Int32)
        case truncatedConnect(Int)
        case unknownOpCode(Int32)
        case fourLetterWordAfterConnect(String)
        case maximumSizedJunkFrame

        var description: String {
            switch self {
            case .randomBytes(let seed): return "random bytes (seed \(seed))"
            case .negativeLength(let length): return "negative length \(length)"
            case .oversizedLength(let length): return "length \(length) > jute.maxbuffer"
            case .truncatedConnect(let length): return "ConnectRequest cut to \(length) bytes"
            case .unknownOpCode(let type): return "unknown opcode \(type) after connect"
            case .fourLetterWordAfterConnect(let word): return "'\(word)' after connect"
            case .maximumSizedJunkFrame: return "a 0xfffff-byte junk request after connect"
            }
        }
    }

    static func attacks() -> [Attack] {
        var attacks: [Attack] = []
        for seed in 0..<40 { attacks.append(.randomBytes(seed: UInt64(seed))) }
        for index in 0..<30 { attacks.append(.negativeLength(index == 0 ? Int32.min : -Int32(index * 7919))) }
        // jute.maxbuffer is 0xfffff: one past it, larger, and Int32.max.
        for index in 0..<30 { attacks.append(.oversizedLength(index == 29 ? Int32.max : 0x10_0000 + Int32(index) * 0x10_0000)) }
        for length in 0..<44 { attacks.append(.truncatedConnect(length)) }
        let known = Set(OpCode.allCases.map(\.rawValue))
        var unknown: [Int32] = [55, 10, 23, 99, 108, 200, 1000, -2, -3, -12, -100, Int32.max, Int32.min]
        var candidate: Int32 = 300
        while unknown.count < 25 {
            if !known.contains(candidate) { unknown.append(candidate) }
            candidate += 37
        }
        attacks += unknown.filter { !known.contains($0) }.map { .unknownOpCode($0) }
        for word in ["ruok", "srvr", "stat", "conf", "mntr", "kill", "dump", "wchs"] { attacks.append(.fourLetterWordAfterConnect(word)) }
        attacks.append(.maximumSizedJunkFrame)
        while attacks.count < 200 { attacks.append(.randomBytes(seed: UInt64(1000 + attacks.count))) }
        return attacks
    }

    /// Carries out one attack; returns nil when the server closed the connection in time.
    static func run(_ attack: Attack, port: Int) throws -> String? {
        let socket = try RawSocket(port: port)
        switch attack {
        case .randomBytes(let seed):
            var generator = SplitMix64(seed: seed)
            let count = Int.random(in: 1...300, using: &generator)
            socket.send((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
            // A random prefix may announce a frame longer than what follows: end the stream so
            // the server has to deal with a truncated frame too.
            socket.shutdownWrite()
        case .negativeLength(let length), .oversizedLength(let length):
            socket.send(withUnsafeBytes(of: length.bigEndian) { Array($0) } + [1, 2, 3, 4])
        case .truncatedConnect(let length):
            let full = ConnectRequest(timeoutMs: 10_000).encodedBytes()
            socket.send(frame(Array(full[0..<length])))
        case .unknownOpCode(let type):
            socket.send(connectFrame() + frame(ClientRequest(xid: 1, opCodeRaw: type, body: .unknown(type: type))))
            guard let stream = socket.readUntilClosed() else { return "no close after \(attack)" }
            let unimplemented = payloads(of: stream).contains { payload in
                guard payload.count == 16, let header = try? ReplyHeader.decode(bytes: payload) else { return false }
                return header.xid == 1 && header.err == ErrorCode.unimplemented.rawValue
            }
            return unimplemented ? nil : "\(attack): no Unimplemented reply before the close"
        case .fourLetterWordAfterConnect(let word):
            socket.send(connectFrame() + Array(word.utf8))
        case .maximumSizedJunkFrame:
            socket.send(connectFrame() + frame([UInt8](repeating: 0, count: 0xfffff)))
        }
        return socket.readUntilClosed() == nil ? "server kept the connection open after \(attack)" : nil
    }

    @Test func twoHundredHostileConnectionsAndTheServerStillServes() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let port = server.port
        let attacks = Self.attacks()
        #expect(attacks.count == 200)
        let rssBefore = residentSetBytes()
        let failures = try await onThread { () -> [String] in
            var failures: [String] = []
            for attack in attacks {
                if let failure = try Self.run(attack, port: port) { failures.append(failure) }
            }
            return failures
        }
        #expect(failures.isEmpty, "\(failures.count) attacks misbehaved: \(failures.prefix(5))")
        try await onThread { try wellFormedSession(port: port, path: "/after-attacks") }
        let growth = residentSetBytes() - rssBefore
        #expect(growth < 200 << 20, "RSS grew by \(growth >> 20) MB")
    }

    @Test func manyConnectionsAtOnceDoNotStopOthers() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let port = server.port
        try await onThread {
            // Twenty idle half-sent frames stay open (the server waits for the rest), and do not
            // get in the way of a real client.
            var idle: [RawSocket] = []
            for _ in 0..<20 {
                let socket = try RawSocket(port: port)
                socket.send([0, 0, 0, 44, 0, 0])
                idle.append(socket)
            }
            try wellFormedSession(port: port, path: "/despite-idle")
            for socket in idle { socket.shutdownWrite() }
            for socket in idle where socket.readUntilClosed() == nil {
                throw TestFailure("server did not close a half-sent connection after EOF")
            }
        }
    }
}

@Suite struct ConnectionLimitTests {
    @Test func sixtyFirstConnectionFromOneAddressIsClosed() async throws {
        // maxClientCnxns defaults to 60 per client address.
        let server = try TestServer()
        defer { server.stop() }
        let port = server.port
        try await onThread {
            var open: [RawSocket] = []
            for _ in 0..<60 {
                let socket = try RawSocket(port: port)
                open.append(socket)
            }
            // Each of the 60 still gets a session.
            guard open[59].send(connectFrame()), (try? ConnectResponse.decode(bytes: open[59].readFrame())) != nil else {
                throw TestFailure("the 60th connection was not served")
            }
            let extra = try RawSocket(port: port)
            extra.send(connectFrame())
            guard let stream = extra.readUntilClosed() else { throw TestFailure("the 61st connection was left open") }
            guard stream.isEmpty else { throw TestFailure("the 61st connection got \(stream.count) bytes before the close") }
            open.removeAll()
        }
        try await onThread { try wellFormedSession(port: port, path: "/after-limit") }
    }
}

@Suite struct FourLetterWordServerTests {
    static func ask(_ word: String, port: Int) throws -> String {
        let socket = try RawSocket(port: port)
        socket.send(Array(word.utf8))
        guard let answer = socket.readUntilClosed() else { throw TestFailure("no answer to \(word) within 5 s") }
        return String(decoding: answer, as: UTF8.self)
    }

    @Test func ruokAndSrvr() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let port = server.port
        let (ruok, srvr) = try await onThread { (try Self.ask("ruok", port: port), try Self.ask("srvr", port: port)) }
        #expect(ruok == "imok")
        #expect(srvr.contains("Mode: standalone"))
        #expect(srvr.hasPrefix("Zookeeper version: "))
        // ZooKeeper counts the root twice ("" and "/"): a fresh server shows 5.
        #expect(srvr.contains("Node count: 5"))
    }

    @Test func wordsOutsideTheWhitelistAreRefused() async throws {
        let server = try TestServer(whitelist: .defaultValue)
        defer { server.stop() }
        let port = server.port
        let answer = try await onThread { try Self.ask("ruok", port: port) }
        #expect(answer == "ruok is not executed because it is not in the whitelist.\n")
    }

    @Test func srvrCountsNodesAfterWrites() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let port = server.port
        let summary = try await onThread { () -> String in
            try wellFormedSession(port: port, path: "/counted")
            return try Self.ask("srvr", port: port)
        }
        #expect(summary.contains("Node count: 6"))
        #expect(summary.contains("Zxid: 0x2"))
    }
}
