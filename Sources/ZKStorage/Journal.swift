import Glibc
import ZKBase
import ZKFormat

/// Where the commit journal's bytes live. The file implementation writes through O_DSYNC (one
/// device write and one flush per frame); tests put a simulated disk here.
public protocol JournalDevice: AnyObject, Sendable {
    /// Bytes the journal holds (fixed, a multiple of `JournalFrame.alignment`).
    var capacity: Int { get }
    /// `count` bytes at `offset` (within `capacity`).
    func read(at offset: Int, count: Int) throws(LogError) -> [UInt8]
    /// Writes `bytes` at `offset`; they are durable when this returns.
    func writeDurably(_ bytes: [UInt8], at offset: Int) throws(LogError)
    func close()
}

/// The journal file (`journal` next to `data.mdb`): created once at its full size, zero-filled
/// with real writes and made durable, so a frame written later overwrites allocated blocks and
/// its O_DSYNC write has no file size or extent to push through the file system's journal.
public final class FileJournalDevice: JournalDevice, @unchecked Sendable {
    public static let fileName = "journal"
    public let path: String
    public let capacity: Int
    private let descriptor: Int32
    /// The simulated disk the file was opened on (tests; nil: the real one): closing goes there
    /// too, wherever `close` runs.
    private let fileSystem: (any SimulatedFileSystem)?
    private let closeLock = NSLockLike()
    private var closed = false

    /// Opens the journal in `directory`; when it is missing and `create` is set, creates it
    /// (zero-filled, `capacity` bytes, durable with its directory entry). Read-only when
    /// `readOnly`. Nil when it is missing and may not be created.
    public static func open(directory: String, capacity: Int, create: Bool, readOnly: Bool) throws(LogError) -> FileJournalDevice? {
        let path = directory + "/" + fileName
        if !PosixFile.exists(path) {
            guard create, !readOnly else { return nil }
            try createZeroFilled(path: path, directory: directory, capacity: capacity)
        }
        return try FileJournalDevice(path: path, readOnly: readOnly)
    }

    private init(path: String, readOnly: Bool) throws(LogError) {
        self.path = path
        fileSystem = PosixFile.simulated
        do {
            descriptor = try PosixFile.openExisting(path, flags: readOnly ? O_RDONLY : (O_RDWR | O_DSYNC))
        } catch {
            throw LogError(kind: .io("\(error)"), detail: path)
        }
        let size: Int
        do {
            size = try PosixFile.size(descriptor, path: path)
        } catch {
            PosixFile.close(descriptor)
            throw LogError(kind: .io("\(error)"), detail: path)
        }
        guard size >= JournalFrame.alignment * 2, size % JournalFrame.alignment == 0 else {
            PosixFile.close(descriptor)
            throw LogError(kind: .journalCorrupt("the journal file is \(size) bytes, not a multiple of \(JournalFrame.alignment) of at least two frames"), detail: path)
        }
        capacity = size
    }

    deinit { close() }

    public func close() {
        closeLock.withLock {
            guard !closed else { return }
            closed = true
            if let fileSystem { fileSystem.close(descriptor) } else { Glibc.close(descriptor) }
        }
    }

    public func read(at offset: Int, count: Int) throws(LogError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let done: Int
        do {
            done = try bytes.withUnsafeMutableBytes { buffer in
                try PosixFile.readAll(descriptor, into: buffer, at: offset, path: path)
            }
        } catch {
            throw LogError(kind: .io("\(error)"), detail: path)
        }
        guard done == count else { throw LogError(kind: .io("journal read of \(count) bytes at \(offset) returned \(done)"), detail: path) }
        return bytes
    }

    public func writeDurably(_ bytes: [UInt8], at offset: Int) throws(LogError) {
        precondition(offset >= 0 && offset + bytes.count <= capacity, "journal write past its capacity")
        do {
            try bytes.withUnsafeBytes { raw in
                try PosixFile.writeAll(descriptor, raw, at: offset, path: path)
            }
        } catch {
            throw LogError(kind: .io("\(error)"), detail: path)
        }
    }

