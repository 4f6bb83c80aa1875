import Foundation
import Testing
import ZKBase
import ZKConfig
@testable import ZKServer
import ZKTestSupport
import ZKWire

/// secureClientPort: TLS clients, the x509 ACL scheme, and clients that must be refused without
/// disturbing anyone else. Certificates come from openssl at test time (TLSCertificates).
@Suite(.serialized) struct ClientTLSTests {
    static func x509(_ name: String, _ perms: Perms = .all) -> ACL { ACL(perms: perms, id: Id(scheme: "x509", id: name)) }

    static func create(_ path: String, acl: [ACL]) -> RequestBody {
        .create(opCode: .create, CreateRequest(path: path, data: Array("tls".utf8), acl: acl, flags: CreateMode.persistent.rawValue, ttl: 0))
    }

    /// A client with `keyStore` connects a session and reads /secret; the reply's error code.
    static func readSecret(_ server: TLSTestServer, _ certificates: TLSCertificates, keyStore: String) throws -> Int32 {
        let client = try TLSTestClient(port: server.securePort, keyStore: keyStore, caFile: certificates.caFile)
        defer { client.close() }
        _ = try client.connectSession()
        return try client.call(1, .getData, .getData(path: "/secret", watch: false)).0.err
    }

    @Test func secureOnlyServerServesTLSClientsWithX509ACLs() async throws {
        try await onThread {
            let certificates = try TLSCertificates()
            defer { certificates.remove() }
            let server = try TLSTestServer(certificates: certificates)
            defer { server.stop() }
            // No plain port at all: the secure one is the only listener.
            #expect(server.server.localPort == server.securePort)

            let owner = try TLSTestClient(port: server.securePort, keyStore: certificates.keyStore("client1"), caFile: certificates.caFile)
            defer { owner.close() }
            let session = try owner.connectSession()
            #expect(session.sessionId != 0)
            let (created, _) = try owner.call(1, .create, Self.create("/secret", acl: [Self.x509(TLSCertificates.client1Name)]))
            #expect(created.err == 0)
            let (_, whoAmI) = try owner.call(2, .whoAmI, .whoAmI)
            guard case .whoAmI(let infos)? = whoAmI else { throw TestFailure("no whoAmI answer") }
            #expect(infos.contains(ClientInfo(authScheme: "x509", user: TLSCertificates.client1Name)))
            let (read, body) = try owner.call(3, .getData, .getData(path: "/secret", watch: false))
            #expect(read.err == 0)
            guard case .getData(let data, _)? = body else { throw TestFailure("no getData answer") }
            #expect(data == Array("tls".utf8))

            // Another certificate of the same CA is another identity: NoAuth.
            #expect(try Self.readSecret(server, certificates, keyStore: certificates.keyStore("client2")) == ErrorCode.noAuth.rawValue)
            // The superUser DN reads anything.
            #expect(try Self.readSecret(server, certificates, keyStore: certificates.keyStore("admin")) == 0)
            // The `auth` ACL id expands to the connection's x509 id.
            let (authCreated, _) = try owner.call(4, .create, Self.create("/mine", acl: ACL.creatorAll))
            #expect(authCreated.err == 0)
            let (acl, aclBody) = try owner.call(5, .getACL, .getACL(path: "/mine"))
            #expect(acl.err == 0)
            guard case .getACL(let entries, _)? = aclBody else { throw TestFailure("no getACL answer") }
            #expect(entries == [Self.x509(TLSCertificates.client1Name)])
            // A malformed DN is an invalid ACL.
            let (invalid, _) = try owner.call(6, .create, Self.create("/bad", acl: [Self.x509("not a DN")]))
            #expect(invalid.err == ErrorCode.invalidACL.rawValue)
        }
    }

