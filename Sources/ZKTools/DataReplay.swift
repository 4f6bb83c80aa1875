import Glibc
import ZKBase
import ZKFormat
import ZKStorage
import ZKTree

/// What `replay --to ZXID --out FILE` rebuilt and wrote.
public struct ReplayReport: Sendable {
    public var dataDirectory: String
    public var target: Int64
    public var origin: String
    public var lastZxid: Int64
    public var digestsChecked: Int
    public var output: String
    public var znodes: Int
    public var sessions: Int
    public var digest: UInt64

    public var text: String {
        ["replayed \(dataDirectory) to \(ZxidMath.hex(target)): \(origin), last zxid \(ZxidMath.hex(lastZxid)), "
            + "\(ToolFormat.count(digestsChecked, "digest")) checked",
         "wrote \(output): \(ToolFormat.count(znodes, "znode")), \(ToolFormat.count(sessions, "session")), "
            + "digest \(ToolFormat.hex(digest))"].joined(separator: "\n")
    }

    public var json: JSONValue {
        .fields(
            ("dataDirectory", .string(dataDirectory)), ("target", .zxid(target)), ("from", .string(origin)),
            ("lastZxid", .zxid(lastZxid)), ("digestsChecked", .int(digestsChecked)), ("output", .string(output)),
            ("znodes", .int(znodes)), ("sessions", .int(sessions)), ("digest", .hex(digest)), ("status", .int(0)))
    }
}

/// `paddock data replay DIR --to ZXID --out FILE`: the state after every txn up to a zxid the
/// log still covers (from the newest snapshot that ends at or before it), written as an exact
/// (non-fuzzy) snapshot file that `snapshot dump` and `snapshot diff` read. Read-only on DIR.
public enum DataReplay {
    public static func replay(
        _ directory: ToolDataDirectory, to target: Int64, output: String, level: Int32 = SnapshotWriter.defaultLevel
    ) throws(ToolError) -> Result<ReplayReport, ReplayFailure> {
        let log = try directory.requireLog()
        guard let summary = try directory.logSummary() else { preconditionFailure("log without a summary") }
        let destination = try destinationPath(output, directory: directory)
        let state: ReplayedState
        do {
            state = try StateReplay.state(at: target, snapshots: directory.snapshots(), log: log, summary: summary)
        } catch {
            return .failure(error)
        }
        let finalPath = ToolFiles.isDirectory(destination) ? destination + "/" + SnapshotFiles.name(zxid: state.lastZxid) : destination
        guard !ToolFiles.exists(finalPath) else { throw .usage("\(finalPath) already exists") }
        try write(state, to: finalPath, level: level)
        return .success(ReplayReport(
            dataDirectory: directory.path, target: target, origin: state.originText, lastZxid: state.lastZxid,
            digestsChecked: state.digestsChecked, output: finalPath, znodes: state.tree.nodeCount,
            sessions: state.tree.sessions.count, digest: state.tree.digest))
    }

    /// The output may be a file (its directory must exist) or a directory; never the data
    /// directory's own `snapshots/` (that would change the data directory without its lock).
    static func destinationPath(_ output: String, directory: ToolDataDirectory) throws(ToolError) -> String {
        let target = output.count > 1 && output.hasSuffix("/") ? String(output.dropLast()) : output
        let parent = ToolFiles.isDirectory(target) ? target : ToolFiles.parent(target)
        guard ToolFiles.isDirectory(parent) else { throw .usage("\(parent) is not a directory") }
        if let resolved = realPath(parent), let snapshots = realPath(directory.snapshotDirectory), resolved == snapshots {
            throw .usage("will not write into the data directory's own snapshots/ (\(directory.snapshotDirectory)); write it elsewhere")
        }
        return target
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Through a private temp directory next to the target, so SnapshotWriter's own
    /// `snapshot.<zxid>` name never meets another file; then renamed to the target.
    static func write(_ state: ReplayedState, to path: String, level: Int32) throws(ToolError) {
        let scratch = ToolFiles.parent(path) + "/.paddock-replay-\(getpid())"
        guard mkdir(scratch, 0o755) == 0 else { throw ToolFiles.error("mkdir", scratch) }
        defer { rmdir(scratch) }
        let written: String
        do {
            written = try SnapshotFiles.write(
                tree: state.tree, directory: scratch, startZxid: state.lastZxid, startTimeMs: state.lastTimeMs, level: level)
        } catch {
            throw .io("writing the snapshot: \(error)")
        }
        guard rename(written, path) == 0 else {
            let failure = ToolFiles.error("rename \(written) to", path)
            unlink(written)
            throw failure
        }
        try ToolFiles.syncDirectory(ToolFiles.parent(path))
    }
}
