import ZKBase
import ZKFormat
import ZKStorage
import ZKTree

/// One side of a diff: a snapshot file, or a data directory's state at a zxid (nil: newest).
public enum DiffSource: Sendable {
    case snapshot(path: String)
    case dataDirectory(path: String, dataLogDirectory: String?, at: Int64?)
}

/// A loaded side: its tree and how it is named in the output.
public struct DiffSide: Sendable {
    public var label: String
    public var tree: DataTree

    public var dataBytes: Int { Int(tree.subtreeUsage("/").bytes) }
}

/// Thresholds, like ZooKeeper's SnapshotComparer.
public struct DiffOptions: Sendable {
    /// A changed node is listed when its data size changed by at least this many bytes (0: all).
    public var byteThreshold: Int
    /// A node present on both sides is listed under "subtrees" when its descendant count changed
    /// by at least this many nodes.
    public var nodeThreshold: Int
    /// Entries listed per section before the rest is only counted.
    public var listedMax: Int

    public init(byteThreshold: Int = 0, nodeThreshold: Int = 1, listedMax: Int = 1000) {
        self.byteThreshold = byteThreshold
        self.nodeThreshold = nodeThreshold
        self.listedMax = listedMax
    }
}

/// `paddock snapshot diff A B`: added, removed and changed znodes and sessions.
public struct DiffReport: Sendable {
    public var left: String
    public var right: String
    public var leftSummary: String
    public var rightSummary: String
    public var added: [String]
    public var removed: [String]
    /// Path and what changed ("version 1 -> 2", …), for changes over the byte threshold.
    public var changed: [(path: String, fields: [String])]
    public var changedTotal: Int
    public var subtrees: [(path: String, text: String)]
    public var sessionsAdded: [Int64]
    public var sessionsRemoved: [Int64]
    public var sessionsChanged: [(id: Int64, text: String)]
    public var options: DiffOptions

    public var identical: Bool {
        added.isEmpty && removed.isEmpty && changedTotal == 0 && sessionsAdded.isEmpty && sessionsRemoved.isEmpty
            && sessionsChanged.isEmpty
    }

    public var status: ToolStatus { identical ? .healthy : .problems }

    public var text: String {
        var lines = ["a  \(left): \(leftSummary)", "b  \(right): \(rightSummary)"]
        section("added", added.map { "  + \($0)" }, total: added.count, into: &lines)
        section("removed", removed.map { "  - \($0)" }, total: removed.count, into: &lines)
        section("changed", changed.map { "  ~ \($0.path): \($0.fields.joined(separator: ", "))" }, total: changedTotal, into: &lines)
        if changedTotal > changed.count {
            lines.append("  (\(changedTotal - changed.count) not listed: data size changed by less than \(options.byteThreshold) bytes)")
        }
        section("subtrees (descendants changed by at least \(options.nodeThreshold))", subtrees.map { "  \($0.path): \($0.text)" },
                total: subtrees.count, into: &lines)
        let sessionLines = sessionsAdded.map { "  + \(ToolFormat.hex($0))" } + sessionsRemoved.map { "  - \(ToolFormat.hex($0))" }
            + sessionsChanged.map { "  ~ \(ToolFormat.hex($0.id)): \($0.text)" }
        section("sessions", sessionLines, total: sessionLines.count, into: &lines)
        lines.append(identical ? "identical" : "summary  \(added.count) added, \(removed.count) removed, \(changedTotal) changed znodes; "
            + "\(sessionsAdded.count) added, \(sessionsRemoved.count) removed, \(sessionsChanged.count) changed sessions")
        return lines.joined(separator: "\n")
    }

    private func section(_ title: String, _ entries: [String], total: Int, into lines: inout [String]) {
        guard total > 0 else { return }
        lines.append("\(title) (\(total)):")
        lines += entries.prefix(options.listedMax)
        if entries.count > options.listedMax { lines.append("  ... and \(entries.count - options.listedMax) more") }
    }

