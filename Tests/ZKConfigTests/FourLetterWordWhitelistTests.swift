import Testing
@testable import ZKConfig

@Suite struct FourLetterWordWhitelistTests {
    @Test func defaultIsOnlySrvr() {
        let whitelist = FourLetterWordWhitelist.defaultValue
        #expect(whitelist.allows("srvr"))
        #expect(!whitelist.allows("ruok"))
        #expect(!whitelist.allows("conf"))
    }

    @Test func commaListWithSpacesTrimmed() {
        #expect(FourLetterWordWhitelist(parsing: " stat ,ruok,, conf ") == .only(["srvr", "stat", "ruok", "conf"]))
    }

    @Test func srvrIsAlwaysEnabled() {
        #expect(FourLetterWordWhitelist(parsing: "stat").allows("srvr"))
        #expect(FourLetterWordWhitelist(parsing: "").allows("srvr"))
    }

    @Test func starEnablesEveryKnownWordAndOnlyKnownWords() {
        let whitelist = FourLetterWordWhitelist(parsing: "*")
        #expect(whitelist == .all)
        for word in FourLetterWordWhitelist.knownWords { #expect(whitelist.allows(word)) }
        #expect(!whitelist.allows("nope"))
    }

    @Test func starAnywhereInTheListEnablesAll() {
        #expect(FourLetterWordWhitelist(parsing: "stat, * ,ruok") == .all)
    }

    @Test func wordsAreCaseSensitiveAsInZooKeeper() {
        #expect(!FourLetterWordWhitelist(parsing: "STAT").allows("stat"))
    }

    @Test func knownWordsOfZooKeeper38() {
        #expect(FourLetterWordWhitelist.knownWords.count == 18)
    }
}