    @Test func refusedClientsLoseOnlyTheirConnection() async throws {
        try await onThread {
            let certificates = try TLSCertificates()
            defer { certificates.remove() }
            let server = try TLSTestServer(certificates: certificates, plainPort: true) { $0.handshakeTimeoutMs = 500 }
            defer { server.stop() }
            let bystander = try TLSTestClient(port: server.securePort, keyStore: certificates.keyStore("client1"), caFile: certificates.caFile)
            defer { bystander.close() }
            _ = try bystander.connectSession()

            // A plain ZooKeeper client on the secure port: closed, no ConnectResponse.
            let plain = try RawSocket(port: server.securePort)
            plain.send(connectFrame())
            let plainAnswer = plain.readUntilClosed(timeoutMs: 60_000)
            #expect(plainAnswer != nil, "a plain client on the secure port must be closed, not left hanging")
            #expect(plainAnswer.map { $0.count < 4 || payloads(of: $0).isEmpty } ?? false, "a TLS alert at most, never a ConnectResponse")
            // Garbage.
            let garbage = try RawSocket(port: server.securePort)
            var generator = SplitMix64(seed: 7)
            garbage.send((0..<512).map { _ in UInt8.random(in: 0...255, using: &generator) })
            #expect(garbage.readUntilClosed(timeoutMs: 60_000) != nil)
            // A client that never starts the handshake: closed after ssl.handshakeDetectionTimeoutMillis.
            let silent = try RawSocket(port: server.securePort)
            let started = ZKTestSupport.monotonicMs()
            #expect(silent.readUntilClosed(timeoutMs: 10_000) != nil)
            #expect(ZKTestSupport.monotonicMs() - started >= 400)
            // A certificate from another CA, an expired one, and none at all (clientAuth=need).
            for keyStore in [certificates.keyStore("untrusted"), certificates.keyStore("expired"), nil] {
                let refused = try TLSTestClient(port: server.securePort, keyStore: keyStore, caFile: certificates.caFile)
                refused.send(connectFrame())
                #expect(refused.waitUntilClosed(), "\(keyStore ?? "no certificate") must be refused")
                #expect(throws: (any Error).self) { try refused.readFrame(timeoutMs: 1000) }
            }

            // Everyone else is still served, on both ports.
            let (created, _) = try bystander.call(1, .create, Self.create("/still", acl: ACL.openUnsafe))
            #expect(created.err == 0)
            try wellFormedSession(port: server.server.localPort, path: "/plain")
            #expect(try Self.readSecretOrMissing(server, certificates) == ErrorCode.noNode.rawValue)
        }
    }

    static func readSecretOrMissing(_ server: TLSTestServer, _ certificates: TLSCertificates) throws -> Int32 {
        try readSecret(server, certificates, keyStore: certificates.keyStore("client2"))
    }

    @Test func clientAuthWantAcceptsClientsWithoutCertificates() async throws {
        try await onThread {
            let certificates = try TLSCertificates()
            defer { certificates.remove() }
            let server = try TLSTestServer(certificates: certificates) { $0.clientAuthentication = .want }
            defer { server.stop() }
            let anonymous = try TLSTestClient(port: server.securePort, keyStore: nil, caFile: certificates.caFile)
            defer { anonymous.close() }
            _ = try anonymous.connectSession()
            let (_, whoAmI) = try anonymous.call(1, .whoAmI, .whoAmI)
            guard case .whoAmI(let infos)? = whoAmI else { throw TestFailure("no whoAmI answer") }
            #expect(infos.map(\.authScheme) == ["ip"])
            // A certificate is still checked and still yields its identity.
            let named = try TLSTestClient(port: server.securePort, keyStore: certificates.keyStore("client2"), caFile: certificates.caFile)
            defer { named.close() }
            _ = try named.connectSession()
            let (_, namedWho) = try named.call(1, .whoAmI, .whoAmI)
            guard case .whoAmI(let namedInfos)? = namedWho else { throw TestFailure("no whoAmI answer") }
            #expect(namedInfos.contains(ClientInfo(authScheme: "x509", user: TLSCertificates.client2Name)))
            let untrusted = try TLSTestClient(port: server.securePort, keyStore: certificates.keyStore("untrusted"), caFile: certificates.caFile)
            untrusted.send(connectFrame())
            #expect(untrusted.waitUntilClosed())
        }
    }

    @Test func withoutTheX509ProviderACertificateIsRefusedAsInZooKeeper() async throws {
        try await onThread {
            let certificates = try TLSCertificates()
            defer { certificates.remove() }
            let server = try TLSTestServer(certificates: certificates) { $0.x509ProviderEnabled = false }
            defer { server.stop() }
            let client = try TLSTestClient(port: server.securePort, keyStore: certificates.keyStore("client1"), caFile: certificates.caFile)
            client.send(connectFrame())
            #expect(client.waitUntilClosed())
        }
    }

