import Glibc
import ZKBase
import ZKStorage

/// A run of log records: how many and their zxid range.
public struct RecordRange: Sendable, Equatable {
    public var count: Int
    public var first: Int64
    public var last: Int64

    public init(count: Int, first: Int64, last: Int64) {
        self.count = count
        self.first = first
        self.last = last
    }

    public var text: String {
        "\(count) log record\(count == 1 ? "" : "s") \(ZxidMath.hex(first))..\(ZxidMath.hex(last))"
    }

    public var json: JSONValue {
        .fields(("count", .int(count)), ("firstZxid", .zxid(first)), ("lastZxid", .zxid(last)))
    }

    /// The records with zxid > `after` (through `through`, when given), counted in chunks.
    static func of(_ log: LMDBTransactionLog, after: Int64, through: Int64? = nil) throws(ToolError) -> RecordRange? {
        var range: RecordRange?
        var cursor = after
        while true {
            let records: [RawLogRecord]
            do {
                records = try log.rawRecords(after: cursor, limit: 4096).records
            } catch {
                throw .io("reading the log after \(ZxidMath.hex(cursor)): \(error)")
            }
            for record in records {
                if let through, record.zxid > through { return range }
                if range == nil { range = RecordRange(count: 0, first: record.zxid, last: record.zxid) }
                range!.count += 1
                range!.last = record.zxid
            }
            guard let last = records.last, records.count == 4096 else { return range }
            cursor = last.zxid
        }
    }
}

/// A snapshot a change moves out of `snapshots/`, and why.
public struct SnapshotRemoval: Sendable {
    public var snapshot: SnapshotInfo
    public var reason: String

    public var json: JSONValue { .fields(("name", .string(snapshot.name)), ("reason", .string(reason))) }
}

/// `<dataDir>/backup/<UTC time>-<command>/`: where a change keeps everything it removes. Log
/// records go to `removed-records.pdkr` (a records file, written and fsynced before the log
/// changes); snapshot files are moved (renamed) in; `MANIFEST.txt` says what happened.
public struct Backup: Sendable {
    public static let recordsFileName = "removed-records.pdkr"
    public static let manifestName = "MANIFEST.txt"

    /// Relative to the data directory: `backup/20231114T221320Z-repair`.
    public var relativePath: String
    public var path: String

    /// A name not taken yet (a `-2`, `-3` … suffix when the same second already has one).
    public static func choose(in directory: ToolDataDirectory, command: String, nowMs: Int64) -> Backup {
        choose(root: directory.backupDirectory, base: directory.path, command: command, nowMs: nowMs)
    }

    static func choose(root: String, base: String, command: String, nowMs: Int64) -> Backup {
        let stem = "\(ToolFormat.compactTime(ms: nowMs))-\(command)"
        var name = stem
        var suffix = 2
        while ToolFiles.exists(root + "/" + name) {
            name = "\(stem)-\(suffix)"
            suffix += 1
        }
        let relativeRoot = root.hasPrefix(base + "/") ? String(root.dropFirst(base.count + 1)) : root
        return Backup(relativePath: relativeRoot + "/" + name, path: root + "/" + name)
    }

    public var recordsFile: String { relativePath + "/" + Self.recordsFileName }

    /// Creates the directory (durably); fails if it exists.
    func create() throws(ToolError) {
        guard !ToolFiles.exists(path) else { throw .io("backup directory \(path) already exists") }
        try ToolFiles.makeDirectory(path)
    }

    /// Copies the records with zxid > `after` (through `through`) into the records file, fsynced.
    func saveRecords(_ log: LMDBTransactionLog, after: Int64, through: Int64? = nil) throws(ToolError) -> RecordRange? {
        var range: RecordRange?
        var cursor = after
        var writer: RecordsFileWriter?
        reading: while true {
            let chunk: (previous: LogChainLink, records: [RawLogRecord], foreignKeys: Int)
            do {
                chunk = try log.rawRecords(after: cursor, limit: 4096)
            } catch {
                throw .io("reading the log after \(ZxidMath.hex(cursor)): \(error)")
            }
            if writer == nil { writer = try RecordsFileWriter(path: path + "/" + Self.recordsFileName, previous: chunk.previous) }
            for record in chunk.records {
                if let through, record.zxid > through { break reading }
                try writer!.append(record)
                if range == nil { range = RecordRange(count: 0, first: record.zxid, last: record.zxid) }
                range!.count += 1
                range!.last = record.zxid
            }
            guard let last = chunk.records.last, chunk.records.count == 4096 else { break }
            cursor = last.zxid
        }
        try writer?.finish()
        return range
    }

    /// Moves a snapshot file in (rename, both directories fsynced).
    func moveIn(_ snapshot: SnapshotInfo) throws(ToolError) {
        try ToolFiles.move(snapshot.path, to: path + "/" + snapshot.name)
    }

    /// Writes MANIFEST.txt (fsynced).
    func writeManifest(_ lines: [String]) throws(ToolError) {
        try ToolFiles.writeDurably(path + "/" + Self.manifestName, Array((lines.joined(separator: "\n") + "\n").utf8))
    }
}

/// What a change did: lines for the operator, the same as JSON, and the exit status.
public struct ChangeReport: Sendable {
    public var lines: [String]
    public var fields: [(String, JSONValue)]
    public var status: ToolStatus

    public var text: String { lines.joined(separator: "\n") }
    public var json: JSONValue { .fields(fields + [("status", .int(Int64(status.rawValue)))]) }
}
