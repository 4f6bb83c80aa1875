/// TLS on `secureClientPort`: ZooKeeper 3.8's `ssl.*` keys (ClientX509Util, prefix `zookeeper.ssl.`)
/// plus the x509 authentication provider. zoo.cfg may spell each key with or without `zookeeper.`.
///
/// Values are checked here (names, enums, numbers); files are read when the server starts, which
/// reports a bad file naming the key that points at it.
public struct ClientTLSConfiguration: Sendable, Equatable {
    /// `ssl.keyStore.type` / `ssl.trustStore.type`. ZooKeeper also knows JKS and BCFKS; Paddock
    /// refuses them by name (convert with openssl or keytool to PEM).
    public enum StoreType: String, Sendable, Equatable {
        /// Key store: the private key and the certificate chain in one file. Trust store: certificates.
        case pem = "PEM"
        /// Key store only: a PKCS#12 bundle (ssl.keyStore.password decrypts it).
        case pkcs12 = "PKCS12"
    }

    /// `ssl.clientAuth`: whether the server asks for a client certificate (ZooKeeper's X509Util.ClientAuth).
    public enum ClientAuthentication: String, Sendable, Equatable {
        case none, want, need
    }

    /// `ssl.protocol` / `ssl.enabledProtocols` values, as Java's SSLContext names them.
    public enum ProtocolVersion: String, Sendable, Equatable, Comparable {
        case tls1 = "TLSv1", tls11 = "TLSv1.1", tls12 = "TLSv1.2", tls13 = "TLSv1.3"

        var order: Int {
            switch self {
            case .tls1: 0
            case .tls11: 1
            case .tls12: 2
            case .tls13: 3
            }
        }

        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.order < rhs.order }
    }

    /// ZooKeeper's class names: `serverCnxnFactory` must name one of them.
    public static let nettyFactoryClassName = "org.apache.zookeeper.server.NettyServerCnxnFactory"
    public static let nioFactoryClassName = "org.apache.zookeeper.server.NIOServerCnxnFactory"
    public static let x509ProviderClassName = "org.apache.zookeeper.server.auth.X509AuthenticationProvider"
    /// ZooKeeper's `X509Util.DEFAULT_HANDSHAKE_DETECTION_TIMEOUT_MILLIS`.
    public static let handshakeTimeoutMsDefault = 5000

    /// `ssl.keyStore.location`: the server's key and certificate chain. Required with secureClientPort.
    public var keyStoreLocation: String? = nil
    /// `ssl.keyStore.password` (or the text of the file `ssl.keyStore.passwordPath`, without its line break):
    /// decrypts an encrypted PEM key or a PKCS#12 bundle.
    public var keyStorePassword: String? = nil
    public var keyStorePasswordPath: String? = nil
    /// `ssl.keyStore.type`; nil = from the file name (`.pem`, `.p12`/`.pfx`), as ZooKeeper does.
    public var keyStoreType: StoreType? = nil
    /// `ssl.trustStore.location`: the CAs client certificates must chain to; nil = the system's roots
    /// (ZooKeeper falls back to the JVM's default trust store the same way).
    public var trustStoreLocation: String? = nil
    public var trustStorePassword: String? = nil
    public var trustStorePasswordPath: String? = nil
    public var trustStoreType: StoreType? = nil
    /// `ssl.clientAuth`: ZooKeeper's default is `need`.
    public var clientAuthentication: ClientAuthentication = .need
    /// `ssl.protocol`: ZooKeeper 3.8's default TLSv1.2; `ssl.enabledProtocols` defaults to it alone.
    public var protocolVersion: ProtocolVersion = .tls12
    public var enabledProtocolVersions: [ProtocolVersion]? = nil
    /// `ssl.ciphersuites`: IANA/Java names, checked when the server starts; nil = the TLS library's defaults.
    public var cipherSuites: [String]? = nil
    /// `ssl.hostnameVerification`: a client-side switch; a server never checks client host names
    /// (ZooKeeper's ClientX509Util does not either). Kept so a shared zoo.cfg parses.
    public var hostnameVerification: Bool = true
    /// `ssl.handshakeDetectionTimeoutMillis`: Paddock closes a connection whose TLS handshake has not
    /// finished after this long (ZooKeeper uses it for port unification; Netty bounds the rest at 10 s).
    public var handshakeTimeoutMs: Int = ClientTLSConfiguration.handshakeTimeoutMsDefault
    /// `ssl.authProvider`: the scheme of the provider that turns a client certificate into an id.
    public var authProviderScheme: String = "x509"
    /// `authProvider.N=org.apache.zookeeper.server.auth.X509AuthenticationProvider` was given: the x509
    /// scheme exists. Without it ZooKeeper closes every connection that presents a client certificate.
    public var x509ProviderEnabled: Bool = false
    /// `X509AuthenticationProvider.superUser` (`zookeeper.X509AuthenticationProvider.superUser`).
    public var x509SuperUser: String? = nil
    /// `serverCnxnFactory` as written; nil when absent.
    public var serverConnectionFactory: String? = nil

    public init() {}

    /// The versions the server offers: `ssl.enabledProtocols`, or `ssl.protocol` alone.
    public var offeredProtocolVersions: [ProtocolVersion] { enabledProtocolVersions ?? [protocolVersion] }
}

