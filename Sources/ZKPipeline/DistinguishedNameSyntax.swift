/// Whether a string parses as an X.500 distinguished name the way Java's `new X500Principal(String)`
/// reads one (RFC 2253 and RFC 1779): X509AuthenticationProvider.isValid accepts exactly those, so
/// it decides whether an `x509:<DN>` ACL id is valid.
///
/// The grammar: RDNs separated by `,` or `;`, attribute-value pairs in an RDN by `+`; a type is a
/// keyword Java knows (any case) or a dotted OID (optionally `OID.`-prefixed); a value is `#hex`,
/// a `"quoted"` string, or a string with `\`-escapes (`\,` or `\HH`). The empty string is the empty
/// DN, which Java accepts too.
public enum DistinguishedNameSyntax {
    /// Keywords of sun.security.x509.AVAKeyword that X500Principal(String) accepts.
    static let keywords: Set<String> = [
        "CN", "C", "L", "S", "ST", "O", "OU", "T", "IP", "STREET", "DC", "DNQUALIFIER", "DNQ", "SURNAME",
        "GIVENNAME", "INITIALS", "GENERATION", "EMAIL", "EMAILADDRESS", "UID", "SERIALNUMBER",
    ]
    /// ACL ids are bounded by the packet size already; this bounds the work on one.
    static let characterCountMax = 64 * 1024

    public static func isValid(_ name: String) -> Bool {
        let characters = Array(name.unicodeScalars)
        guard characters.count <= characterCountMax else { return false }
        if characters.allSatisfy({ $0 == " " }) { return true }
        var index = 0
        while true {
            guard parseAttribute(characters, &index) else { return false }
            skipSpaces(characters, &index)
            if index == characters.count { return true }
            guard [",", ";", "+"].contains(characters[index]) else { return false }
            index += 1
        }
    }

    private static func skipSpaces(_ characters: [Unicode.Scalar], _ index: inout Int) {
        while index < characters.count, characters[index] == " " { index += 1 }
    }

    /// `type=value`, leaving `index` after the value.
    private static func parseAttribute(_ characters: [Unicode.Scalar], _ index: inout Int) -> Bool {
        skipSpaces(characters, &index)
        var type = ""
        while index < characters.count, characters[index] != "=" {
            if [",", ";", "+"].contains(characters[index]) { return false }
            type.unicodeScalars.append(characters[index])
            index += 1
        }
        guard index < characters.count, isValidType(type.trimmedOfSpaces()) else { return false }
        index += 1
        skipSpaces(characters, &index)
        return parseValue(characters, &index)
    }

    static func isValidType(_ type: String) -> Bool {
        if keywords.contains(type.uppercased()) { return true }
        var oid = Substring(type)
        if oid.uppercased().hasPrefix("OID.") { oid = oid.dropFirst(4) }
        let arcs = oid.split(separator: ".", omittingEmptySubsequences: false)
        return arcs.count >= 2 && arcs.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }
    }

    private static func parseValue(_ characters: [Unicode.Scalar], _ index: inout Int) -> Bool {
        guard index < characters.count else { return true }
        switch characters[index] {
        case "#":
            index += 1
            let start = index
            while index < characters.count, characters[index].properties.isASCIIHexDigit { index += 1 }
            let digitCount = index - start
            return digitCount > 0 && digitCount % 2 == 0
        case "\"":
            index += 1
            while index < characters.count, characters[index] != "\"" {
                if characters[index] == "\\" { index += 1 }
                index += 1
            }
            guard index < characters.count else { return false }
            index += 1
            return true
        default:
            while index < characters.count, ![",", ";", "+"].contains(characters[index]) {
                if characters[index] == "\\" {
                    guard index + 1 < characters.count else { return false }
                    index += 1
                } else if ["\"", "<", ">"].contains(characters[index]) {
                    return false
                }
                index += 1
            }
            return true
        }
    }
}

extension String {
    fileprivate func trimmedOfSpaces() -> String {
        var scalars = Substring(self)
        while scalars.first == " " { scalars = scalars.dropFirst() }
        while scalars.last == " " { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
