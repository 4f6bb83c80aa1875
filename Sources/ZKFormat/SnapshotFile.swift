import ZKBase

// Snapshot file, version 1 (FORMAT.md section 3).
//
// | part    | offset   | size | field                                                           |
// |---------|----------|------|-----------------------------------------------------------------|
// | header  | 0        | 8    | magic 0x89 P D K S 0x0D 0x0A 0x1A                               |
// |         | 8        | 4    | format version, 1                                               |
// |         | 12       | 4    | compression: 0 none, 1 zlib stream (RFC 1950)                   |
// |         | 16       | 4    | compression level used (informational)                          |
// |         | 20       | 4    | reserved, 0                                                     |
// |         | 24       | 8    | S, the start zxid (also in the file name)                       |
// |         | 32       | 8    | wall-clock ms when the snapshot began (informational)           |
// | body    | 40       | var  | the stream, compressed as the header says                       |
// | trailer | end - 56 | 8    | magic `PDKSEND` 0x00                                            |
// |         | end - 48 | 8    | node count                                                      |
// |         | end - 40 | 8    | session count                                                   |
// |         | end - 32 | 8    | uncompressed stream length in bytes                             |
// |         | end - 24 | 8    | E, the last applied zxid when the walk finished                 |
// |         | end - 16 | 8    | digest of the nodes written                                     |
// |         | end - 8  | 4    | CRC32C of the uncompressed stream                               |
// |         | end - 4  | 4    | CRC32C of every byte of the file before this field              |
//
// Uncompressed stream: int32 session count, then (int64 id, int32 timeout ms) per session; node
// records in pre-order (ustring path, buffer data or -1, vector<ACL>, 60-byte StatPersisted);
// a null path (-1) ends it. Strings are UTF-8. The trailer sits at a fixed distance from the end,
// so a reader takes it first: its stream length bounds every length in the stream before anything
// is allocated. The file CRC covers what the stream CRC cannot: the header, the trailer and the
// compressed bytes themselves (deflate has bits that inflate ignores, such as block padding).

/// The 40-byte header.
public struct SnapshotHeader: Sendable, Equatable {
    public var formatVersion: UInt32
    /// 0 none, 1 zlib.
    public var compression: UInt32
    public var level: UInt32
    public var startZxid: Int64
    public var startTimeMs: Int64

    public init(formatVersion: UInt32, compression: UInt32, level: UInt32, startZxid: Int64, startTimeMs: Int64) {
        self.formatVersion = formatVersion
        self.compression = compression
        self.level = level
        self.startZxid = startZxid
        self.startTimeMs = startTimeMs
    }
}

/// The 56-byte trailer (without the file CRC, which the reader checks and the writer computes).
public struct SnapshotTrailer: Sendable, Equatable {
    public var nodeCount: UInt64
    public var sessionCount: UInt64
    /// Uncompressed stream length in bytes.
    public var streamBytes: UInt64
    public var endZxid: Int64
    public var digest: UInt64
    /// CRC32C of the uncompressed stream.
    public var crc: UInt32

    public init(nodeCount: UInt64, sessionCount: UInt64, streamBytes: UInt64, endZxid: Int64, digest: UInt64, crc: UInt32) {
        self.nodeCount = nodeCount
        self.sessionCount = sessionCount
        self.streamBytes = streamBytes
        self.endZxid = endZxid
        self.digest = digest
        self.crc = crc
    }
}

/// Byte layout of the header and trailer; pure, shared by the writer and the reader.
enum SnapshotLayout {
    static let headerMagic: [UInt8] = [0x89, 0x50, 0x44, 0x4B, 0x53, 0x0D, 0x0A, 0x1A]
    static let trailerMagic: [UInt8] = [0x50, 0x44, 0x4B, 0x53, 0x45, 0x4E, 0x44, 0x00]  // "PDKSEND\0"
    static let formatVersion: UInt32 = 1
    static let compressionNone: UInt32 = 0
    static let compressionZlib: UInt32 = 1
    static let headerBytes = 40
    static let trailerBytes = 56
    /// Trailer bytes before the file CRC.
    static let trailerPrefixBytes = 52
    /// Session record: int64 id, int32 timeout.
    static let sessionRecordBytes = 12
    static let statBytes = 60
    /// Smallest node record: path length, data length, ACL count, stat.
    static let nodeRecordBytesMin = 4 + 4 + 4 + 60
    /// Smallest ACL: perms, two string lengths.
    static let aclBytesMin = 12