extension ServerConfiguration {
    /// The `ssl.*`, `serverCnxnFactory` and x509 provider keys. Returns false for any other key.
    static func applyTLS(_ entry: ConfigurationEntry, to tls: inout ClientTLSConfiguration) throws(ConfigurationError) -> Bool {
        switch entry.key {
        case "ssl.keyStore.location": tls.keyStoreLocation = try ValueParsing.nonEmpty(entry)
        case "ssl.keyStore.password": tls.keyStorePassword = entry.value
        case "ssl.keyStore.passwordPath": tls.keyStorePasswordPath = try ValueParsing.nonEmpty(entry)
        case "ssl.keyStore.type": tls.keyStoreType = try storeType(entry, keyStore: true)
        case "ssl.trustStore.location": tls.trustStoreLocation = try ValueParsing.nonEmpty(entry)
        case "ssl.trustStore.password": tls.trustStorePassword = entry.value
        case "ssl.trustStore.passwordPath": tls.trustStorePasswordPath = try ValueParsing.nonEmpty(entry)
        case "ssl.trustStore.type": tls.trustStoreType = try storeType(entry, keyStore: false)
        case "ssl.clientAuth":
            // X509Util.ClientAuth.fromPropertyValue: empty means the default, any case is accepted.
            if entry.value.isEmpty { tls.clientAuthentication = .need; break }
            guard let mode = ClientTLSConfiguration.ClientAuthentication(rawValue: entry.value.lowercased()) else {
                throw ValueParsing.invalid(entry, expected: "expected none, want or need")
            }
            tls.clientAuthentication = mode
        case "ssl.protocol": tls.protocolVersion = try protocolVersion(entry, entry.value)
        case "ssl.enabledProtocols":
            let names = entry.value.split(separator: ",").map { $0.trimmedSpaces() }.filter { !$0.isEmpty }
            guard !names.isEmpty else { throw ValueParsing.invalid(entry, expected: "expected a comma-separated list such as TLSv1.2,TLSv1.3") }
            var versions: [ClientTLSConfiguration.ProtocolVersion] = []
            for name in names { versions.append(try protocolVersion(entry, name)) }
            tls.enabledProtocolVersions = versions
        case "ssl.ciphersuites":
            let names = entry.value.split(separator: ",").map { $0.trimmedSpaces() }.filter { !$0.isEmpty }
            guard !names.isEmpty else { throw ValueParsing.invalid(entry, expected: "expected a comma-separated list of cipher suite names") }
            tls.cipherSuites = names
        case "ssl.hostnameVerification": tls.hostnameVerification = try ValueParsing.boolean(entry)
        case "ssl.crl", "ssl.ocsp":
            if try ValueParsing.boolean(entry) {
                throw ValueParsing.invalid(entry, expected: "Paddock does not check revocation (CRL/OCSP); set false or remove the key")
            }
        case "ssl.context.supplier.class":
            throw ValueParsing.invalid(entry, expected: "Paddock cannot load a Java SSLContext supplier; use the ssl.keyStore.* and ssl.trustStore.* keys")
        case "ssl.handshakeDetectionTimeoutMillis": tls.handshakeTimeoutMs = try ValueParsing.positiveInteger(entry)
        case "ssl.authProvider":
            guard entry.value == "x509" else {
                throw ValueParsing.invalid(entry, expected: "only the x509 provider is available in Paddock")
            }
            tls.authProviderScheme = entry.value
        case "X509AuthenticationProvider.superUser": tls.x509SuperUser = entry.value
        // Quorum TLS is not implemented: refusing beats silently running the quorum in plaintext.
        case "sslQuorum", "client.portUnification":
            if try ValueParsing.boolean(entry) {
                throw ValueParsing.invalid(entry, expected: "Paddock does not implement \(entry.key == "sslQuorum" ? "quorum TLS" : "port unification"); set false or remove the key")
            }
        case "serverCnxnFactory":
            guard [ClientTLSConfiguration.nettyFactoryClassName, ClientTLSConfiguration.nioFactoryClassName].contains(entry.value) else {
                throw ValueParsing.invalid(entry, expected: "expected \(ClientTLSConfiguration.nettyFactoryClassName) or \(ClientTLSConfiguration.nioFactoryClassName)")
            }
            tls.serverConnectionFactory = entry.value
        default:
            guard entry.key.hasPrefix("authProvider."), entry.value == ClientTLSConfiguration.x509ProviderClassName else { return false }
            tls.x509ProviderEnabled = true
        }
        return true
    }