    /// Writes the zero-filled file under a temporary name, syncs it, renames it into place and
    /// syncs the directory: a crash leaves either no journal or a whole one.
    private static func createZeroFilled(path: String, directory: String, capacity: Int) throws(LogError) {
        precondition(capacity >= JournalFrame.alignment * 2 && capacity % JournalFrame.alignment == 0,
                     "journal capacity must be a multiple of \(JournalFrame.alignment) of at least two frames")
        let temporary = path + ".tmp"
        do throws(SnapshotError) {
            let fd = try PosixFile.openExisting(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC)
            defer { PosixFile.close(fd) }
            let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: min(capacity, 1 << 20), alignment: JournalFrame.alignment)
            defer { chunk.deallocate() }
            chunk.initializeMemory(as: UInt8.self, repeating: 0)
            var offset = 0
            while offset < capacity {
                let count = min(chunk.count, capacity - offset)
                try PosixFile.writeAll(fd, UnsafeRawBufferPointer(rebasing: chunk[0..<count]), at: offset, path: temporary)
                offset += count
            }
            try PosixFile.syncData(fd, path: temporary)
            try PosixFile.move(temporary, path)
            try PosixFile.syncDirectory(directory, reportingAs: path)
        } catch {
            throw LogError(kind: error.isFull ? .full : .io("\(error)"), detail: path)
        }
    }
}

extension SnapshotError {
    /// ENOSPC/EDQUOT behind an I/O error (so a full disk reads as `LogError.Kind.full`).
    var isFull: Bool { "\(self)".contains(String(cString: strerror(ENOSPC))) || "\(self)".contains(String(cString: strerror(EDQUOT))) }
}

/// The commit journal (FORMAT.md section 2a): frames written one after another from offset 0,
/// each durable before the batch it carries is acknowledged. A lap starts at offset 0 with the
/// sequence number LMDB's `meta/journal` names; frames of older laps are stale. A frame's space
/// is written again only in a later lap, which starts after LMDB durably holds every record of
/// the laps before. Writer-thread only (the log's append thread).
public final class Journal: @unchecked Sendable {
    public let device: any JournalDevice
    /// Where the next frame goes, its sequence number, and the CRC it chains on.
    public private(set) var writeOffset = 0
    public private(set) var nextSequence: UInt64
    private var previousCRC: UInt32 = 0

    /// A journal positioned after `scan`'s frames (the lap in progress).
    init(device: any JournalDevice, continuing scan: JournalScan) {
        self.device = device
        writeOffset = scan.endOffset
        nextSequence = scan.nextSequence
        previousCRC = scan.lastCRC
    }

    public var capacity: Int { device.capacity }
    public var freeBytes: Int { device.capacity - writeOffset }

    /// Writes one frame holding `entries` (durable on return).
    func append(_ entries: [(zxid: Int64, bytes: [UInt8])]) throws(LogError) {
        let (bytes, crc) = JournalFrame.encode(sequence: nextSequence, previousCRC: previousCRC, entries: entries)
        precondition(bytes.count <= freeBytes, "journal frame does not fit: the caller starts a new lap first")
        try device.writeDurably(bytes, at: writeOffset)
        writeOffset += bytes.count
        nextSequence += 1
        previousCRC = crc
    }

    /// Starts lap `sequence` at offset 0. The caller has made LMDB durably hold every record of
    /// the frames so far and durably recorded `sequence` as the lap in `meta/journal`.
    func startLap(_ sequence: UInt64) {
        precondition(sequence >= nextSequence, "journal laps only move forward")
        writeOffset = 0
        nextSequence = sequence
        previousCRC = 0
    }

