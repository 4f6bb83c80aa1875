/// One `key=value` pair from a properties file, with the line its logical line starts on.
public struct ConfigurationEntry: Sendable, Equatable {
    public var key: String
    public var value: String
    /// 1-based line number of the first natural line of the entry; nil when built in code.
    public var line: Int?

    public init(key: String, value: String, line: Int? = nil) {
        self.key = key
        self.value = value
        self.line = line
    }
}
