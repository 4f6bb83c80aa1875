/// A configuration that cannot be used. `message` is one line and names the key and the bad value,
/// e.g. `invalid value for tickTime: "abc" (expected a positive integer)`.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Extensible kind (a struct, not an enum, so new kinds do not break callers' switches).
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A value that does not parse or is out of range, or contradicts another key.
        public static let invalidValue = Kind("invalidValue")
        /// A required key is absent (ZooKeeper requires `dataDir`).
        public static let missingValue = Kind("missingValue")
        /// The properties text itself is malformed (a bad `\uXXXX` escape).
        public static let malformedText = Kind("malformedText")
        /// The configuration file does not exist.
        public static let fileNotFound = Kind("fileNotFound")
        /// The configuration file exists but cannot be read, is too large, or is not text.
        public static let fileUnreadable = Kind("fileUnreadable")
    }

    public let kind: Kind
    /// The configuration key at fault; for file errors, the file path.
    public let key: String
    public let message: String
    /// 1-based line of the offending entry, when known.
    public let line: Int?

    public init(kind: Kind, key: String, message: String, line: Int? = nil) {
        self.kind = kind
        self.key = key
        self.message = message
        self.line = line
    }

    public var description: String {
        guard let line else { return message }
        return "line \(line): \(message)"
    }

    /// `invalid value for <key>: "<value>" (<expectation>)`.
    @inline(never)
    static func invalidValue(
        key: String, value: String, expected expectation: String, line: Int?
    ) -> ConfigurationError {
        ConfigurationError(
            kind: .invalidValue, key: key,
            message: "invalid value for \(key): \(quoted(value)) (\(expectation))", line: line)
    }

    /// Quotes and escapes a value so the message stays on one line; long values are shortened.
    static func quoted(_ value: String) -> String {
        let shownCharactersMax = 200
        guard value.count > shownCharactersMax else { return String(reflecting: value) }
        return String(reflecting: String(value.prefix(shownCharactersMax))) + "..."
    }
}
