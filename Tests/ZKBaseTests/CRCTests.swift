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

    /// The SSE4.2 / PCLMULQDQ paths (when the CPU has them) and zlib's crc32 agree with the table
    /// code on every length 0...300 (and around the 512-byte zlib threshold, and at a few large
    /// lengths with partial 16-byte blocks), at every alignment 0..<8, with and without a seed.
    @Test func acceleratedEqualsSoftware() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let bytes = (0..<5000).map { _ -> UInt8 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        bytes.withUnsafeBytes { all in
            for start in 0..<8 {
                for length in [Int](0...300) + [511, 512, 513, 700, 1024, 1031, 4096, 4103, 4991] {
                    let slice = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    for seed: UInt32 in [0, 0xDEAD_BEEF] {
                        let crc32c = CRC32C.checksum(slice, seed: seed)
                        let crc32 = CRC32.checksum(slice, seed: seed)
                        #expect(crc32c == CRC32C.softwareChecksum(slice, seed: seed), "CRC32C start \(start) length \(length)")
                        #expect(crc32 == CRC32.softwareChecksum(slice, seed: seed), "CRC32 start \(start) length \(length)")
                        #expect(crc32 == CRC32.zlibChecksum(slice, seed: seed), "CRC32 vs zlib start \(start) length \(length)")
                    }
                }
            }
        }
    }
}
