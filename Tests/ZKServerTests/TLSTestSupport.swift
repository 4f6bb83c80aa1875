import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
import ZKBase
import ZKConfig
import ZKServer
import ZKTestSupport
import ZKWire

/// Certificates made with /usr/bin/openssl when a test runs (nothing committed, nothing expires
/// under the tests' feet): a CA, a server certificate for 127.0.0.1/localhost, client certificates
/// signed by the CA, one signed by another CA, and one whose validity ended in 2001. Each PEM key
/// store holds the private key and the certificate, as ZooKeeper's PEM key store does.
final class TLSCertificates: Sendable {
    let directory: String
    var caFile: String { directory + "/ca.pem" }
    var serverKeyStore: String { directory + "/server.pem" }

    /// Subjects in openssl's `-subj` form, and as Java's X500Principal.getName() prints them.
    static let client1Subject = "/C=US/O=Paddock, Inc./OU=eng/CN=client1"
    static let client1Name = "CN=client1,OU=eng,O=Paddock\\, Inc.,C=US"
    static let client2Subject = "/O=Paddock/OU=eng/CN=client2"
    static let client2Name = "CN=client2,OU=eng,O=Paddock"
    static let adminSubject = "/O=Paddock/CN=admin"
    static let adminName = "CN=admin,O=Paddock"

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("paddock-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
                     "-days", "3650", "-subj", "/O=Paddock Test CA/CN=Paddock Test CA"])
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other-ca.key", "-out", "other-ca.pem",
                     "-days", "3650", "-subj", "/CN=Someone Else's CA"])
        try leaf("server", subject: "/O=Paddock/CN=localhost")
        try leaf("client1", subject: Self.client1Subject)
        try leaf("client2", subject: Self.client2Subject)
        try leaf("admin", subject: Self.adminSubject)
        try leaf("untrusted", subject: "/O=Paddock/CN=client1", ca: "other-ca")
        try expiredLeaf("expired", subject: "/O=Paddock/CN=client1")
    }

    func keyStore(_ name: String) -> String { directory + "/\(name).pem" }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    private func leaf(_ name: String, subject: String, ca: String = "ca") throws {
        try request(name, subject: subject)
        try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key", "-CAcreateserial",
                     "-out", "\(name).crt", "-days", "3650", "-extfile", "leaf.ext"])
        try combine(name)
    }

    /// `openssl ca` is the 3.0 tool that can put a certificate's validity in the past.
    private func expiredLeaf(_ name: String, subject: String) throws {
        try request(name, subject: subject)
        try "".write(toFile: directory + "/index.txt", atomically: true, encoding: .utf8)
        try "1000\n".write(toFile: directory + "/serial", atomically: true, encoding: .utf8)
        let configuration = """
            [ca]
            default_ca = test_ca
            [test_ca]
            database = index.txt
            new_certs_dir = .
            serial = serial
            default_md = sha256
            policy = anything
            copy_extensions = none
            [anything]
            commonName = supplied
            organizationName = optional
            """
        try configuration.write(toFile: directory + "/ca.cnf", atomically: true, encoding: .utf8)
        try openssl(["ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", "\(name).csr",
                     "-out", "\(name).crt", "-startdate", "20000101000000Z", "-enddate", "20010101000000Z", "-notext",
                     "-extfile", "leaf.ext"])
        try combine(name)
    }

    private func request(_ name: String, subject: String) throws {
        let extensions = """
            basicConstraints = CA:FALSE
            keyUsage = digitalSignature, keyEncipherment
            extendedKeyUsage = serverAuth, clientAuth
            subjectAltName = IP:127.0.0.1, DNS:localhost
            """
        try extensions.write(toFile: directory + "/leaf.ext", atomically: true, encoding: .utf8)
        try openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(name).key", "-out", "\(name).csr",
                     "-subj", subject])
    }

    private func combine(_ name: String) throws {
        let key = try String(contentsOfFile: directory + "/\(name).key", encoding: .utf8)
        let certificate = try String(contentsOfFile: directory + "/\(name).crt", encoding: .utf8)
        try (key + certificate).write(toFile: keyStore(name), atomically: true, encoding: .utf8)
    }

    /// Runs /usr/bin/openssl in the certificates' directory.
    func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestFailure("openssl \(arguments.joined(separator: " ")) failed: \(text)")
        }
    }
}

/// A PaddockServer serving TLS on an ephemeral secureClientPort (and a plain port when asked).
final class TLSTestServer: Sendable {
    let server: PaddockServer
    let dataDirectory: String
    var securePort: Int { server.secureLocalPort ?? 0 }

    init(certificates: TLSCertificates, plainPort: Bool = false, metricsFactory: (any MetricsFactory)? = nil,
         configure: (inout ClientTLSConfiguration) -> Void = { _ in }) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("paddock-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var configuration = ServerConfiguration(dataDirectory: directory, clientPort: plainPort ? 0 : nil)
        if plainPort { configuration.clientPortAddress = "127.0.0.1" }
        configuration.secureClientPort = 0
        configuration.secureClientPortAddress = "127.0.0.1"
        configuration.tickTimeMs = 2000
        // A full parallel unit run on 2 cores delayed a test's ConnectRequest past ZooKeeper's
        // 10 s sessionless limit (the server closed the connection first); the limit has its own tests.
        configuration.sessionlessConnectionTimeoutMs = 600_000
        configuration.sessionTimeoutMsMin = 4000
        configuration.sessionTimeoutMsMax = 40_000
        configuration.tls.keyStoreLocation = certificates.serverKeyStore
        configuration.tls.trustStoreLocation = certificates.caFile
        configuration.tls.x509ProviderEnabled = true
        configuration.tls.x509SuperUser = TLSCertificates.adminName
        // ZooKeeper's 5 s handshake limit is the server's default; a debug build's handshake on a
        // 2-core machine running the other suites took longer (a test refused before its first
        // reply). Tests of the limit set their own.
        configuration.tls.handshakeTimeoutMs = 120_000
        configure(&configuration.tls)
        let logger = Logger(label: "paddock-test") { _ in SwiftLogNoOpLogHandler() }
        server = try PaddockServer.start(configuration: configuration, logger: logger, metricsFactory: metricsFactory)
        dataDirectory = directory
    }

