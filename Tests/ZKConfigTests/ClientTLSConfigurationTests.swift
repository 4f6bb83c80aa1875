import Testing
@testable import ZKConfig

@Suite struct ClientTLSConfigurationTests {
    static let minimal = """
        dataDir=/var/zk
        secureClientPort=2281
        ssl.keyStore.location=/etc/zk/server.pem
        """

    @Test func zooKeeperDefaults() throws {
        let tls = try ServerConfiguration.parse(Self.minimal).tls
        #expect(tls.clientAuthentication == .need)
        #expect(tls.offeredProtocolVersions == [.tls12])
        #expect(tls.handshakeTimeoutMs == 5000)
        #expect(tls.resolvedKeyStoreType == .pem)
        #expect(tls.trustStoreLocation == nil)
        #expect(tls.x509ProviderEnabled == false)
        #expect(tls.authProviderScheme == "x509")
        #expect(tls.cipherSuites == nil)
    }

    @Test func everyKeyInBothSpellings() throws {
        let text = """
            dataDir=/var/zk
            clientPort=2181
            secureClientPort=2281
            secureClientPortAddress=127.0.0.1
            serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory
            zookeeper.ssl.keyStore.location=/etc/zk/server.p12
            ssl.keyStore.password=secret
            zookeeper.ssl.keyStore.type=pkcs12
            ssl.trustStore.location=/etc/zk/ca.pem
            zookeeper.ssl.trustStore.type=PEM
            ssl.trustStore.passwordPath=/etc/zk/trust.password
            zookeeper.ssl.clientAuth=WANT
            ssl.protocol=TLSv1.3
            zookeeper.ssl.enabledProtocols=TLSv1.2, TLSv1.3
            ssl.ciphersuites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256
            ssl.hostnameVerification=false
            ssl.crl=false
            zookeeper.ssl.ocsp=false
            ssl.handshakeDetectionTimeoutMillis=750
            ssl.authProvider=x509
            zookeeper.authProvider.1=org.apache.zookeeper.server.auth.X509AuthenticationProvider
            zookeeper.X509AuthenticationProvider.superUser=CN=admin,O=Paddock
            """
        let configuration = try ServerConfiguration.parse(text)
        let tls = configuration.tls
        #expect(configuration.secureClientPort == 2281)
        #expect(configuration.secureClientPortAddress == "127.0.0.1")
        #expect(tls.serverConnectionFactory == ClientTLSConfiguration.nettyFactoryClassName)
        #expect(tls.keyStoreLocation == "/etc/zk/server.p12")
        #expect(tls.keyStorePassword == "secret")
        #expect(tls.keyStoreType == .pkcs12)
        #expect(tls.trustStoreLocation == "/etc/zk/ca.pem")
        #expect(tls.trustStoreType == .pem)
        #expect(tls.trustStorePasswordPath == "/etc/zk/trust.password")
        #expect(tls.clientAuthentication == .want)
        #expect(tls.protocolVersion == .tls13)
        #expect(tls.offeredProtocolVersions == [.tls12, .tls13])
        #expect(tls.cipherSuites == ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"])
        #expect(tls.hostnameVerification == false)
        #expect(tls.handshakeTimeoutMs == 750)
        #expect(tls.x509ProviderEnabled)
        #expect(tls.x509SuperUser == "CN=admin,O=Paddock")
        #expect(configuration.unrecognizedEntries.isEmpty)
    }

    @Test func otherAuthProvidersStayUnrecognized() throws {
        let configuration = try ServerConfiguration.parse("dataDir=/var/zk\nauthProvider.sasl=org.apache.zookeeper.server.auth.SASLAuthenticationProvider")
        #expect(configuration.tls.x509ProviderEnabled == false)
        #expect(configuration.unrecognizedEntries.map(\.key) == ["authProvider.sasl"])
    }

    @Test(arguments: [
        ("ssl.keyStore.type=JKS", "ssl.keyStore.type", "PEM"),
        ("ssl.trustStore.type=PKCS12", "ssl.trustStore.type", "PEM"),
        ("ssl.keyStore.type=BCFKS", "ssl.keyStore.type", "PEM"),
        ("ssl.keyStore.type=XYZ", "ssl.keyStore.type", "PEM"),
        ("ssl.clientAuth=sometimes", "ssl.clientAuth", "none, want or need"),
        ("ssl.protocol=SSLv3", "ssl.protocol", "TLSv1.2"),
        ("ssl.enabledProtocols=TLSv1.2,TLSv9", "ssl.enabledProtocols", "TLSv1.2"),
        ("ssl.enabledProtocols=,", "ssl.enabledProtocols", "comma-separated"),
        ("ssl.hostnameVerification=maybe", "ssl.hostnameVerification", "true or false"),
        ("ssl.crl=true", "ssl.crl", "revocation"),
        ("ssl.ocsp=true", "ssl.ocsp", "revocation"),
        ("ssl.context.supplier.class=com.example.Supplier", "ssl.context.supplier.class", "SSLContext"),
        ("ssl.handshakeDetectionTimeoutMillis=0", "ssl.handshakeDetectionTimeoutMillis", "positive"),
        ("ssl.authProvider=kerberos", "ssl.authProvider", "x509"),
        ("serverCnxnFactory=com.example.Factory", "serverCnxnFactory", "NettyServerCnxnFactory"),
        ("sslQuorum=true", "sslQuorum", "quorum TLS"),
        ("client.portUnification=true", "client.portUnification", "port unification"),
    ])
    func invalidValuesNameTheKey(line: String, key: String, hint: String) {
        #expect {
            _ = try ServerConfiguration.parse(Self.minimal + "\n" + line)
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.key == key && error.message.contains(hint) && error.line == 4
        }
    }

    @Test func secureClientPortNeedsAKeyStoreOfAKnownType() {
        #expect {
            _ = try ServerConfiguration.parse("dataDir=/var/zk\nsecureClientPort=2281")
        } throws: { ($0 as? ConfigurationError)?.key == "ssl.keyStore.location" }
        #expect {
            _ = try ServerConfiguration.parse("dataDir=/var/zk\nsecureClientPort=2281\nssl.keyStore.location=/etc/zk/server.key")
        } throws: { ($0 as? ConfigurationError)?.message.contains("ssl.keyStore.type=PEM") ?? false }
        #expect {
            _ = try ServerConfiguration.parse(Self.minimal + "\nssl.trustStore.location=/etc/zk/ca.crt")
        } throws: { ($0 as? ConfigurationError)?.key == "ssl.trustStore.location" }
        #expect {
            _ = try ServerConfiguration.parse(Self.minimal + "\nserverCnxnFactory=org.apache.zookeeper.server.NIOServerCnxnFactory")
        } throws: { ($0 as? ConfigurationError)?.key == "serverCnxnFactory" }
        // Without a secure port the keys are only checked for form (a shared zoo.cfg still parses).
        #expect(throws: Never.self) {
            _ = try ServerConfiguration.parse("dataDir=/var/zk\nssl.keyStore.location=/etc/zk/server.key\nserverCnxnFactory=org.apache.zookeeper.server.NIOServerCnxnFactory")
        }
    }
}
