import ZKBase

/// One frame of the commit journal (FORMAT.md section 2a): a batch of log records written with
/// one durable write. Big-endian, like the log records it carries:
///
///     0  magic u32 "PDJF"      4  version u16 (1)     6  header bytes u16 (48)
///     8  sequence u64          16 first zxid i64      24 last zxid i64
///     32 record count u32      36 payload bytes u32   40 previous frame's CRC u32
///     44 frame CRC u32 (CRC32C of bytes 0..<44, then of the payload)
///     48 payload: per record zxid i64, length u32, the LogRecord bytes
///
/// then zero padding to a multiple of `JournalFrame.alignment`. Pure.
public struct JournalFrame: Sendable, Equatable {
    public static let magic: UInt32 = 0x5044_4A46  // "PDJF"
    public static let version: UInt16 = 1
    public static let headerBytes = 48
    /// Frames start and end on this boundary (the page and sector multiple a device writes whole).
    public static let alignment = 4096
    static let recordPrefixBytes = 12

    public var sequence: UInt64
    public var previousCRC: UInt32
    /// The frame's own CRC (what the next frame stores as `previousCRC`).
    public var crc: UInt32
    public var records: [RawLogRecord]
    /// Aligned bytes the frame occupies in the journal.
    public var frameBytes: Int

    /// The zxid range the frame holds (from its header: `records` may leave out older ones).
    public var firstZxid: Int64 { headerFirstZxid }
    public var lastZxid: Int64 { headerLastZxid }
    var headerFirstZxid: Int64
    var headerLastZxid: Int64

    /// Aligned size of a frame holding records of these encoded sizes.
    public static func frameBytes(payloadBytes: Int) -> Int {
        let raw = headerBytes + payloadBytes
        return (raw + alignment - 1) / alignment * alignment
    }

    public static func payloadBytes(_ entries: [(zxid: Int64, bytes: [UInt8])]) -> Int {
        entries.reduce(0) { $0 + recordPrefixBytes + $1.bytes.count }
    }