    func stop() {
        server.stop()
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }
}

/// A TLS client over NIOSSL speaking raw ZooKeeper frames; every wait is bounded.
final class TLSTestClient: @unchecked Sendable {
    enum Failure: Error, CustomStringConvertible {
        case closed(String)
        case timedOut(String)
        var description: String {
            switch self {
            case .closed(let what): "connection closed \(what)"
            case .timedOut(let what): "timed out \(what)"
            }
        }
    }

    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let inbox: Inbox

    /// `keyStore`: a PEM file with the client's key and certificate; nil = present no certificate.
    init(port: Int, keyStore: String?, caFile: String) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(caFile)
        configuration.certificateVerification = .noHostnameVerification
        if let keyStore {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(keyStore).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyStore, format: .pem))
        }
        let context = try NIOSSLContext(configuration: configuration)
        let inbox = Inbox()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            channel = try ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                        try channel.pipeline.syncOperations.addHandler(InboxHandler(inbox: inbox))
                    }
                }
                .connect(host: "127.0.0.1", port: port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        self.group = group
        self.inbox = inbox
    }

    deinit { try? group.syncShutdownGracefully() }

    func send(_ bytes: [UInt8]) {
        channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
    }

    /// The next frame's payload.
    func readFrame(timeoutMs: Int64 = 60_000) throws -> [UInt8] {
        let header = try inbox.take(4, timeoutMs: timeoutMs)
        let length = Int(UInt32(header[0]) << 24 | UInt32(header[1]) << 16 | UInt32(header[2]) << 8 | UInt32(header[3]))
        return try inbox.take(length, timeoutMs: timeoutMs)
    }

    /// True once the server has closed the connection (or the handshake failed), within the bound.
    func waitUntilClosed(timeoutMs: Int64 = 60_000) -> Bool { inbox.waitUntilClosed(timeoutMs: timeoutMs) }

    /// Everything received once the server has closed; nil when it did not close within the bound.
    func readUntilClosed(timeoutMs: Int64 = 60_000) -> [UInt8]? {
        inbox.waitUntilClosed(timeoutMs: timeoutMs) ? inbox.takeAll() : nil
    }

    func close() { try? channel.close().wait() }

    /// Connects a session; returns the ConnectResponse.
    func connectSession() throws -> ConnectResponse {
        send(connectFrame())
        return try ConnectResponse.decode(bytes: readFrame())
    }

    /// Sends one request and returns its reply header and body.
    func call(_ xid: Int32, _ opCode: OpCode, _ body: RequestBody) throws -> (ReplyHeader, ResponseBody?) {
        send(frame(ClientRequest(xid: xid, opCodeRaw: opCode.rawValue, body: body)))
        var reply = ByteBufferAllocator().buffer(bytes: try readFrame())
        let header = try ReplyHeader(from: &reply)
        guard header.err == 0 else { return (header, nil) }
        return (header, try ResponseBody.decode(opCode: opCode, from: &reply))
    }

    final class Inbox: @unchecked Sendable {
        private let condition = NSCondition()
        private var bytes: [UInt8] = []
        private var closed = false

        func append(_ more: [UInt8]) {
            condition.lock()
            bytes += more
            condition.broadcast()
            condition.unlock()
        }

        func markClosed() {
            condition.lock()
            closed = true
            condition.broadcast()
            condition.unlock()
        }

        func take(_ count: Int, timeoutMs: Int64) throws -> [UInt8] {
            let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
            condition.lock()
            defer { condition.unlock() }
            while bytes.count < count {
                if closed { throw Failure.closed("after \(bytes.count) of \(count) bytes") }
                if !condition.wait(until: deadline) { throw Failure.timedOut("waiting for \(count) bytes") }
            }
            let taken = Array(bytes.prefix(count))
            bytes.removeFirst(count)
            return taken
        }

        func takeAll() -> [UInt8] {
            condition.lock()
            defer { condition.unlock() }
            let taken = bytes
            bytes.removeAll()
            return taken
        }

        func waitUntilClosed(timeoutMs: Int64) -> Bool {
            let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
            condition.lock()
            defer { condition.unlock() }
            while !closed {
                if !condition.wait(until: deadline) { return closed }
            }
            return true
        }
    }

    final class InboxHandler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let inbox: Inbox
        init(inbox: Inbox) { self.inbox = inbox }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            inbox.append(buffer.readBytes(length: buffer.readableBytes) ?? [])
        }

        func channelInactive(context: ChannelHandlerContext) {
            inbox.markClosed()
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            inbox.markClosed()
            context.close(promise: nil)
        }
    }
}
