import Testing
@testable import ZKConfig

@Suite struct PropertiesFormatTests {
    private func pairs(_ text: String) throws -> [String] {
        try PropertiesFormat.entries(in: text).map { "\($0.key)=\($0.value)" }
    }

    @Test func separatorsEqualsColonAndWhitespace() throws {
        #expect(try pairs("a=1\nb:2\nc 3\nd\t=\t 4\ne = 5") == ["a=1", "b=2", "c=3", "d=4", "e=5"])
    }

    @Test func commentsAndBlankLinesAreSkipped() throws {
        #expect(try pairs("# hash\n  ! bang\n\n   \nkey=value\n") == ["key=value"])
    }

    @Test func commentEndingInBackslashDoesNotContinue() throws {
        #expect(try pairs("#comment \\\nnext=yes") == ["next=yes"])
    }

    @Test func continuationJoinsLinesAndDropsLeadingWhitespace() throws {
        #expect(try pairs("list = a,\\\n    b,\\\n  c\nafter=1") == ["list=a,b,c", "after=1"])
    }

    @Test func evenBackslashesDoNotContinue() throws {
        #expect(try pairs("path=a\\\\\nnext=1") == ["path=a\\", "next=1"])
    }

    @Test func continuationIntoBlankLineEndsTheEntry() throws {
        #expect(try pairs("trail = a\\\n\nnext=1") == ["trail=a", "next=1"])
    }

    @Test func continuationAtEndOfFile() throws {
        #expect(try pairs("trail = a\\") == ["trail=a"])
    }

    @Test func lineEndingsCRLFAndCR() throws {
        #expect(try pairs("a=1\r\nb=2\rc=3") == ["a=1", "b=2", "c=3"])
    }

    @Test func escapes() throws {
        #expect(try pairs("esc\\ key = x\\ty") == ["esc key=x\ty"])
        #expect(try pairs("colon\\:key=1") == ["colon:key=1"])
        #expect(try pairs("uni=\\u0041B") == ["uni=AB"])
        #expect(try pairs("odd=\\q") == ["odd=q"])
        #expect(try pairs("pair=\\uD83D\\uDE00") == ["pair=😀"])
    }

    @Test func keyWithoutValueAndEmptyValue() throws {
        #expect(try pairs("novalue\nempty=") == ["novalue=", "empty="])
    }

    @Test func secondSeparatorBelongsToValue() throws {
        #expect(try pairs("dup :: two\nx==y") == ["dup=: two", "x==y"])
    }

    @Test func trailingWhitespaceIsKeptByTheFormat() throws {
        // Properties keeps it; ServerConfiguration trims it, as ZooKeeper does.
        #expect(try pairs("key1 = value1  ") == ["key1=value1  "])
    }

    @Test func duplicatesAreAllReturnedInOrder() throws {
        #expect(try pairs("k=1\nk=2") == ["k=1", "k=2"])
    }

    @Test func lineNumbersPointAtTheFirstNaturalLine() throws {
        let entries = try PropertiesFormat.entries(in: "# c\n\na=1\\\n 2\nb=3\r\nc=4")
        #expect(entries.map(\.line) == [3, 5, 6])
    }

    @Test func malformedUnicodeEscapeIsAnError() {
        #expect(throws: ConfigurationError(
            kind: .malformedText, key: "bad",
            message: "malformed \\uXXXX escape in the value of bad: \"\\\\u12G4\"", line: 2)
        ) {
            try PropertiesFormat.entries(in: "ok=1\nbad=\\u12G4")
        }
    }

    /// This text was run through `java.util.Properties.load` (OpenJDK 17); the expected
    /// pairs are Java's output, sorted by key.
    @Test func matchesJavaPropertiesOnAMixedFixture() throws {
        let text = "  # comment\n! bang comment\nkey1 = value1  \nkey2:value2\nkey3 value3\nkey4\t=\t  v4\n"
            + "multi = a,\\\n    b,\\\n  c\nempty=\nnovalue\nesc\\ key = x\\ty\ncolon\\:key=1\n#comment \\\n"
            + "notcontinued=yes\nkey1=override\ntrail = a\\\n\n  dup :: two\nuni=\\u0041B\n   \nback=a\\\\\nodd=\\q\n"
        var lastValueOfKey: [String: String] = [:]
        for entry in try PropertiesFormat.entries(in: text) { lastValueOfKey[entry.key] = entry.value }
        let java = [
            "back": "a\\", "colon:key": "1", "dup": ": two", "empty": "", "esc key": "x\ty", "key1": "override",
            "key2": "value2", "key3": "value3", "key4": "v4", "multi": "a,b,c", "notcontinued": "yes",
            "novalue": "", "odd": "q", "trail": "a", "uni": "AB",
        ]
        #expect(lastValueOfKey == java)
    }
}
