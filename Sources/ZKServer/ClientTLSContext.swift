import Foundation
import NIOSSL
import ZKConfig

/// Turns the `ssl.*` keys into an NIOSSLContext for `secureClientPort`. Reads the key and trust
/// stores once, at start-up; every failure names the key whose file or value is at fault.
enum ClientTLSContext {
    static func make(_ tls: ClientTLSConfiguration) throws -> NIOSSLContext {
        guard let keyStoreLocation = tls.keyStoreLocation else {
            throw StartupError(description: "ssl.keyStore.location: secureClientPort needs the server's key and certificate")
        }
        let keyPassword = try password(tls.keyStorePassword, path: tls.keyStorePasswordPath, key: "ssl.keyStore.passwordPath")
        let (chain, key) = try keyStore(
            location: keyStoreLocation, type: tls.resolvedKeyStoreType ?? .pem, password: keyPassword)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        if let trustStoreLocation = tls.trustStoreLocation {
            do {
                let certificates = try NIOSSLCertificate.fromPEMFile(trustStoreLocation)
                guard !certificates.isEmpty else { throw StartupError(description: "no certificate in the file") }
                configuration.trustRoots = .certificates(certificates)
            } catch {
                throw StartupError(description: "ssl.trustStore.location \(trustStoreLocation): cannot read PEM certificates: \(error)")
            }
        }
        switch tls.clientAuthentication {
        case .need: configuration.certificateVerification = .noHostnameVerification
        case .want: configuration.certificateVerification = .optionalVerification
        case .none: configuration.certificateVerification = .none
        }
        // Tell clients which CAs we accept, as a Java server does (some clients pick a certificate by it).
        configuration.sendCANameList = tls.clientAuthentication != .none && tls.trustStoreLocation != nil
        let versions = tls.offeredProtocolVersions
        configuration.minimumTLSVersion = tlsVersion(versions.min() ?? .tls12)
        configuration.maximumTLSVersion = tlsVersion(versions.max() ?? .tls12)
        if let names = tls.cipherSuites {
            configuration.cipherSuiteValues = try cipherSuites(names)
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw StartupError(description: "secureClientPort: cannot set up TLS with ssl.keyStore.location \(keyStoreLocation): \(error)")
        }
    }

    /// `ssl.*.password`, or the text of `ssl.*.passwordPath` without its trailing line break.
    static func password(_ value: String?, path: String?, key: String) throws -> String? {
        guard let path else { return value.flatMap { $0.isEmpty ? nil : $0 } }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw StartupError(description: "\(key) \(path): cannot read the password file")
        }
        var password = Substring(text)
        while let last = password.last, last == "\n" || last == "\r" { password = password.dropLast() }
        return String(password)
    }

    static func keyStore(
        location: String, type: ClientTLSConfiguration.StoreType, password: String?
    ) throws -> ([NIOSSLCertificate], NIOSSLPrivateKey) {
        do {
            switch type {
            case .pem:
                // ZooKeeper's PEM key store is one file: the private key and the certificate chain.
                let chain = try NIOSSLCertificate.fromPEMFile(location)
                guard !chain.isEmpty else { throw StartupError(description: "no certificate in the file") }
                let key: NIOSSLPrivateKey
                if let password {
                    key = try NIOSSLPrivateKey(file: location, format: .pem) { setter in setter(Array(password.utf8)) }
                } else {
                    key = try NIOSSLPrivateKey(file: location, format: .pem)
                }
                return (chain, key)
            case .pkcs12:
                let bundle = try NIOSSLPKCS12Bundle(file: location, passphrase: password.map { Array($0.utf8) })
                return (bundle.certificateChain, bundle.privateKey)
            }
        } catch {
            throw StartupError(description: "ssl.keyStore.location \(location): cannot read the \(type.rawValue) key store (the key and certificate chain): \(error)")
        }
    }

    static func tlsVersion(_ version: ClientTLSConfiguration.ProtocolVersion) -> TLSVersion {
        switch version {
        case .tls1: .tlsv1
        case .tls11: .tlsv11
        case .tls12: .tlsv12
        case .tls13: .tlsv13
        }
    }

    /// Java (IANA) names of the suites BoringSSL offers. TLS 1.3 suites cannot be chosen in
    /// BoringSSL: they are accepted and always on.
    static let cipherSuitesByName: [String: NIOTLSCipher] = [
        "TLS_RSA_WITH_AES_128_CBC_SHA": .TLS_RSA_WITH_AES_128_CBC_SHA,
        "TLS_RSA_WITH_AES_256_CBC_SHA": .TLS_RSA_WITH_AES_256_CBC_SHA,
        "TLS_RSA_WITH_AES_128_GCM_SHA256": .TLS_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_RSA_WITH_AES_256_GCM_SHA384": .TLS_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_AES_128_GCM_SHA256": .TLS_AES_128_GCM_SHA256,
        "TLS_AES_256_GCM_SHA384": .TLS_AES_256_GCM_SHA384,
        "TLS_CHACHA20_POLY1305_SHA256": .TLS_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": .TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": .TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": .TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": .TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ]

    static func cipherSuites(_ names: [String]) throws -> [NIOTLSCipher] {
        var suites: [NIOTLSCipher] = []
        for name in names {
            guard let suite = cipherSuitesByName[name] else {
                throw StartupError(description: "invalid value for ssl.ciphersuites: \"\(name)\" is not a cipher suite Paddock offers (one of \(cipherSuitesByName.keys.sorted().joined(separator: ", ")))")
            }
            suites.append(suite)
        }
        return suites
    }
}
