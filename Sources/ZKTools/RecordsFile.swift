import Glibc
import ZKBase
import ZKFormat
import ZKStorage

// Records file, version 1: log records removed from a data directory by `paddock data truncate`,
// `repair` or `purge`, kept in its backup directory. `paddock data dump FILE` reads it. The
// values are the LMDB values exactly as they were stored (damaged ones too), so the CRC chain
// can be checked again from the chain position saved in the header. Big-endian.
//
// | part    | offset   | size | field                                                          |
// |---------|----------|------|----------------------------------------------------------------|
// | header  | 0        | 8    | magic 0x89 `P` `D` `K` `R` 0x0D 0x0A 0x1A                      |
// |         | 8        | 4    | version, 1                                                     |
// |         | 12       | 4    | reserved, 0                                                    |
// |         | 16       | 8    | zxid of the record before the first one (or the purge anchor)  |
// |         | 24       | 4    | that record's stored CRC: the seed of the first record's CRC   |
// |         | 28       | 4    | reserved, 0                                                    |
// | entries | 32       | var  | per record: zxid (8), value length L (4), the value (L)        |
// | trailer | end - 24 | 8    | magic `PDKREND` 0x00                                           |
// |         | end - 16 | 8    | record count                                                   |
// |         | end - 8  | 4    | reserved, 0                                                    |
// |         | end - 4  | 4    | CRC32C of every byte of the file before this field             |
//
// Written to `<name>.tmp`, fsynced, renamed, and the directory fsynced, before the log changes.

/// Writes a records file; `finish()` makes it durable under its final name.
public final class RecordsFileWriter {
    static let headerMagic: [UInt8] = [0x89, 0x50, 0x44, 0x4B, 0x52, 0x0D, 0x0A, 0x1A]
    static let trailerMagic: [UInt8] = [0x50, 0x44, 0x4B, 0x52, 0x45, 0x4E, 0x44, 0x00]
    static let version: UInt32 = 1
    static let headerBytes = 32
    static let trailerBytes = 24
    static let bufferBytes = 256 * 1024

    public let path: String
    private let temporaryPath: String
    private var descriptor: Int32
    private var buffer: [UInt8] = []
    private var crc: UInt32 = 0
    public private(set) var recordCount: UInt64 = 0
    public private(set) var byteCount = 0
    /// Negative control for the repair power-loss test only: renames the file into place without
    /// its fsync (so a power cut after the log changed may leave a torn backup). Never set it.
    @TaskLocal public static var unsafeSkipsSyncBeforeRename = false

    public init(path: String, previous: LogChainLink) throws(ToolError) {
        self.path = path
        temporaryPath = path + ".tmp"
        descriptor = try ToolFiles.createFile(temporaryPath)
        var header = Self.headerMagic
        BigEndianBytes.append(Self.version, to: &header)
        BigEndianBytes.append(UInt32(0), to: &header)
        BigEndianBytes.append(previous.zxid, to: &header)
        BigEndianBytes.append(previous.crc, to: &header)
        BigEndianBytes.append(UInt32(0), to: &header)
        buffer = header
    }

    deinit {
        if descriptor >= 0 {
            ToolFiles.close(descriptor)
            ToolFiles.remove(temporaryPath)
        }
    }

    public func append(_ record: RawLogRecord) throws(ToolError) {
        precondition(descriptor >= 0, "append after finish")
        precondition(record.bytes.count <= Int(UInt32.max), "record too large")
        BigEndianBytes.append(record.zxid, to: &buffer)
        BigEndianBytes.append(UInt32(record.bytes.count), to: &buffer)
        buffer.append(contentsOf: record.bytes)
        recordCount += 1
        if buffer.count >= Self.bufferBytes { try flush() }
    }

    /// Trailer, fsync, rename to `path`, fsync the directory.
    public func finish() throws(ToolError) {
        buffer.append(contentsOf: Self.trailerMagic)
        BigEndianBytes.append(recordCount, to: &buffer)
        BigEndianBytes.append(UInt32(0), to: &buffer)
        try flush()
        var fileCRC: [UInt8] = []
        BigEndianBytes.append(crc, to: &fileCRC)
        buffer = fileCRC
        try flush()
        if !Self.unsafeSkipsSyncBeforeRename { try ToolFiles.sync(descriptor, path: temporaryPath) }
        ToolFiles.close(descriptor)
        descriptor = -1
        do { try PosixFile.move(temporaryPath, path) } catch { throw ToolFiles.error(error) }
        try ToolFiles.syncDirectory(ToolFiles.parent(path))
    }

