import Testing
import ZKBase

/// Expected values printed by a Java 17 program using java.util.Random.
@Suite struct JavaRandomTests {
    @Test func nextIntMatchesJava() {
        var random = JavaRandom(seed: 42)
        #expect(random.next(bits: 32) == -1_170_105_035)
        var zero = JavaRandom(seed: 0)
        #expect(zero.next(bits: 32) == -1_155_484_576)
        #expect(zero.next(bits: 32) == -723_955_400)
    }

    @Test func nextBytesMatchesJava() {
        // new Random(12345L ^ 0xB3415C00L).nextBytes(new byte[16])
        let expected: [Int8] = [-101, -6, 109, 48, 66, 71, -102, 5, 49, 41, 63, 80, 16, -11, -124, 25]
        var random = JavaRandom(seed: 12345 ^ 0xB341_5C00)
        #expect(random.nextBytes(count: 16) == expected.map { UInt8(bitPattern: $0) })
    }

    @Test func nextBytesWithPartialLastIntMatchesJava() {
        // new Random(-7L).nextBytes(new byte[7])
        let expected: [Int8] = [-116, 42, -27, 68, -125, -117, -56]
        var random = JavaRandom(seed: -7)
        #expect(random.nextBytes(count: 7) == expected.map { UInt8(bitPattern: $0) })
    }

    @Test func sessionPasswordIsZooKeepersGeneratePasswd() {
        let expected: [Int8] = [-101, -6, 109, 48, 66, 71, -102, 5, 49, 41, 63, 80, 16, -11, -124, 25]
        #expect(JavaRandom.sessionPassword(sessionId: 12345) == expected.map { UInt8(bitPattern: $0) })
        #expect(JavaRandom.sessionPassword(sessionId: 12345).count == 16)
        #expect(JavaRandom.sessionPassword(sessionId: 12345) != JavaRandom.sessionPassword(sessionId: 12346))
    }
}
