import ZKBase

/// ZooKeeper's quotas (org.apache.zookeeper.Quotas, StatsTrack): a quota on `/app` lives in
/// `/zookeeper/quota/app/zookeeper_limits` (the limits, written by clients such as zkCli's
/// setquota) and `/zookeeper/quota/app/zookeeper_stats` (the subtree's node count and data bytes,
/// which the tree itself keeps current as txns apply, without a txn of its own).
public enum Quotas {
    public static let limitNode = "zookeeper_limits"
    public static let statNode = "zookeeper_stats"

    public static func quotaPath(_ path: String) -> String { DataTree.quotaPath + path }
    public static func limitPath(_ path: String) -> String { DataTree.quotaPath + path + "/" + limitNode }
    public static func statPath(_ path: String) -> String { DataTree.quotaPath + path + "/" + statNode }

    /// The quota'd path a node under /zookeeper/quota stands for ("/zookeeper/quota/app" -> "/app").
    static func trimQuotaPath(_ path: String) -> String {
        String(path.dropFirst(DataTree.quotaPath.count))
    }

    /// The key under which ZooKeeper 3.8.0 files a quota'd path, and the form of every path it
    /// matches against quotas: the path's components without those that are empty or whitespace
    /// only, joined by "/". Its PathTrie.split keeps a component only when Java's `trim()` leaves
    /// something, and `trim()` drops every char up to U+0020. So a quota on "/ /b/b" is looked up,
    /// counted and limited as "/b/b": creates under "/ /b/b" update the stats node of "/b/b" (if
    /// there is one), not "/zookeeper/quota/ /b/b/zookeeper_stats", which only ever holds the usage
    /// computed when it was created or when the tree was loaded. An all-blank path keys to "/",
    /// which matches nothing (getMaxPrefixWithQuota ignores the root). The differential test found
    /// this (seed 1873722807); Tests/ZKTreeTests/QuotaTests.swift keeps it.
    public static func trieKey(_ path: String) -> String {
        let kept = path.split(separator: "/").filter { component in
            component.unicodeScalars.contains { $0.value > 0x20 }
        }
        return "/" + kept.joined(separator: "/")
    }
}

/// The text of a limits or stats node: `count=N,bytes=M`, then, only when other keys are
/// present, `=` and `;key=value` pairs sorted by key (so ZooKeeper 3.4's parser still reads the
/// first two): `count=-1,bytes=-1=;countHardLimit=2`. A missing value reads as -1.
public struct StatsTrack: Sendable, Equatable {
    public var values: [String: Int64] = [:]

    public init() {}

    /// Parses what ZooKeeper's StatsTrack parses: pairs split on runs of `,` and `;`.
    public init(_ bytes: [UInt8]?) {
        let text = String(decoding: bytes ?? [], as: UTF8.self)
        for pair in text.split(whereSeparator: { $0 == "," || $0 == ";" }) {
            let parts = pair.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count >= 2 else { continue }
            values[String(parts[0])] = parts[1].isEmpty ? -1 : Int64(parts[1]) ?? -1
        }
    }

    public var count: Int64 {
        get { values["count"] ?? -1 }
        set { values["count"] = newValue }
    }

    public var bytes: Int64 {
        get { values["bytes"] ?? -1 }
        set { values["bytes"] = newValue }
    }

    public var countHardLimit: Int64 { values["countHardLimit"] ?? -1 }
    public var byteHardLimit: Int64 { values["byteHardLimit"] ?? -1 }

    public var text: String {
        var result = "count=\(count),bytes=\(bytes)"
        let others = values.keys.filter { $0 != "count" && $0 != "bytes" }.sorted()
        if !others.isEmpty {
            result += "="
            for key in others { result += ";\(key)=\(values[key]!)" }
        }
        return result
    }

    public var encoded: [UInt8] { Array(text.utf8) }
}

/// What a quota says about a create or setData (ZooKeeperServer.checkQuota).
public enum QuotaVerdict: Sendable, Equatable {
    case within
    /// Past a soft limit: allowed, with a warning.
    case pastSoftLimit(String)
    /// Past a hard limit: refused with QUOTAEXCEEDED when quotas are enforced.
    case pastHardLimit(String)
}

extension DataTree {
    /// The deepest path with a quota that `path` is in (itself or an ancestor), as ZooKeeper's
    /// getMaxPrefixWithQuota; nil when none. Both sides are compared as `Quotas.trieKey`s, and the
    /// key is what is returned (its stats and limits nodes are the ones ZooKeeper reads and writes).
    public func quotaPrefix(of path: String) -> String? {
        guard !quotaPrefixes.isEmpty else { return nil }
        var candidate = Quotas.trieKey(path)
        while candidate != "/" && !candidate.isEmpty {
            if quotaPrefixes.contains(candidate) { return candidate }
            candidate = PathValidation.parent(of: candidate)
        }
        return nil
    }

    /// ZooKeeperServer.checkQuota: what the quota over `path` says about adding `countDiff`
    /// nodes and `bytesDiff` bytes, against the usage the stats node holds now.
    public func quotaVerdict(for path: String, bytesDiff: Int64, countDiff: Int64) -> QuotaVerdict {
        guard let prefix = quotaPrefix(of: path), let limitNode = node(Quotas.limitPath(prefix)) else { return .within }
        let limits = StatsTrack(limitNode.data)
        let checkCount = countDiff != 0 && (limits.count > -1 || limits.countHardLimit > -1)
        let checkBytes = bytesDiff != 0 && (limits.bytes > -1 || limits.byteHardLimit > -1)
        guard checkCount || checkBytes, let statNode = node(Quotas.statPath(prefix)) else { return .within }
        let current = StatsTrack(statNode.data)
        var verdict = QuotaVerdict.within
        let checks: [(Bool, String, Int64, Int64, Int64, String)] = [
            (checkCount, "count", current.count + countDiff, limits.countHardLimit, limits.count, "CountLimit"),
            (checkBytes, "bytes", current.bytes + bytesDiff, limits.byteHardLimit, limits.bytes, "ByteLimit"),
        ]
        for (applies, name, newValue, hardLimit, softLimit, limitName) in checks where applies {
            let hard = hardLimit > -1
            let limit = hard ? hardLimit : softLimit
            guard newValue > limit else { continue }
            let message = "Quota exceeded: \(prefix) [current \(name)=\(newValue), \(hard ? "hard" : "soft")\(limitName)=\(limit)]"
            if hard { return .pastHardLimit(message) }
            verdict = .pastSoftLimit(message)
        }
        return verdict
    }

    /// Quotas whose stats node disagrees with the subtree it counts (empty when all agree): the
    /// check recovery and `paddock data verify` make.
    public func quotaStatMismatches() -> [(path: String, stored: String, actual: String)] {
        var mismatches: [(String, String, String)] = []
        for prefix in quotaPrefixes.sorted() {
            guard let statNode = node(Quotas.statPath(prefix)) else { continue }
            let stored = StatsTrack(statNode.data)
            let usage = subtreeUsage(prefix)
            if stored.count != usage.count || stored.bytes != usage.bytes {
                var actual = StatsTrack()
                actual.count = usage.count
                actual.bytes = usage.bytes
                mismatches.append((prefix, stored.text, actual.text))
            }
        }
        return mismatches
    }
}
