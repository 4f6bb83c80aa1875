/// Typed readers for configuration values. Each throws the house one-line message on failure.
/// Integers follow `Integer.parseInt`: optional sign, ASCII digits, 32-bit range.
enum ValueParsing {
    static let portRange = 1...65535

    static func integer(_ entry: ConfigurationEntry) throws(ConfigurationError) -> Int {
        guard let number = javaInteger(entry.value) else {
            throw invalid(entry, expected: "expected an integer")
        }
        return number
    }

    static func integer(
        _ entry: ConfigurationEntry, in range: ClosedRange<Int>, expected expectation: String
    ) throws(ConfigurationError) -> Int {
        guard let number = javaInteger(entry.value), range.contains(number) else {
            throw invalid(entry, expected: expectation)
        }
        return number
    }

    static func positiveInteger(_ entry: ConfigurationEntry) throws(ConfigurationError) -> Int {
        try integer(entry, in: 1...Int(Int32.max), expected: "expected a positive integer")
    }

    static func nonNegativeInteger(_ entry: ConfigurationEntry) throws(ConfigurationError) -> Int {
        try integer(entry, in: 0...Int(Int32.max), expected: "expected a non-negative integer")
    }

    /// `Integer.decode` as used by `Integer.getInteger`: decimal, or hexadecimal with `0x`/`0X`/`#`.
    static func positiveDecodedInteger(_ entry: ConfigurationEntry) throws(ConfigurationError) -> Int {
        let value = entry.value
        let number: Int?
        if let hex = hexDigits(value) {
            number = Int(hex, radix: 16)
        } else {
            number = javaInteger(value)
        }
        guard let number, (1...Int(Int32.max)).contains(number) else {
            throw invalid(entry, expected: "expected a positive integer, decimal or 0x hexadecimal")
        }
        return number
    }

    /// `QuorumPeerConfig.parseBoolean`: `true` or `false`, any case.
    static func boolean(_ entry: ConfigurationEntry) throws(ConfigurationError) -> Bool {
        switch entry.value.lowercased() {
        case "true": return true
        case "false": return false
        default: throw invalid(entry, expected: "expected true or false")
        }
    }

    /// `forceSync` style switches: `yes` or `no`, any case.
    static func yesNo(_ entry: ConfigurationEntry) throws(ConfigurationError) -> Bool {
        switch entry.value.lowercased() {
        case "yes": return true
        case "no": return false
        default: throw invalid(entry, expected: "expected yes or no")
        }
    }

    static func nonEmpty(_ entry: ConfigurationEntry) throws(ConfigurationError) -> String {
        guard !entry.value.isEmpty else { throw invalid(entry, expected: "expected a non-empty value") }
        return entry.value
    }

    /// A port number, where 0 means "not set" (ZooKeeper's reading of `clientPort=0`).
    static func optionalPort(_ entry: ConfigurationEntry) throws(ConfigurationError) -> Int? {
        let port = try integer(entry, in: 0...portRange.upperBound, expected: "expected a port from 1 to 65535, or 0 for none")
        return port == 0 ? nil : port
    }

    static func port(_ entry: ConfigurationEntry) throws(ConfigurationError) -> Int {
        try integer(entry, in: portRange, expected: "expected a port from 1 to 65535")
    }

    static func javaInteger(_ text: some StringProtocol) -> Int? {
        var digits = Substring(text)
        var negative = false
        if let sign = digits.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let magnitude = Int64(digits) else { return nil }
        let number = negative ? -magnitude : magnitude
        guard number >= Int64(Int32.min), number <= Int64(Int32.max) else { return nil }
        return Int(number)
    }

    /// `Long.parseLong` range, for server ids.
    static func javaLong(_ text: some StringProtocol) -> Int64? {
        var digits = Substring(text)
        var negative = false
        if let sign = digits.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        return Int64(negative ? "-" + digits : String(digits))
    }

    private static func hexDigits(_ value: String) -> Substring? {
        for prefix in ["0x", "0X", "#"] where value.hasPrefix(prefix) {
            let digits = value.dropFirst(prefix.count)
            return digits.isEmpty ? nil : digits
        }
        return nil
    }

    @inline(never)
    static func invalid(_ entry: ConfigurationEntry, expected expectation: String) -> ConfigurationError {
        .invalidValue(key: entry.key, value: entry.value, expected: expectation, line: entry.line)
    }
}