    private func flush() throws(ToolError) {
        crc = CRC32C.checksum(buffer, seed: crc)
        try ToolFiles.writeAll(descriptor, buffer, path: temporaryPath)
        byteCount += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Reads a records file, streaming: `next()` returns each entry in order. Damage is reported,
/// not thrown, so `dump` can show what is there: an entry that runs past the trailer ends the
/// walk with `problem` set; a trailer that disagrees sets `problem` once the walk is done.
public final class RecordsFileReader {
    public let path: String
    /// The chain position before the first record.
    public let previous: LogChainLink
    /// Set when the file is damaged (checked fully once `next()` returned nil).
    public private(set) var problem: String?
    private let file: BufferedFile
    private let entriesEnd: Int
    private let declaredCount: UInt64
    private let declaredCRC: UInt32
    private var crc: UInt32
    private var count: UInt64 = 0
    private var finished = false
    private var offset = RecordsFileWriter.headerBytes

    /// True when the file starts with the records-file magic.
    public static func hasMagic(path: String) -> Bool {
        guard let file = try? BufferedFile(path: path), let head = try? file.read(at: 0, count: 8) else { return false }
        return head == RecordsFileWriter.headerMagic
    }

    public init(path: String) throws(ToolError) {
        self.path = path
        file = try BufferedFile(path: path)
        let minimum = RecordsFileWriter.headerBytes + RecordsFileWriter.trailerBytes
        guard file.size >= minimum else { throw .usage("\(path): too short to be a records file (\(file.size) bytes)") }
        let header = try file.read(at: 0, count: RecordsFileWriter.headerBytes)
        guard header.starts(with: RecordsFileWriter.headerMagic) else {
            throw .usage("\(path): not a Paddock records file (bad magic)")
        }
        let version = header.withUnsafeBytes { BigEndianBytes.read(UInt32.self, from: $0, at: 8) }
        guard version == RecordsFileWriter.version else { throw .usage("\(path): records file version \(version) is unknown") }
        previous = header.withUnsafeBytes {
            LogChainLink(zxid: BigEndianBytes.read(Int64.self, from: $0, at: 16), crc: BigEndianBytes.read(UInt32.self, from: $0, at: 24))
        }
        let trailer = try file.read(at: file.size - RecordsFileWriter.trailerBytes, count: RecordsFileWriter.trailerBytes)
        entriesEnd = file.size - RecordsFileWriter.trailerBytes
        declaredCount = trailer.withUnsafeBytes { BigEndianBytes.read(UInt64.self, from: $0, at: 8) }
        declaredCRC = trailer.withUnsafeBytes { BigEndianBytes.read(UInt32.self, from: $0, at: 20) }
        crc = CRC32C.checksum(header)
        if !trailer.starts(with: RecordsFileWriter.trailerMagic) { problem = "no trailer (the file is cut short)" }
    }

    /// The next stored record, or nil at the end (or at damage: see `problem`).
    public func next() throws(ToolError) -> RawLogRecord? {
        guard !finished else { return nil }
        let end = problem == nil ? entriesEnd : file.size
        guard offset + 12 <= end else { return finish(trailing: end - offset) }
        let head = try file.read(at: offset, count: 12)
        let zxid = head.withUnsafeBytes { BigEndianBytes.read(Int64.self, from: $0, at: 0) }
        let length = Int(head.withUnsafeBytes { BigEndianBytes.read(UInt32.self, from: $0, at: 8) })
        guard offset + 12 + length <= end else {
            problem = "entry at offset \(offset) (zxid \(ZxidMath.hex(zxid))) runs past the end of the entries"
            finished = true
            return nil
        }
        let bytes = try file.read(at: offset + 12, count: length)
        crc = CRC32C.checksum(head, seed: crc)
        crc = CRC32C.checksum(bytes, seed: crc)
        offset += 12 + length
        count += 1
        return RawLogRecord(zxid: zxid, bytes: bytes)
    }

    private func finish(trailing: Int) -> RawLogRecord? {
        finished = true
        guard problem == nil else { return nil }
        if trailing != 0 {
            problem = "\(trailing) bytes at offset \(offset) do not form an entry"
            return nil
        }
        if count != declaredCount {
            problem = "\(count) records read, the trailer says \(declaredCount)"
            return nil
        }
        let prefix = (try? file.read(at: entriesEnd, count: RecordsFileWriter.trailerBytes - 4)) ?? []
        let fileCRC = CRC32C.checksum(prefix, seed: crc)
        if fileCRC != declaredCRC {
            problem = "file CRC is \(BigEndianBytes.hex(fileCRC)), the trailer says \(BigEndianBytes.hex(declaredCRC))"
        }
        return nil
    }
}
