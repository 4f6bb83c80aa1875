import Testing
@testable import ZKTree

/// The node table's realloc-grown arena keeps an Array's value semantics: contents survive growth,
/// and a copy is independent of the original once either changes.
@Suite struct ArenaBytesTests {
    private static func pattern(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) &+ seed }
    }

    @Test func contentsSurviveManyGrowthsPastTheMmapThreshold() {
        var arena = ArenaBytes()
        var expected: [UInt8] = []
        var growths = 0
        var capacity = arena.capacity
        // 4 MiB in pieces of many sizes: a dozen doublings, the last ones past glibc's mmap
        // threshold (where realloc moves pages instead of copying them).
        var piece = 1
        while expected.count < 4 << 20 {
            let bytes = Self.pattern(piece, seed: UInt8(truncatingIfNeeded: expected.count))
            bytes.withUnsafeBytes { arena.append(contentsOf: $0) }
            expected += bytes
            arena.append(0xAB)
            expected.append(0xAB)
            if arena.capacity != capacity {
                growths += 1
                capacity = arena.capacity
            }
            piece = piece * 3 % 70_001 + 1
        }
        #expect(growths >= 10)
        #expect(arena.count == expected.count)
        #expect(arena.capacity >= arena.count)
        #expect(arena.copy(0..<arena.count) == expected)
        #expect(arena.copy(1000..<1010) == Array(expected[1000..<1010]))
        arena.withUnsafeBytes { #expect(Array($0) == expected) }
    }

    @Test func aCopyIsIndependentOfTheOriginal() {
        var original = ArenaBytes()
        original.append(contentsOf: [1, 2, 3, 4])
        var copy = original
        copy.append(5)
        copy.withUnsafeMutableBufferPointer { $0[0] = 9 }
        #expect(original.copy(0..<original.count) == [1, 2, 3, 4])
        #expect(copy.copy(0..<copy.count) == [9, 2, 3, 4, 5])

        var third = original
        original.withUnsafeMutableBufferPointer { $0[3] = 7 }
        original.reserveCapacity(1 << 20)
        #expect(third.copy(0..<third.count) == [1, 2, 3, 4])
        #expect(original.copy(0..<original.count) == [1, 2, 3, 7])
        third.append(contentsOf: [])
        #expect(third.count == 4)
    }

    @Test func anEmptyArenaHasNoBytes() {
        let arena = ArenaBytes()
        #expect(arena.count == 0)
        arena.withUnsafeBufferPointer { #expect($0.isEmpty) }
        #expect(arena.copy(0..<0) == [])
    }
}
