import ZKBase
import ZKFormat
import ZKStorage
import ZKWire

/// One record as `dump` shows it. A damaged record is still shown: `problem` says why it is not
/// valid, and `txn` is whatever decodes without the CRC check (nil when nothing does).
public struct DumpedRecord: Sendable {
    public var zxid: Int64
    public var txn: Txn?
    public var digest: UInt64?
    public var problem: String?

    /// `0x100000003 2023-11-14T22:13:20.003Z session 0x… cxid 0x2 create /app data=… digest=0x…`,
    /// like ZooKeeper's TxnLogToolkit (time in UTC).
    public var text: String {
        var line = ZxidMath.hex(zxid)
        if let txn {
            let header = txn.header
            line += " \(ToolFormat.time(ms: header.time)) session \(ToolFormat.hex(header.clientId)) cxid \(ToolFormat.hex(header.cxid))"
            line += " " + TxnDescription(txn.body).text
            if let digest { line += " digest=\(ToolFormat.hex(digest))" }
        }
        if let problem { line += " DAMAGED: \(problem)" }
        return line
    }

    public var json: JSONValue {
        var fields: [(String, JSONValue)] = [("zxid", .zxid(zxid))]
        if let txn {
            let header = txn.header
            fields += [
                ("time", .string(ToolFormat.time(ms: header.time))), ("timeMs", .int(header.time)),
                ("session", .hex(UInt64(bitPattern: header.clientId))), ("cxid", .int(Int64(header.cxid))),
            ]
            let description = TxnDescription(txn.body)
            fields += [("type", .string(description.type)), ("path", .optional(description.path))] + description.json
            if let digest { fields.append(("digest", .hex(digest))) }
        }
        if let problem { fields.append(("problem", .string(problem))) }
        return .fields(fields)
    }
}

/// Totals of one dump.
public struct DumpSummary: Sendable, Equatable {
    public var source: String
    public var recordsShown = 0
    public var damaged = 0
    /// LMDB keys that are not 8-byte zxids (not written by Paddock), skipped.
    public var foreignKeys = 0
    /// A problem with the source itself (a records file's trailer), beyond damaged records.
    public var sourceProblem: String?

    public var status: ToolStatus { damaged == 0 && foreignKeys == 0 && sourceProblem == nil ? .healthy : .problems }

    public var text: String {
        var line = ToolFormat.count(recordsShown, "txn")
        if damaged > 0 { line += ", \(damaged) damaged" }
        if foreignKeys > 0 { line += ", \(foreignKeys) keys that are not zxids skipped" }
        if let sourceProblem { line += "; \(source): \(sourceProblem)" }
        return line
    }

    public var json: JSONValue {
        .fields(
            ("summary", .fields(
                ("source", .string(source)), ("txns", .int(recordsShown)), ("damaged", .int(damaged)),
                ("foreignKeys", .int(foreignKeys)), ("problem", .optional(sourceProblem)))))
    }
}

/// `paddock data dump DIR|FILE`: every record in a range, in order, streaming. Keeps going past
/// damage (a CRC mismatch, an undecodable txn, a gap): each damaged record is shown with why,
/// and the chain is picked up again after it, so each damage is reported once.
public enum LogDump {
    static let chunkRecords = 4096

    public enum Source: Sendable, Equatable { case dataDirectory, recordsFile }

    /// A directory is a data directory; a file must be a records file (a snapshot gets a hint).
    public static func classify(_ path: String) throws(ToolError) -> Source {
        guard ToolFiles.exists(path) else { throw .usage("\(path) does not exist") }
        if ToolFiles.isDirectory(path) { return .dataDirectory }
        if RecordsFileReader.hasMagic(path: path) { return .recordsFile }
        let head = (try? BufferedFile(path: path).read(at: 0, count: 5)) ?? []
        if head == [0x89, 0x50, 0x44, 0x4B, 0x53] { throw .usage("\(path) is a snapshot file: use `paddock snapshot dump`") }
        throw .usage("\(path) is neither a data directory nor a records file (removed-records.pdkr from a backup)")
    }