    private static func storeType(
        _ entry: ConfigurationEntry, keyStore: Bool
    ) throws(ConfigurationError) -> ClientTLSConfiguration.StoreType? {
        // KeyStoreFileType.fromPropertyValue: empty means "from the file name"; names in any case.
        if entry.value.isEmpty { return nil }
        switch entry.value.uppercased() {
        case "PEM": return .pem
        case "PKCS12" where keyStore: return .pkcs12
        case "PKCS12", "JKS", "BCFKS":
            throw ValueParsing.invalid(entry, expected: "Paddock reads PEM\(keyStore ? " or PKCS12" : "") stores; convert the \(entry.value.uppercased()) store to PEM (openssl/keytool) and set PEM")
        default:
            throw ValueParsing.invalid(entry, expected: "expected PEM\(keyStore ? " or PKCS12" : "")")
        }
    }

    private static func protocolVersion(
        _ entry: ConfigurationEntry, _ name: String
    ) throws(ConfigurationError) -> ClientTLSConfiguration.ProtocolVersion {
        guard let version = ClientTLSConfiguration.ProtocolVersion(rawValue: name) else {
            throw ValueParsing.invalid(entry, expected: "expected TLSv1.2 or TLSv1.3 (or TLSv1, TLSv1.1)")
        }
        return version
    }
}

extension Substring {
    fileprivate func trimmedSpaces() -> String {
        var text = self
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}

extension ServerConfiguration {
    /// The cross-key TLS rules: a secure port needs a key store whose type is known.
    func validateTLS(lineOf: (String) -> Int?) throws(ConfigurationError) {
        guard secureClientPort != nil else { return }
        guard let keyStoreLocation = tls.keyStoreLocation else {
            throw ConfigurationError(
                kind: .missingValue, key: "ssl.keyStore.location",
                message: "missing value for ssl.keyStore.location (secureClientPort needs the server's key and certificate)",
                line: lineOf("secureClientPort"))
        }
        if tls.keyStoreType == nil, ClientTLSConfiguration.storeType(fromFileName: keyStoreLocation, keyStore: true) == nil {
            throw ConfigurationError.invalidValue(
                key: "ssl.keyStore.location", value: keyStoreLocation,
                expected: "cannot tell the store type from the file name; set ssl.keyStore.type=PEM", line: lineOf("ssl.keyStore.location"))
        }
        if let trustStoreLocation = tls.trustStoreLocation, tls.trustStoreType == nil,
           ClientTLSConfiguration.storeType(fromFileName: trustStoreLocation, keyStore: false) == nil
        {
            throw ConfigurationError.invalidValue(
                key: "ssl.trustStore.location", value: trustStoreLocation,
                expected: "cannot tell the store type from the file name; set ssl.trustStore.type=PEM", line: lineOf("ssl.trustStore.location"))
        }
        if tls.serverConnectionFactory == ClientTLSConfiguration.nioFactoryClassName {
            throw ConfigurationError.invalidValue(
                key: "serverCnxnFactory", value: ClientTLSConfiguration.nioFactoryClassName,
                expected: "ZooKeeper serves secureClientPort only with \(ClientTLSConfiguration.nettyFactoryClassName)",
                line: lineOf("serverCnxnFactory"))
        }
    }
}

extension ClientTLSConfiguration {
    /// KeyStoreFileType.fromFileName, limited to the types Paddock reads.
    public static func storeType(fromFileName path: String, keyStore: Bool) -> StoreType? {
        let lowered = path.lowercased()
        if lowered.hasSuffix(".pem") { return .pem }
        if keyStore && (lowered.hasSuffix(".p12") || lowered.hasSuffix(".pfx")) { return .pkcs12 }
        return nil
    }

    /// The key store's type: as configured, else from its file name.
    public var resolvedKeyStoreType: StoreType? {
        keyStoreType ?? keyStoreLocation.flatMap { Self.storeType(fromFileName: $0, keyStore: true) }
    }
}
