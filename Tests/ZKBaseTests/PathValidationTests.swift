import Testing
import ZKBase

/// Expectations checked against ZooKeeper 3.8.0's own `PathUtils.validatePath` (run on the JVM).
@Suite struct PathValidationTests {
    static let validPaths = [
        "/", "/a", "/a/b", "/a.b", "/..a", "/a..", "/...", "/a.", "/\u{a0}", "/\u{f900}", "/é", "/ a",
        "/zookeeper/quota",
    ]

    static let invalidPaths = [
        "", "a", "a/b", "/a/", "//", "/a//b", "/a/./b", "/a/../b", "/.", "/..", "/a/.", "/a/..", "/a\u{0}b",
        "/\u{1}", "/\u{1f}", "/\u{7f}", "/\u{9f}", "/\u{1F600}", "/\u{f8ff}", "/\u{e000}", "/\u{fff0}",
        "/\u{fffd}", "/a/\u{10000}",
    ]

    @Test(arguments: validPaths)
    func acceptsWhatZooKeeperAccepts(_ path: String) {
        #expect(PathValidation.isValid(path), "\(path.debugDescription) should be valid")
        #expect(PathValidation.reasonInvalid(path) == nil)
    }

    @Test(arguments: invalidPaths)
    func rejectsWhatZooKeeperRejects(_ path: String) {
        #expect(!PathValidation.isValid(path), "\(path.debugDescription) should be invalid")
        #expect(PathValidation.reasonInvalid(path) != nil)
    }

    @Test func reasonsNameTheProblem() {
        #expect(PathValidation.reasonInvalid("") == "Path length must be > 0")
        #expect(PathValidation.reasonInvalid("a") == "Path must start with / character")
        #expect(PathValidation.reasonInvalid("/a/") == "Path must not end with / character")
        #expect(PathValidation.reasonInvalid("/a\u{0}b") == "null character not allowed @2")
        #expect(PathValidation.reasonInvalid("/a//b") == "empty node name specified @3")
        #expect(PathValidation.reasonInvalid("/a/../b") == "relative paths not allowed @4")
        #expect(PathValidation.reasonInvalid("/\u{1}") == "invalid character @1")
    }

    @Test func sequentialCreateMayEndWithSlash() {
        #expect(PathValidation.isValid("/a/", isSequential: true))
        #expect(PathValidation.isValid("/", isSequential: true))
        #expect(PathValidation.isValid("/a/lock-", isSequential: true))
        #expect(!PathValidation.isValid("/a//", isSequential: true))
        #expect(!PathValidation.isValid("", isSequential: true))
        #expect(!PathValidation.isValid("/a/", isSequential: false))
    }

    @Test func parentOfPath() {
        #expect(PathValidation.parent(of: "/a") == "/")
        #expect(PathValidation.parent(of: "/a/b") == "/a")
        #expect(PathValidation.parent(of: "/a/b/c") == "/a/b")
        #expect(PathValidation.parent(of: "/") == "/")
    }

    @Test func lastComponentOfPath() {
        #expect(PathValidation.lastComponent(of: "/a") == "a")
        #expect(PathValidation.lastComponent(of: "/a/bc") == "bc")
        #expect(PathValidation.lastComponent(of: "/a/é") == "é")
        #expect(PathValidation.lastComponent(of: "/") == "")
    }

    @Test func joinIsTheInverseOfParentAndLastComponent() {
        #expect(PathValidation.join("/", "a") == "/a")
        #expect(PathValidation.join("/a", "b") == "/a/b")
        for path in ["/a", "/a/b", "/x/y/z"] {
            let rebuilt = PathValidation.join(PathValidation.parent(of: path), PathValidation.lastComponent(of: path))
            #expect(rebuilt == path)
        }
    }
}
