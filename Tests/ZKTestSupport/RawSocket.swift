import Glibc

// Blocking sockets for tests that speak to a server byte by byte (hostile frames, four-letter
// words); every wait is bounded.
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public func monotonicMs() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
}

public enum ReadOutcome: Equatable {
    case data([UInt8])
    case closed
    case timedOut
}

/// A blocking TCP client with every wait bounded.
public final class RawSocket {
    public let fd: Int32

    public init(port: Int, timeoutMs: Int = 5000) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: timeoutMs / 1000, tv_usec: Int((timeoutMs % 1000) * 1000))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let error = errno
            Glibc.close(fd)
            throw TestFailure("connect to 127.0.0.1:\(port) failed: errno \(error)")
        }
    }

    deinit { Glibc.close(fd) }

    /// Sends everything; false when the peer already closed (EPIPE/ECONNRESET), which is fine for hostile input.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += sent
        }
        return true
    }

    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// One read of up to `count` bytes, waiting at most until `deadlineMs` (monotonic).
    public func read(upTo count: Int, deadlineMs: Int64) -> ReadOutcome {
        while true {
            let remaining = deadlineMs - monotonicMs()
            if remaining <= 0 { return .timedOut }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(min(remaining, 1000)))
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { continue }
            var buffer = [UInt8](repeating: 0, count: count)
            let received = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, count, 0) }
            if received > 0 { return .data(Array(buffer[0..<received])) }
            if received == 0 { return .closed }
            if errno == EINTR || errno == EAGAIN { continue }
            return .closed // ECONNRESET and friends: the server dropped us
        }
    }

    /// Reads until the server closes; returns everything it sent, or nil on timeout.
    public func readUntilClosed(timeoutMs: Int64 = 5000) -> [UInt8]? {
        let deadline = monotonicMs() + timeoutMs
        var received: [UInt8] = []
        while true {
            switch read(upTo: 65536, deadlineMs: deadline) {
            case .data(let bytes): received += bytes
            case .closed: return received
            case .timedOut: return nil
            }
        }
    }

    /// Reads exactly `count` bytes.
    public func readExactly(_ count: Int, deadlineMs: Int64) throws -> [UInt8] {
        var received: [UInt8] = []
        while received.count < count {
            switch read(upTo: count - received.count, deadlineMs: deadlineMs) {
            case .data(let bytes): received += bytes
            case .closed: throw TestFailure("server closed after \(received.count) of \(count) bytes")
            case .timedOut: throw TestFailure("timed out after \(received.count) of \(count) bytes")
            }
        }
        return received
    }

    /// Reads one length-prefixed frame and returns its payload.
    public func readFrame(timeoutMs: Int64 = 5000) throws -> [UInt8] {
        let deadline = monotonicMs() + timeoutMs
        let prefix = try readExactly(4, deadlineMs: deadline)
        let length = Int(Int32(bitPattern: UInt32(prefix[0]) << 24 | UInt32(prefix[1]) << 16 | UInt32(prefix[2]) << 8 | UInt32(prefix[3])))
        guard length >= 0, length < 1 << 20 else { throw TestFailure("bad frame length \(length)") }
        return try readExactly(length, deadlineMs: deadline)
    }
}
