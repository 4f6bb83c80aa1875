import ZKBase
import ZKFormat
import ZKTree

/// What `snapshot dump` shows, in file order: the header, each node, then the sessions (with
/// how many ephemerals each owns) and the verified trailer — or the problem that stopped it.
public enum SnapshotDumpItem: Sendable {
    case header(path: String, sizeBytes: Int, header: SnapshotHeader)
    case node(path: String, data: [UInt8]?, acl: [ACL], stat: StatPersisted)
    /// Comes before the sessions (text output prints a heading).
    case sessions(count: Int)
    case session(id: Int64, timeoutMs: Int32, ephemerals: Int)
    case trailer(SnapshotTrailer)
    case problem(String)

    /// Text lines in the shape of ZooKeeper's SnapshotFormatter (times in UTC).
    public func text(includeData: Bool) -> String {
        switch self {
        case .header(let path, let size, let header):
            let compression = header.compression == 0 ? "none" : "zlib level \(header.level)"
            return "snapshot \(path)\n  format \(header.formatVersion), compression \(compression), \(size) bytes\n"
                + "  start zxid \(ZxidMath.hex(header.startZxid)), started \(ToolFormat.time(ms: header.startTimeMs))\n"
                + "ZNode Details:\n----"
        case .node(let path, let data, let acl, let stat):
            var lines = [
                path,
                "  cZxid = \(ZxidMath.hex(stat.czxid))", "  ctime = \(ToolFormat.time(ms: stat.ctime))",
                "  mZxid = \(ZxidMath.hex(stat.mzxid))", "  mtime = \(ToolFormat.time(ms: stat.mtime))",
                "  pZxid = \(ZxidMath.hex(stat.pzxid))", "  cversion = \(stat.cversion)",
                "  dataVersion = \(stat.version)", "  aclVersion = \(stat.aversion)",
                "  ephemeralOwner = \(ToolFormat.owner(stat.ephemeralOwner))", "  acl = \(ToolFormat.acl(acl))",
            ]
            if includeData { lines.append("  data = \(ToolFormat.data(data, limit: nil))") }
            lines += ["  dataLength = \(data?.count ?? 0)", "----"]
            return lines.joined(separator: "\n")
        case .sessions(let count):
            return "Session Details (sid, timeout, ephemeralCount): \(count)"
        case .session(let id, let timeoutMs, let ephemerals):
            return "\(ToolFormat.hex(id)), \(timeoutMs), \(ephemerals)"
        case .trailer(let trailer):
            return "----\nLast zxid: \(ZxidMath.hex(trailer.endZxid))\nNodes: \(trailer.nodeCount), sessions: \(trailer.sessionCount)\n"
                + "Digest: \(ToolFormat.hex(trailer.digest))\nvalid"
        case .problem(let message):
            return "INVALID: \(message)"
        }
    }

    /// One JSON object per item (JSON Lines), each with a `type`; nil for a text-only heading.
    public func json(includeData: Bool) -> JSONValue? {
        switch self {
        case .sessions: return nil
        case .header(let path, let size, let header):
            return .fields(
                ("type", .string("header")), ("path", .string(path)), ("bytes", .int(size)),
                ("format", .int(Int64(header.formatVersion))), ("compression", .string(header.compression == 0 ? "none" : "zlib")),
                ("level", .int(Int64(header.level))), ("startZxid", .zxid(header.startZxid)),
                ("startTime", .string(ToolFormat.time(ms: header.startTimeMs))))
        case .node(let path, let data, let acl, let stat):
            var fields: [(String, JSONValue)] = [
                ("type", .string("node")), ("path", .string(path)), ("czxid", .zxid(stat.czxid)),
                ("ctime", .string(ToolFormat.time(ms: stat.ctime))), ("mzxid", .zxid(stat.mzxid)),
                ("mtime", .string(ToolFormat.time(ms: stat.mtime))), ("pzxid", .zxid(stat.pzxid)),
                ("cversion", .int(Int64(stat.cversion))), ("version", .int(Int64(stat.version))),
                ("aversion", .int(Int64(stat.aversion))), ("ephemeralOwner", .string(ToolFormat.owner(stat.ephemeralOwner))),
                ("acl", ToolFormat.aclJSON(acl)),
            ]
            fields += includeData ? ToolFormat.dataJSON(data) : [("dataLength", .int(data?.count ?? 0))]
            return .fields(fields)
        case .session(let id, let timeoutMs, let ephemerals):
            return .fields(
                ("type", .string("session")), ("id", .hex(UInt64(bitPattern: id))), ("timeoutMs", .int(Int64(timeoutMs))),
                ("ephemerals", .int(ephemerals)))
        case .trailer(let trailer):
            return .fields(
                ("type", .string("trailer")), ("endZxid", .zxid(trailer.endZxid)), ("nodes", .int(Int64(trailer.nodeCount))),
                ("sessions", .int(Int64(trailer.sessionCount))), ("digest", .hex(trailer.digest)), ("valid", .bool(true)))
        case .problem(let message):
            return .fields(("type", .string("problem")), ("message", .string(message)), ("valid", .bool(false)))
        }
    }
}

/// `paddock snapshot dump FILE`: streams a snapshot file, node by node (memory stays bounded
/// by the largest node), and checks the validity rule on the way.
public enum SnapshotDump {
    /// Emits every item; returns `.problems` when the file is not valid. A file that cannot be
    /// opened at all is an I/O error.
    public static func dump(path: String, emit: (SnapshotDumpItem) -> Void) throws(ToolError) -> ToolStatus {
        guard ToolFiles.exists(path) else { throw .usage("\(path) does not exist") }
        guard !ToolFiles.isDirectory(path) else { throw .usage("\(path) is a directory; give a snapshot file") }
        let reader: SnapshotReader
        do {
            reader = try SnapshotReader(path: path)
        } catch {
            if case .io(let message) = error.kind { throw .io(message) }
            emit(.problem(SnapshotInfo.reason(error)))
            return .problems
        }
        emit(.header(path: path, sizeBytes: ToolFiles.size(path) ?? 0, header: reader.header))
        var sessions: [(id: Int64, timeoutMs: Int32)] = []
        var ephemerals: [Int64: Int] = [:]
        var failure: SnapshotError?
        do throws(SnapshotError) {
            sessions = try reader.readSessions()
            while let node = try reader.nextNode() {
                if EphemeralOwner.isSession(node.stat.ephemeralOwner) { ephemerals[node.stat.ephemeralOwner, default: 0] += 1 }
                emit(.node(path: node.path, data: node.data, acl: node.acl, stat: node.stat))
            }
        } catch {
            failure = error
        }
        emit(.sessions(count: sessions.count))
        for session in sessions {
            emit(.session(id: session.id, timeoutMs: session.timeoutMs, ephemerals: ephemerals[session.id] ?? 0))
        }
        if let failure {
            emit(.problem(SnapshotInfo.reason(failure)))
            return .problems
        }
        guard let trailer = reader.trailer else { preconditionFailure("reader ended without a verified trailer") }
        emit(.trailer(trailer))
        return .healthy
    }
}
