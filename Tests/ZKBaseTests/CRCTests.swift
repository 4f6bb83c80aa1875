import Testing
import ZKBase

@Suite struct CRCTests {
    let check = Array("123456789".utf8)

    @Test func crc32cCheckValue() {
        #expect(CRC32C.checksum(check) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    @Test func crc32CheckValue() {
        #expect(CRC32.checksum(check) == 0xCBF4_3926)
    }

    @Test(arguments: [0, 1, 3, 7, 8, 9, 15, 16, 17, 100])
    func seededContinuationEqualsWhole(split: Int) {
        let bytes = (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let whole = CRC32C.checksum(bytes)
        let first = CRC32C.checksum(Array(bytes[..<split]))
        #expect(CRC32C.checksum(Array(bytes[split...]), seed: first) == whole)
        let wholeIEEE = CRC32.checksum(bytes)
        #expect(CRC32.checksum(Array(bytes[split...]), seed: CRC32.checksum(Array(bytes[..<split]))) == wholeIEEE)
    }
}
