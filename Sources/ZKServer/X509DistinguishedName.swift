/// The subject of a DER X.509 certificate, printed as Java's `X500Principal.getName()` prints it
/// (RFC 2253 form): ZooKeeper's X509AuthenticationProvider uses that string as the client's `x509`
/// id, so an ACL written for Apache ZooKeeper matches the same certificate here.
///
/// Java's rules, from sun.security.x509.AVA.toRFC2253String: RDNs last-to-first, joined by `,`;
/// the AVAs of one RDN joined by `+`; the types CN, C, L, ST, O, OU, STREET, DC and UID by keyword,
/// any other type as its dotted OID with the value as `#` and the lowercase hex of its DER
/// encoding (also for values that are not strings); string values with `,=+<>#;"\` escaped by a
/// backslash, leading and trailing spaces escaped, and NUL as `\00`.
enum X509DistinguishedName {
    struct DecodeError: Error, CustomStringConvertible {
        var description: String
    }

    /// The certificate's subject DN; throws on DER it cannot walk (the handshake already accepted
    /// the certificate, so this means a bug or a certificate BoringSSL reads and we do not).
    static func subject(ofCertificate der: [UInt8]) throws(DecodeError) -> String {
        var reader = DERReader(bytes: der[...])
        var certificate = try reader.element(tag: 0x30).contents
        var tbs = try certificate.element(tag: 0x30).contents
        if tbs.peekTag == 0xA0 { _ = try tbs.element() }  // [0] version
        _ = try tbs.element(tag: 0x02)  // serialNumber
        _ = try tbs.element(tag: 0x30)  // signature
        _ = try tbs.element(tag: 0x30)  // issuer
        _ = try tbs.element(tag: 0x30)  // validity
        let subject = try tbs.element(tag: 0x30)
        return try rfc2253(name: subject.contents)
    }

    /// `Name ::= SEQUENCE OF RelativeDistinguishedName`, given the SEQUENCE's contents.
    static func rfc2253(name: DERReader) throws(DecodeError) -> String {
        var rdns = name
        var printed: [String] = []
        while !rdns.isAtEnd {
            var set = try rdns.element(tag: 0x31).contents
            var attributes: [String] = []
            while !set.isAtEnd {
                var pair = try set.element(tag: 0x30).contents
                let type = try pair.element(tag: 0x06)
                let value = try pair.element()
                attributes.append(attribute(oid: oidText(type.contents.bytes), value: value))
            }
            printed.append(attributes.joined(separator: "+"))
        }
        return printed.reversed().joined(separator: ",")
    }

    /// AVAKeyword's RFC 2253 keywords.
    static let keywords: [String: String] = [
        "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU",
        "2.5.4.9": "STREET", "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID",
    ]

    static func attribute(oid: String, value: DERReader.Element) -> String {
        guard let keyword = keywords[oid], let text = stringValue(value) else {
            return oid + "=#" + value.encoded.map { hexByte($0) }.joined()
        }
        return keyword + "=" + escaped(text)
    }

    /// The directory string types Java prints as text (isDerString, non-canonical).
    static func stringValue(_ value: DERReader.Element) -> String? {
        let bytes = value.contents.bytes
        switch value.tag {
        case 0x0C: return String(decoding: bytes, as: UTF8.self)  // UTF8String
        case 0x13, 0x16, 0x14, 0x1B:  // Printable, IA5, T61 (Java reads it as Latin-1), General
            return String(bytes.map { Character(Unicode.Scalar($0)) })
        case 0x1E:  // BMPString: UTF-16BE
            guard bytes.count % 2 == 0 else { return nil }
            let units = stride(from: bytes.startIndex, to: bytes.endIndex, by: 2).map {
                UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1])
            }
            return String(decoding: units, as: UTF16.self)
        default: return nil
        }
    }

    static func escaped(_ text: String) -> String {
        let characters = Array(text)
        // Java escapes every leading and trailing space (or CR), not just the outermost one.
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\r" }
        let leading = characters.prefix(while: isBlank).count
        let trailing = characters.count - characters.reversed().prefix(while: isBlank).count
        var result = ""
        for (index, character) in characters.enumerated() {
            if ",=+<>#;\"\\".contains(character) || index < leading || index >= trailing {
                result.append("\\")
                result.append(character)
            } else if character == "\u{0}" {
                result.append("\\00")
            } else {
                result.append(character)
            }
        }
        return result
    }

    static func oidText(_ bytes: ArraySlice<UInt8>) -> String {
        var arcs: [UInt64] = []
        var value: UInt64 = 0
        for byte in bytes {
            value = value << 7 | UInt64(byte & 0x7f)
            if byte & 0x80 == 0 {
                arcs.append(value)
                value = 0
            }
        }
        guard let first = arcs.first else { return "" }
        let head: [UInt64] = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80]
        return (head + arcs.dropFirst()).map(String.init).joined(separator: ".")
    }

    static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
    }
}

/// Just enough DER to walk a certificate: definite lengths, one-byte tags.
struct DERReader {
    struct Element {
        var tag: UInt8
        var contents: DERReader
        /// Tag, length and contents, as they appear in the input.
        var encoded: ArraySlice<UInt8>
    }

    var bytes: ArraySlice<UInt8>

    var isAtEnd: Bool { bytes.isEmpty }
    var peekTag: UInt8? { bytes.first }

    mutating func element(tag expected: UInt8? = nil) throws(X509DistinguishedName.DecodeError) -> Element {
        let start = bytes.startIndex
        guard bytes.count >= 2 else { throw .init(description: "DER: truncated element") }
        let tag = bytes[start]
        if let expected, tag != expected {
            throw .init(description: "DER: tag 0x\(String(tag, radix: 16)) where 0x\(String(expected, radix: 16)) belongs")
        }
        var index = start + 1
        var length = Int(bytes[index])
        index += 1
        if length & 0x80 != 0 {
            let lengthBytes = length & 0x7f
            guard lengthBytes >= 1, lengthBytes <= 4, bytes.endIndex - index >= lengthBytes else {
                throw .init(description: "DER: unsupported length")
            }
            length = 0
            for _ in 0..<lengthBytes {
                length = length << 8 | Int(bytes[index])
                index += 1
            }
        }
        guard bytes.endIndex - index >= length else { throw .init(description: "DER: element longer than its input") }
        let end = index + length
        let element = Element(tag: tag, contents: DERReader(bytes: bytes[index..<end]), encoded: bytes[start..<end])
        bytes = bytes[end...]
        return element
    }
}