    /// Reads the current lap (FORMAT.md section 2a, "Recovery"): from offset 0, frames with
    /// consecutive sequence numbers starting at `lapSequence`, each naming the CRC of the one
    /// before. The lap ends at zeros, at a stale frame (sequence below what comes next), or at
    /// a damaged frame. A damaged frame is the torn tail of the last write unless some later
    /// offset holds a valid frame of this lap with a higher sequence: that is damage
    /// (`.journalCorrupt`).
    /// `salvage`: damage ends the lap like a tear (`damage` says what was found) instead of
    /// throwing — for `paddock data repair`.
    /// `keepingRecordsAfter`: frames keep only records past this zxid (LMDB's last: the rest is
    /// folded already and only checked).
    static func scan(
        _ device: any JournalDevice, lapSequence: UInt64, salvage: Bool = false, keepingRecordsAfter floor: Int64 = Int64.min
    ) throws(LogError) -> JournalScan {
        let image = try device.read(at: 0, count: device.capacity)
        return try image.withUnsafeBytes { raw in
            Result { () throws(LogError) in try scan(raw, lapSequence: lapSequence, salvage: salvage, floor: floor) }
        }.get()
    }

    private static func scan(_ raw: UnsafeRawBufferPointer, lapSequence: UInt64, salvage: Bool, floor: Int64) throws(LogError) -> JournalScan {
        do {
            var result = JournalScan(frames: [], endOffset: 0, nextSequence: lapSequence, lastCRC: 0, tornAt: nil)
            var offset = 0
            while offset + JournalFrame.headerBytes <= raw.count {
                let slot = JournalFrame.decode(UnsafeRawBufferPointer(rebasing: raw[offset...]), keepingRecordsAfter: floor)
                switch slot {
                case .empty:
                    return result
                case .frame(let frame) where frame.sequence == result.nextSequence && frame.previousCRC == result.lastCRC:
                    result.frames.append(frame)
                    offset += frame.frameBytes
                    result.endOffset = offset
                    result.nextSequence += 1
                    result.lastCRC = frame.crc
                    continue
                case .frame(let frame) where frame.sequence < result.nextSequence:
                    return result  // a frame of an older lap: this lap ends here
                case .frame, .invalid:
                    break
                }
                // A damaged frame: a torn tail, unless this lap goes on after it.
                var later = offset + JournalFrame.alignment
                while later + JournalFrame.headerBytes <= raw.count {
                    if case .frame(let frame) = JournalFrame.decode(UnsafeRawBufferPointer(rebasing: raw[later...]), keepingRecordsAfter: Int64.max),
                       frame.sequence >= result.nextSequence {
                        let why: String
                        if case .invalid(let reason) = slot { why = reason } else { why = "a frame out of sequence" }
                        let damage = "offset \(offset) is damaged (\(why)) but offset \(later) holds frame \(frame.sequence) of the same lap (records \(ZxidMath.hex(frame.firstZxid))...\(ZxidMath.hex(frame.lastZxid)))"
                        guard salvage else { throw LogError(kind: .journalCorrupt(damage)) }
                        result.tornAt = offset
                        result.damage = damage
                        // The next lap must start above every frame still in the file.
                        var rest = later
                        while rest + JournalFrame.headerBytes <= raw.count {
                            if case .frame(let stale) = JournalFrame.decode(UnsafeRawBufferPointer(rebasing: raw[rest...]), keepingRecordsAfter: Int64.max) {
                                result.highestSequenceAfterDamage = max(result.highestSequenceAfterDamage ?? 0, stale.sequence)
                            }
                            rest += JournalFrame.alignment
                        }
                        return result
                    }
                    later += JournalFrame.alignment
                }
                result.tornAt = offset
                return result
            }
            return result
        }
    }
}

/// The valid frames of a journal's current lap and where the next frame goes.
public struct JournalScan: Sendable {
    public var frames: [JournalFrame]
    public var endOffset: Int
    public var nextSequence: UInt64
    public var lastCRC: UInt32
    /// Offset of the torn frame that ended the lap, if one did.
    public var tornAt: Int?
    /// With `salvage`: the damage that ended the lap (frames after it are dropped), and the
    /// highest sequence number of a valid frame after it.
    public var damage: String?
    public var highestSequenceAfterDamage: UInt64?

    /// The lap to start after this one: above every sequence number the file holds.
    var nextLap: UInt64 { max(nextSequence, (highestSequenceAfterDamage ?? 0) + 1) + 1 }
}