    /// The frame's bytes (aligned, zero padded) and its CRC.
    public static func encode(
        sequence: UInt64, previousCRC: UInt32, entries: [(zxid: Int64, bytes: [UInt8])]
    ) -> (bytes: [UInt8], crc: UInt32) {
        precondition(!entries.isEmpty, "a journal frame carries at least one record")
        let payload = payloadBytes(entries)
        precondition(payload <= Int(UInt32.max), "journal frame payload too large")
        var bytes = [UInt8]()
        bytes.reserveCapacity(frameBytes(payloadBytes: payload))
        append(magic, to: &bytes)
        append(version, to: &bytes)
        append(UInt16(headerBytes), to: &bytes)
        append(sequence, to: &bytes)
        append(UInt64(bitPattern: entries[0].zxid), to: &bytes)
        append(UInt64(bitPattern: entries[entries.count - 1].zxid), to: &bytes)
        append(UInt32(entries.count), to: &bytes)
        append(UInt32(payload), to: &bytes)
        append(previousCRC, to: &bytes)
        append(UInt32(0), to: &bytes)  // the frame CRC, filled in below
        for entry in entries {
            append(UInt64(bitPattern: entry.zxid), to: &bytes)
            append(UInt32(entry.bytes.count), to: &bytes)
            bytes.append(contentsOf: entry.bytes)
        }
        let crc = bytes.withUnsafeBytes { raw in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[headerBytes...]),
                            seed: CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<44])))
        }
        bytes[44] = UInt8(truncatingIfNeeded: crc >> 24)
        bytes[45] = UInt8(truncatingIfNeeded: crc >> 16)
        bytes[46] = UInt8(truncatingIfNeeded: crc >> 8)
        bytes[47] = UInt8(truncatingIfNeeded: crc)
        // An array, not repeatElement: unspecialized (debug builds), that appends byte by byte.
        bytes.append(contentsOf: [UInt8](repeating: 0, count: frameBytes(payloadBytes: payload) - bytes.count))
        return (bytes, crc)
    }

    /// What lies at one aligned offset of the journal.
    public enum Slot: Equatable, Sendable {
        /// A whole, valid frame.
        case frame(JournalFrame)
        /// Zeros where a header would be: space never written in this journal.
        case empty
        /// Anything else: a torn write, a damaged frame, or bytes that are not a frame.
        case invalid(String)
    }

    /// Reads the header at the start of `header` (at least `headerBytes`); nil payload size when
    /// the header itself is not a frame's. Used to know how many bytes the whole frame needs.
    static func payloadBytes(inHeader header: UnsafeRawBufferPointer) -> Int? {
        guard header.count >= headerBytes, load32(header, 0) == magic, load16(header, 4) == version,
              Int(load16(header, 6)) == headerBytes
        else { return nil }
        return Int(load32(header, 36))
    }

    static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.allSatisfy { $0 == 0 }
    }

    /// Decodes a whole frame (`bytes` starts at the frame and holds at least its header and
    /// payload). Checks the magic, version, CRC, and that the payload parses into exactly the
    /// records the header names, in ascending zxid order from first to last.
    ///
    /// `keepingRecordsAfter`: records at or below this zxid are checked but not copied out
    /// (recovery needs only what LMDB lacks; `records` then holds the rest, and the frame's
    /// first and last zxid stay those of the header).
    public static func decode(_ bytes: UnsafeRawBufferPointer, keepingRecordsAfter floor: Int64 = Int64.min) -> Slot {
        guard bytes.count >= headerBytes else { return .invalid("shorter than a frame header") }
        if isZero(UnsafeRawBufferPointer(rebasing: bytes[0..<headerBytes])) { return .empty }
        guard let payload = payloadBytes(inHeader: bytes) else { return .invalid("not a frame header (magic or version)") }
        guard bytes.count >= headerBytes + payload else { return .invalid("payload of \(payload) bytes runs past the journal") }
        let stored = load32(bytes, 44)
        let computed = CRC32C.checksum(
            UnsafeRawBufferPointer(rebasing: bytes[headerBytes..<(headerBytes + payload)]),
            seed: CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<44])))
        guard stored == computed else { return .invalid("frame CRC \(stored) does not match its bytes (\(computed))") }
        let sequence = load64(bytes, 8)
        let firstZxid = Int64(bitPattern: load64(bytes, 16))
        let lastZxid = Int64(bitPattern: load64(bytes, 24))
        let count = Int(load32(bytes, 32))
        guard count >= 1 else { return .invalid("frame holds no records") }
        var records: [RawLogRecord] = []
        var parsed = 0
        var first: Int64?
        var previous: Int64?
        var offset = headerBytes
        let end = headerBytes + payload
        while offset < end {
            guard end - offset >= recordPrefixBytes else { return .invalid("record prefix cut short") }
            let zxid = Int64(bitPattern: load64(bytes, offset))
            let length = Int(load32(bytes, offset + 8))
            offset += recordPrefixBytes
            guard length <= end - offset else { return .invalid("record of \(length) bytes runs past the payload") }
            if let previous, zxid <= previous { return .invalid("record zxids out of order") }
            if zxid > floor {
                records.append(RawLogRecord(zxid: zxid, bytes: Array(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)]))))
            }
            first = first ?? zxid
            previous = zxid
            parsed += 1
            offset += length
        }
        guard parsed == count, first == firstZxid, previous == lastZxid else {
            return .invalid("payload does not match the header's record count or zxid range")
        }
        return .frame(JournalFrame(
            sequence: sequence, previousCRC: load32(bytes, 40), crc: stored, records: records,
            frameBytes: frameBytes(payloadBytes: payload), headerFirstZxid: firstZxid, headerLastZxid: lastZxid))
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    private static func load16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    private static func load32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(bytes[offset + $1]) }
    }

    private static func load64(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(bytes[offset + $1]) }
    }
}