    public var json: JSONValue {
        .fields(
            ("a", .fields(("source", .string(left)), ("summary", .string(leftSummary)))),
            ("b", .fields(("source", .string(right)), ("summary", .string(rightSummary)))),
            ("added", .array(added.prefix(options.listedMax).map { .string($0) })),
            ("removed", .array(removed.prefix(options.listedMax).map { .string($0) })),
            ("changed", .array(changed.prefix(options.listedMax).map { entry in
                .fields(("path", .string(entry.path)), ("changes", .array(entry.fields.map { .string($0) })))
            })),
            ("subtrees", .array(subtrees.prefix(options.listedMax).map { .fields(("path", .string($0.path)), ("change", .string($0.text))) })),
            ("sessionsAdded", .array(sessionsAdded.map { .hex(UInt64(bitPattern: $0)) })),
            ("sessionsRemoved", .array(sessionsRemoved.map { .hex(UInt64(bitPattern: $0)) })),
            ("sessionsChanged", .array(sessionsChanged.map { .fields(("id", .hex(UInt64(bitPattern: $0.id))), ("change", .string($0.text))) })),
            ("counts", .fields(
                ("added", .int(added.count)), ("removed", .int(removed.count)), ("changed", .int(changedTotal)))),
            ("identical", .bool(identical)), ("status", .int(Int64(status.rawValue))))
    }
}

public enum SnapshotDiff {
    /// Loads one side. A snapshot must be valid; a data directory is replayed (read-only) to
    /// the zxid asked for.
    public static func load(_ source: DiffSource) throws(ToolError) -> DiffSide {
        switch source {
        case .snapshot(let path):
            guard ToolFiles.exists(path), !ToolFiles.isDirectory(path) else { throw .usage("\(path) is not a snapshot file") }
            do {
                let loaded = try SnapshotFiles.load(path: path)
                return DiffSide(label: path, tree: loaded.tree)
            } catch {
                if case .io(let message) = error.kind { throw .io(message) }
                throw .usage("\(path) is not a valid snapshot: \(SnapshotInfo.reason(error))")
            }
        case .dataDirectory(let path, let dataLogDirectory, let at):
            let directory = try ToolDataDirectory.openReadOnly(path, dataLogDirectory: dataLogDirectory)
            defer { directory.close() }
            let log = try directory.requireLog()
            guard let summary = try directory.logSummary() else { preconditionFailure("log without a summary") }
            let target = at ?? summary.lastZxid
            do {
                let state = try StateReplay.state(at: target, snapshots: directory.snapshots(), log: log, summary: summary)
                return DiffSide(label: "\(path) at \(ZxidMath.hex(state.lastZxid))", tree: state.tree)
            } catch {
                throw .usage("\(path): cannot rebuild the state at \(ZxidMath.hex(target)): \(error.description)")
            }
        }
    }

    public static func compare(_ left: DiffSide, _ right: DiffSide, options: DiffOptions = DiffOptions()) -> DiffReport {
        // Each side's nodes by path, built once (the tree keeps no paths).
        let (leftNodes, rightNodes) = (left.tree.nodes, right.tree.nodes)
        let leftPaths = Set(leftNodes.keys)
        let rightPaths = Set(rightNodes.keys)
        var report = DiffReport(
            left: left.label, right: right.label, leftSummary: summary(left), rightSummary: summary(right),
            added: rightPaths.subtracting(leftPaths).sorted(), removed: leftPaths.subtracting(rightPaths).sorted(),
            changed: [], changedTotal: 0, subtrees: [], sessionsAdded: [], sessionsRemoved: [], sessionsChanged: [],
            options: options)
        let leftSizes = subtreeSizes(leftNodes)
        let rightSizes = subtreeSizes(rightNodes)
        for path in leftPaths.intersection(rightPaths).sorted() {
            let (a, b) = (leftNodes[path]!, rightNodes[path]!)
            let fields = changes(a, b)
            if !fields.isEmpty {
                report.changedTotal += 1
                if abs((b.data?.count ?? 0) - (a.data?.count ?? 0)) >= options.byteThreshold { report.changed.append((path, fields)) }
            }
            let (before, after) = (leftSizes[path] ?? (0, 0), rightSizes[path] ?? (0, 0))
            if options.nodeThreshold > 0, abs(after.nodes - before.nodes) >= options.nodeThreshold {
                report.subtrees.append((path, "\(before.nodes) -> \(after.nodes) descendants, \(before.bytes) -> \(after.bytes) data bytes"))
            }
        }
        report.changedTotal = max(report.changedTotal, report.changed.count)
        let (leftSessions, rightSessions) = (left.tree.sessions, right.tree.sessions)
        report.sessionsAdded = rightSessions.keys.filter { leftSessions[$0] == nil }.sorted()
        report.sessionsRemoved = leftSessions.keys.filter { rightSessions[$0] == nil }.sorted()
        report.sessionsChanged = leftSessions.keys.sorted().compactMap { id in
            guard let before = leftSessions[id], let after = rightSessions[id], before != after else { return nil }
            return (id, "timeout \(before) -> \(after)")
        }
        return report
    }

