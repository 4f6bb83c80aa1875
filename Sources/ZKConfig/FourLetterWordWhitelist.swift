/// Which four-letter words the server answers (`4lw.commands.whitelist`).
///
/// Mirrors ZooKeeper 3.8 `FourLetterCommands`: the value is split on commas and each word trimmed;
/// a `*` anywhere enables every known word; `srvr` is always enabled because zkServer.sh relies on it.
/// Without the key only `srvr` is enabled.
public enum FourLetterWordWhitelist: Sendable, Equatable {
    case all
    case only(Set<String>)

    /// The words ZooKeeper 3.8 knows (`FourLetterCommands.cmd2String`).
    public static let knownWords: Set<String> = [
        "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr",
        "ruok", "srst", "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
    ]

    public static let defaultValue = FourLetterWordWhitelist.only(["srvr"])

    /// Parses a whitelist value; never fails (unknown words are kept and simply never match).
    public init(parsing value: String) {
        var words: Set<String> = ["srvr"]
        for part in value.split(separator: ",", omittingEmptySubsequences: false) {
            let word = trimmedJava(part)
            if word == "*" {
                self = .all
                return
            }
            if !word.isEmpty { words.insert(word) }
        }
        self = .only(words)
    }

    public func allows(_ word: String) -> Bool {
        switch self {
        case .all: return FourLetterWordWhitelist.knownWords.contains(word)
        case .only(let words): return words.contains(word)
        }
    }
}

/// `String.trim()` in Java: strips every character at or below U+0020 from both ends.
func trimmedJava(_ text: some StringProtocol) -> String {
    let scalars = Array(text.unicodeScalars)
    guard let first = scalars.firstIndex(where: { $0.value > 0x20 }),
          let last = scalars.lastIndex(where: { $0.value > 0x20 }) else { return "" }
    var result = ""
    result.unicodeScalars.append(contentsOf: scalars[first...last])
    return result
}
