import CCRC32C
import CZlib

/// CRC32C (Castagnoli), as used by Paddock's log records and snapshot trailers (FORMAT.md).
/// `update(seed, bytes)` continues a finished CRC: crc(seed: crc(a), b) == crc(a ‖ b).
public enum CRC32C {
    static let table: [[UInt32]] = makeSlicingTables(polynomial: 0x82F6_3B78)

    public static func checksum(_ bytes: some Collection<UInt8>, seed: UInt32 = 0) -> UInt32 {
        var crc = ~seed
        if let result = bytes.withContiguousStorageIfAvailable({ buffer in update(~seed, UnsafeRawBufferPointer(buffer)) }) {
            return ~result
        }
        for byte in bytes { crc = table[0][Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8) }
        return ~crc
    }

    public static func checksum(_ buffer: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        ~update(~seed, buffer)
    }

    /// Whether `update` uses the SSE4.2 crc32 instruction (checked once per process).
    public static let hardwareAvailable: Bool = ccrc32c_hardware_available() != 0

    static func update(_ start: UInt32, _ buffer: UnsafeRawBufferPointer) -> UInt32 {
        guard hardwareAvailable, let base = buffer.baseAddress else { return softwareUpdate(start, buffer) }
        return ccrc32c_update_hw(start, base, buffer.count)
    }

    /// The portable table code (used when the CPU lacks SSE4.2; kept for tests against hardware).
    static func softwareUpdate(_ start: UInt32, _ buffer: UnsafeRawBufferPointer) -> UInt32 {
        sliceBy8(start, buffer, table)
    }

    /// `checksum` computed with the table code regardless of the CPU (for tests).
    public static func softwareChecksum(_ buffer: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        ~softwareUpdate(~seed, buffer)
    }
}

/// CRC32 (IEEE 802.3, java.util.zip.CRC32), used by ZooKeeper's tree digest.
public enum CRC32 {
    static let table: [[UInt32]] = makeSlicingTables(polynomial: 0xEDB8_8320)

    /// True when the CPU folds with PCLMULQDQ (checked once).
    public static let usesCarrylessMultiply = ccrc32_pclmul_available() == 1

    /// From 64 bytes up: PCLMULQDQ folding over the whole 16-byte blocks (about 10x zlib 1.2.13's
    /// braided code; a set of a 1 KiB value computes four node digests, which were 16 % of the
    /// server's CPU with zlib), the rest with the table code. Without PCLMULQDQ: zlib from 512
    /// bytes (it wins only there: measured 212 vs 275 ns at 527 B, but 146 vs 39 ns at 60 B).
    /// Same values on every path.
    public static func checksum(_ buffer: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        if buffer.count >= 64 && usesCarrylessMultiply, let base = buffer.baseAddress {
            let folded = buffer.count & ~15
            let register = ccrc32_update_pclmul(~seed, base, folded)
            return ~sliceBy8(register, UnsafeRawBufferPointer(rebasing: buffer[folded...]), table)
        }
        guard buffer.count >= 512 else { return ~sliceBy8(~seed, buffer, table) }
        guard var base = buffer.baseAddress?.assumingMemoryBound(to: Bytef.self) else { return seed }
        var crc = UInt(seed)
        var remaining = buffer.count
        while remaining > 0 {
            let chunk = min(remaining, Int(UInt32.max))
            crc = crc32(crc, base, uInt(chunk))
            base += chunk
            remaining -= chunk
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    /// What zlib's crc32 says (for tests of the other paths).
    public static func zlibChecksum(_ buffer: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        guard let base = buffer.baseAddress?.assumingMemoryBound(to: Bytef.self) else { return seed }
        return UInt32(truncatingIfNeeded: crc32(UInt(seed), base, uInt(buffer.count)))
    }

    /// `checksum` computed with the table code (for tests against zlib).
    public static func softwareChecksum(_ buffer: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        ~sliceBy8(~seed, buffer, table)
    }

    public static func checksum(_ bytes: [UInt8], seed: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, seed: seed) }
    }
}

func makeSlicingTables(polynomial: UInt32) -> [[UInt32]] {
    var tables = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
    for index in 0..<256 {
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ polynomial : crc >> 1 }
        tables[0][index] = crc
    }
    for index in 0..<256 {
        for slice in 1..<8 {
            let previous = tables[slice - 1][index]
            tables[slice][index] = tables[0][Int(previous & 0xff)] ^ (previous >> 8)
        }
    }
    return tables
}

/// Slicing-by-8 over a raw buffer: eight table lookups per 8 bytes.
@inline(__always)
func sliceBy8(_ start: UInt32, _ buffer: UnsafeRawBufferPointer, _ tables: [[UInt32]]) -> UInt32 {
    var crc = start
    var index = 0
    let count = buffer.count
    tables[0].withUnsafeBufferPointer { t0 in
    tables[1].withUnsafeBufferPointer { t1 in
    tables[2].withUnsafeBufferPointer { t2 in
    tables[3].withUnsafeBufferPointer { t3 in
    tables[4].withUnsafeBufferPointer { t4 in
    tables[5].withUnsafeBufferPointer { t5 in
    tables[6].withUnsafeBufferPointer { t6 in
    tables[7].withUnsafeBufferPointer { t7 in
        while index + 8 <= count {
            let low = crc ^ (UInt32(buffer[index]) | UInt32(buffer[index + 1]) << 8
                | UInt32(buffer[index + 2]) << 16 | UInt32(buffer[index + 3]) << 24)
            let high = UInt32(buffer[index + 4]) | UInt32(buffer[index + 5]) << 8
                | UInt32(buffer[index + 6]) << 16 | UInt32(buffer[index + 7]) << 24
            crc = t7[Int(low & 0xff)] ^ t6[Int((low >> 8) & 0xff)] ^ t5[Int((low >> 16) & 0xff)] ^ t4[Int(low >> 24)]
                ^ t3[Int(high & 0xff)] ^ t2[Int((high >> 8) & 0xff)] ^ t1[Int((high >> 16) & 0xff)] ^ t0[Int(high >> 24)]
            index += 8
        }
        while index < count {
            crc = t0[Int((crc ^ UInt32(buffer[index])) & 0xff)] ^ (crc >> 8)
            index += 1
        }
    }}}}}}}}
    return crc
}