    /// Records of a data directory's log with zxid in `from...to`.
    public static func dumpDirectory(
        _ directory: ToolDataDirectory, from: Int64?, to: Int64?, emit: (DumpedRecord) -> Void
    ) throws(ToolError) -> DumpSummary {
        let log = try directory.requireLog()
        var walk = ChainWalk()
        var summary = DumpSummary(source: directory.logDirectory)
        var cursor = max(0, (from ?? 0) - 1)
        while true {
            let chunk: (previous: LogChainLink, records: [RawLogRecord], foreignKeys: Int)
            do {
                chunk = try log.rawRecords(after: cursor, limit: chunkRecords)
            } catch {
                throw .io("reading the log after \(ZxidMath.hex(cursor)): \(error)")
            }
            if !walk.started { walk.start(chunk.previous) }
            summary.foreignKeys += chunk.foreignKeys
            for raw in chunk.records {
                if let to, raw.zxid > to { return summary }
                show(walk.next(raw), into: &summary, emit)
            }
            guard let last = chunk.records.last, chunk.records.count == chunkRecords else { break }
            cursor = last.zxid
        }
        return summary
    }

    /// Records of a records file (a truncate/repair/purge backup) with zxid in `from...to`.
    public static func dumpRecordsFile(
        _ path: String, from: Int64?, to: Int64?, emit: (DumpedRecord) -> Void
    ) throws(ToolError) -> DumpSummary {
        let reader = try RecordsFileReader(path: path)
        var walk = ChainWalk()
        walk.start(reader.previous)
        var summary = DumpSummary(source: path)
        while let raw = try reader.next() {
            let record = walk.next(raw)
            if let from, raw.zxid < from { continue }
            if let to, raw.zxid > to { continue }
            show(record, into: &summary, emit)
        }
        summary.sourceProblem = reader.problem
        return summary
    }

    private static func show(_ record: DumpedRecord, into summary: inout DumpSummary, _ emit: (DumpedRecord) -> Void) {
        summary.recordsShown += 1
        if record.problem != nil { summary.damaged += 1 }
        emit(record)
    }
}

/// The CRC chain and zxid continuity across records, reporting each damage once: after a CRC
/// mismatch the next record may chain on the stored or the computed CRC; after other damage
/// the next link is not checked. Pure.
struct ChainWalk {
    private(set) var started = false
    private var previousZxid: Int64 = 0
    private var seeds: [UInt32] = []

    mutating func start(_ previous: LogChainLink) {
        started = true
        previousZxid = previous.zxid
        seeds = [previous.crc]
    }

    mutating func next(_ raw: RawLogRecord) -> DumpedRecord {
        var problems: [String] = []
        if !ZxidContinuity.follows(raw.zxid, after: previousZxid) {
            problems.append("does not follow \(ZxidMath.hex(previousZxid)) (records missing)")
            seeds = []
        }
        previousZxid = raw.zxid
        var result = decode(raw, seed: seeds.first)
        for seed in seeds.dropFirst() {
            guard case .failure(let error) = result, case .crcMismatch = error.kind else { break }
            result = decode(raw, seed: seed)
        }
        switch result {
        case .success(let record):
            seeds = [record.crc]
            return DumpedRecord(zxid: raw.zxid, txn: record.txn, digest: record.digest, problem: problems.first)
        case .failure(let error):
            problems.append(Self.reason(error))
            let unchecked = try? LogRecord.decode(zxid: raw.zxid, bytes: raw.bytes, previousCRC: nil)
            if case .crcMismatch(let expected, let actual) = error.kind {
                seeds = [actual, expected]
            } else {
                seeds = raw.bytes.count >= 12 ? [Self.storedCRC(raw.bytes)] : []
            }
            return DumpedRecord(
                zxid: raw.zxid, txn: unchecked?.txn, digest: unchecked?.digest, problem: problems.joined(separator: "; "))
        }
    }

    private func decode(_ raw: RawLogRecord, seed: UInt32?) -> Result<DecodedLogRecord, LogRecordError> {
        Result { () throws(LogRecordError) in try LogRecord.decode(zxid: raw.zxid, bytes: raw.bytes, previousCRC: seed) }
    }

    /// The error's text without the `log record <zxid>: ` prefix (the line starts with the zxid).
    static func reason(_ error: LogRecordError) -> String {
        let prefix = "log record \(ZxidMath.hex(error.zxid)): "
        let text = error.description
        return text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text
    }

    static func storedCRC(_ bytes: [UInt8]) -> UInt32 {
        UInt32(bytes[8]) << 24 | UInt32(bytes[9]) << 16 | UInt32(bytes[10]) << 8 | UInt32(bytes[11])
    }
}