    @Test func pkcs12AndEncryptedPEMKeyStoresAndFourLetterWords() async throws {
        try await onThread {
            let certificates = try TLSCertificates()
            defer { certificates.remove() }
            try certificates.openssl(["pkcs12", "-export", "-inkey", "server.key", "-in", "server.crt", "-out", "server.p12",
                                      "-passout", "pass:p12 secret"])
            try certificates.openssl(["pkcs8", "-topk8", "-in", "server.key", "-out", "server-encrypted.key",
                                      "-passout", "pass:pem secret"])
            let encrypted = try String(contentsOfFile: certificates.directory + "/server-encrypted.key", encoding: .utf8)
                + String(contentsOfFile: certificates.directory + "/server.crt", encoding: .utf8)
            try encrypted.write(toFile: certificates.keyStore("server-encrypted"), atomically: true, encoding: .utf8)
            try "pem secret\n".write(toFile: certificates.directory + "/password", atomically: true, encoding: .utf8)
            let stores: [(String, (inout ClientTLSConfiguration) -> Void)] = [
                ("PKCS12", {
                    $0.keyStoreLocation = certificates.directory + "/server.p12"
                    $0.keyStorePassword = "p12 secret"
                }),
                ("encrypted PEM", {
                    $0.keyStoreLocation = certificates.keyStore("server-encrypted")
                    $0.keyStorePasswordPath = certificates.directory + "/password"
                }),
            ]
            for (kind, configure) in stores {
                let server = try TLSTestServer(certificates: certificates, configure: configure)
                defer { server.stop() }
                let client = try TLSTestClient(port: server.securePort, keyStore: certificates.keyStore("client1"), caFile: certificates.caFile)
                defer { client.close() }
                #expect(try client.connectSession().sessionId != 0, "\(kind)")
                // A four-letter word over TLS is answered, then the server closes its side.
                let words = try TLSTestClient(port: server.securePort, keyStore: certificates.keyStore("client2"), caFile: certificates.caFile)
                words.send(Array("srvr".utf8))
                let answer = words.readUntilClosed().map { String(decoding: $0, as: UTF8.self) }
                #expect(answer?.contains("Mode: standalone") == true, "\(kind): \(answer ?? "no answer")")
            }
            #expect {
                _ = try TLSTestServer(certificates: certificates) {
                    $0.keyStoreLocation = certificates.directory + "/server.p12"
                    $0.keyStorePassword = "wrong"
                }
            } throws: { "\($0)".contains("ssl.keyStore.location") }
        }
    }

    @Test func startupNamesTheBadKeyStore() throws {
        let certificates = try TLSCertificates()
        defer { certificates.remove() }
        #expect {
            _ = try TLSTestServer(certificates: certificates) { $0.keyStoreLocation = certificates.caFile }
        } throws: { "\($0)".contains("ssl.keyStore.location") }
        #expect {
            _ = try TLSTestServer(certificates: certificates) { $0.cipherSuites = ["TLS_NOT_A_SUITE"] }
        } throws: { "\($0)".contains("ssl.ciphersuites") }
    }

    @Test func subjectIsPrintedAsJavaPrintsIt() throws {
        let certificates = try TLSCertificates()
        defer { certificates.remove() }
        let pem = try String(contentsOfFile: certificates.directory + "/client1.crt", encoding: .utf8)
        let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let der = try #require(Data(base64Encoded: body))
        #expect(try X509DistinguishedName.subject(ofCertificate: Array(der)) == TLSCertificates.client1Name)
        // Escapes, non-keyword types and multi-valued RDNs, built by hand:
        // SEQUENCE { SET { CN="a+b " , UID="7" }, SET { emailAddress(IA5)="x@y" } }
        let cn: [UInt8] = [0x30, 0x0b, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x04] + Array("a+b ".utf8)
        let uid: [UInt8] = [0x30, 0x0f, 0x06, 0x0a, 0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01, 0x0c, 0x01, 0x37]
        let email: [UInt8] = [0x30, 0x12, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01, 0x16, 0x05] + Array("x@y.z".utf8)
        let firstSet: [UInt8] = [0x31, UInt8(cn.count + uid.count)] + cn + uid
        let secondSet: [UInt8] = [0x31, UInt8(email.count)] + email
        let name = DERReader(bytes: (firstSet + secondSet)[...])
        #expect(try X509DistinguishedName.rfc2253(name: name)
            == "1.2.840.113549.1.9.1=#16057840792e7a,CN=a\\+b\\ +UID=7")
    }
}