    static func summary(_ side: DiffSide) -> String {
        "\(side.tree.nodeCount) znodes, \(side.dataBytes) data bytes, \(side.tree.sessions.count) sessions, "
            + "digest \(ToolFormat.hex(side.tree.digest))"
    }

    /// What differs between two versions of a node, field by field.
    static func changes(_ a: DataNode, _ b: DataNode) -> [String] {
        var fields: [String] = []
        if a.data != b.data {
            fields.append("data \(ToolFormat.data(a.data, limit: 32)) -> \(ToolFormat.data(b.data, limit: 32))")
        }
        if a.acl != b.acl { fields.append("acl \(ToolFormat.acl(a.acl)) -> \(ToolFormat.acl(b.acl))") }
        let (s, t) = (a.stat, b.stat)
        let numbers: [(String, Int64, Int64)] = [
            ("version", Int64(s.version), Int64(t.version)), ("cversion", Int64(s.cversion), Int64(t.cversion)),
            ("aversion", Int64(s.aversion), Int64(t.aversion)),
        ]
        fields += numbers.filter { $0.1 != $0.2 }.map { "\($0.0) \($0.1) -> \($0.2)" }
        let zxids: [(String, Int64, Int64)] = [("czxid", s.czxid, t.czxid), ("mzxid", s.mzxid, t.mzxid), ("pzxid", s.pzxid, t.pzxid)]
        fields += zxids.filter { $0.1 != $0.2 }.map { "\($0.0) \(ZxidMath.hex($0.1)) -> \(ZxidMath.hex($0.2))" }
        let times: [(String, Int64, Int64)] = [("ctime", s.ctime, t.ctime), ("mtime", s.mtime, t.mtime)]
        fields += times.filter { $0.1 != $0.2 }.map { "\($0.0) \(ToolFormat.time(ms: $0.1)) -> \(ToolFormat.time(ms: $0.2))" }
        if s.ephemeralOwner != t.ephemeralOwner {
            fields.append("ephemeralOwner \(ToolFormat.owner(s.ephemeralOwner)) -> \(ToolFormat.owner(t.ephemeralOwner))")
        }
        return fields
    }

    /// Descendant count and data bytes below each node (the node itself excluded).
    static func subtreeSizes(_ nodes: [String: DataNode]) -> [String: (nodes: Int, bytes: Int)] {
        var sizes: [String: (nodes: Int, bytes: Int)] = [:]
        // Deepest first, so children are summed before their parents.
        let paths = nodes.keys.sorted { depth($0) > depth($1) }
        for path in paths where path != "/" {
            let parent = PathValidation.parent(of: path)
            let own = sizes[path] ?? (0, 0)
            let bytes = nodes[path]?.data?.count ?? 0
            let total = sizes[parent] ?? (0, 0)
            sizes[parent] = (total.nodes + own.nodes + 1, total.bytes + own.bytes + bytes)
        }
        return sizes
    }

    static func depth(_ path: String) -> Int { path == "/" ? 0 : path.utf8.filter { $0 == UInt8(ascii: "/") }.count }
}

extension DiffSource {
    /// A directory is a data directory side; anything else a snapshot file.
    public static func from(path: String, dataLogDirectory: String?, at zxid: Int64?) -> DiffSource {
        ToolFiles.isDirectory(path) ? .dataDirectory(path: path, dataLogDirectory: dataLogDirectory, at: zxid) : .snapshot(path: path)
    }
}