    static func encodeHeader(_ header: SnapshotHeader) -> [UInt8] {
        var bytes = headerMagic
        BigEndianBytes.append(header.formatVersion, to: &bytes)
        BigEndianBytes.append(header.compression, to: &bytes)
        BigEndianBytes.append(header.level, to: &bytes)
        BigEndianBytes.append(UInt32(0), to: &bytes)
        BigEndianBytes.append(header.startZxid, to: &bytes)
        BigEndianBytes.append(header.startTimeMs, to: &bytes)
        precondition(bytes.count == headerBytes)
        return bytes
    }

    /// Every field but the magic (the caller checks it), plus the reserved word (must be 0).
    static func decodeHeader(_ bytes: UnsafeRawBufferPointer) -> (header: SnapshotHeader, reserved: UInt32) {
        precondition(bytes.count == headerBytes)
        let header = SnapshotHeader(
            formatVersion: BigEndianBytes.read(UInt32.self, from: bytes, at: 8),
            compression: BigEndianBytes.read(UInt32.self, from: bytes, at: 12),
            level: BigEndianBytes.read(UInt32.self, from: bytes, at: 16),
            startZxid: BigEndianBytes.read(Int64.self, from: bytes, at: 24),
            startTimeMs: BigEndianBytes.read(Int64.self, from: bytes, at: 32))
        return (header, BigEndianBytes.read(UInt32.self, from: bytes, at: 20))
    }

    /// The trailer up to the file CRC, which the writer appends once these bytes are counted.
    static func encodeTrailerPrefix(_ trailer: SnapshotTrailer) -> [UInt8] {
        var bytes = trailerMagic
        BigEndianBytes.append(trailer.nodeCount, to: &bytes)
        BigEndianBytes.append(trailer.sessionCount, to: &bytes)
        BigEndianBytes.append(trailer.streamBytes, to: &bytes)
        BigEndianBytes.append(trailer.endZxid, to: &bytes)
        BigEndianBytes.append(trailer.digest, to: &bytes)
        BigEndianBytes.append(trailer.crc, to: &bytes)
        precondition(bytes.count == trailerPrefixBytes)
        return bytes
    }

    static func decodeTrailer(_ bytes: UnsafeRawBufferPointer) -> (trailer: SnapshotTrailer, fileCRC: UInt32) {
        precondition(bytes.count == trailerBytes)
        let trailer = SnapshotTrailer(
            nodeCount: BigEndianBytes.read(UInt64.self, from: bytes, at: 8),
            sessionCount: BigEndianBytes.read(UInt64.self, from: bytes, at: 16),
            streamBytes: BigEndianBytes.read(UInt64.self, from: bytes, at: 24),
            endZxid: BigEndianBytes.read(Int64.self, from: bytes, at: 32),
            digest: BigEndianBytes.read(UInt64.self, from: bytes, at: 40),
            crc: BigEndianBytes.read(UInt32.self, from: bytes, at: 48))
        return (trailer, BigEndianBytes.read(UInt32.self, from: bytes, at: 52))
    }

    /// Deflate never expands more than 1032:1, so a longer declared stream is a corrupt trailer.
    /// Checked before reading, so a corrupt length can never ask for more than this much memory.
    static func streamBytesMax(bodyBytes: Int, compression: UInt32) -> UInt64 {
        compression == compressionNone ? UInt64(bodyBytes) : UInt64(bodyBytes) * 1032 + 1024
    }
}
