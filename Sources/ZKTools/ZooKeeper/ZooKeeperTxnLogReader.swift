import ZKBase
import ZKWire

/// One txn read from a ZooKeeper log file.
public struct ZooKeeperLogEntry: Sendable {
    public var txn: Txn
    public var digest: ZooKeeperTxnDigest?
    /// Offset of the entry (its checksum field) in the file.
    public var offset: Int64
}

/// Reads one ZooKeeper txn log file (`FileTxnLog.FileTxnIterator`, `Util.readTxnBytes`):
///
/// | part | layout |
/// |---|---|
/// | FileHeader | int magic "ZKLG" (0x5A4B4C47), int version (2), long dbid (0) |
/// | entry | long Adler32 of the txn bytes, int length, the txn bytes, byte 0x42 ('B') |
///
/// The file is preallocated with zeros, so a zero length ends it. As in ZooKeeper, the file
/// also ends (without error) at an end of file anywhere in an entry, or at an entry whose end
/// marker is not 0x42 ("Last transaction was partial"); `end` says which and where. A checksum
/// that does not match the bytes, a negative length or txn bytes that do not decode are
/// corruption (ZooKeeper: "CRC check failed"; the server would not start).
public final class ZooKeeperTxnLogReader {
    public static let magic: Int32 = 0x5A4B_4C47  // "ZKLG"
    public static let headerBytes = 16
    public static let endMarker: UInt8 = 0x42

    /// How the file ended.
    public enum End: Sendable, Equatable {
        /// Not yet reached.
        case notYet
        /// A zero length (the preallocated tail) or the end of the file exactly after an entry.
        case clean(offset: Int64)
        /// A txn cut short or without its end marker (a crash while writing): ignored, as
        /// ZooKeeper ignores it.
        case partial(offset: Int64, reason: String)
        /// The file is shorter than its header (a crash right after creating it).
        case noHeader(bytes: Int64)
    }

    public let path: String
    public private(set) var version: Int32 = 0
    public private(set) var dbid: Int64 = 0
    public private(set) var end = End.notYet
    private let stream: ZooKeeperInputStream

    public init(path: String) throws(ZooKeeperMigrationError) {
        self.path = path
        stream = ZooKeeperInputStream(source: try ZooKeeperFileSource(path: path), path: path, checksum: false)
        do {
            guard try stream.ensure(Self.headerBytes) else {
                let size = try stream.readRemainder(limit: Self.headerBytes)?.count ?? 0
                end = .noHeader(bytes: Int64(size))
                return
            }
            let magic = try stream.readInt()
            guard magic == Self.magic else {
                throw ZooKeeperMigrationError.corrupt(path, offset: 0, "not a ZooKeeper txn log: magic 0x\(String(UInt32(bitPattern: magic), radix: 16)), expected 0x5a4b4c47 (ZKLG)")
            }
            version = try stream.readInt()
            dbid = try stream.readLong()
        } catch let failure as ZooKeeperInputStream.Failure {
            throw Self.describe(failure, path: path)
        } catch let error as ZooKeeperMigrationError {
            throw error
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
    }

    deinit { stream.close() }

    static func describe(_ failure: ZooKeeperInputStream.Failure, path: String) -> ZooKeeperMigrationError {
        switch failure {
        case .endOfStream(let offset): return .corrupt(path, offset: offset, "log ends early")
        case .invalid(let offset, let what): return .corrupt(path, offset: offset, what)
        case .source(let error): return error
        }
    }

    /// The next txn, or nil when the file has ended (see `end`).
    public func next() throws(ZooKeeperMigrationError) -> ZooKeeperLogEntry? {
        guard end == .notYet else { return nil }
        let offset = stream.offset
        do {
            return try readEntry(at: offset)
        } catch let failure as ZooKeeperInputStream.Failure {
            if case .endOfStream = failure {
                end = .partial(offset: offset, reason: "the file ends inside the entry")
                return nil
            }
            throw Self.describe(failure, path: path)
        } catch let error as ZooKeeperMigrationError {
            throw error
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
    }

    private func readEntry(at offset: Int64) throws -> ZooKeeperLogEntry? {
        if try stream.atEnd() {
            end = .clean(offset: offset)
            return nil
        }
        let storedChecksum = try stream.readLong()
        let length = try stream.readInt()
        if length == 0 {
            end = .clean(offset: offset)
            return nil
        }
        guard length > 0 else {
            throw ZooKeeperMigrationError.corrupt(path, offset: offset, "txn entry has length \(length)")
        }
        let bytes = try stream.readBytes(Int(length))
        let marker = try stream.readByte()
        guard marker == Self.endMarker else {
            end = .partial(offset: offset, reason: "end marker is 0x\(String(marker, radix: 16)), not 0x42 (last transaction was partial)")
            return nil
        }
        let checksum = Adler32.checksum(bytes)
        guard UInt64(bitPattern: storedChecksum) == UInt64(checksum) else {
            throw ZooKeeperMigrationError.corrupt(path, offset: offset, "Adler32 mismatch (CRC check failed): the entry stores 0x\(String(UInt64(bitPattern: storedChecksum), radix: 16)), its \(length) bytes give 0x\(String(checksum, radix: 16))")
        }
        do throws(ZooKeeperTxnDecoding.Failure) {
            let decoded = try ZooKeeperTxnDecoding.decode(bytes)
            return ZooKeeperLogEntry(txn: decoded.txn, digest: decoded.digest, offset: offset)
        } catch {
            throw ZooKeeperMigrationError.corrupt(path, offset: offset, "txn does not decode (\(error.reason))")
        }
    }
}
