import Foundation
import ZKBase
import ZKFormat
import ZKPipeline

/// The figures behind the four-letter words and the admin server's commands. Each is computed
/// here once; `FourLetterWords` renders them as ZooKeeper's text, `AdminCommands` as its JSON.
/// Everything runs on the node loop (the caller's handler lives there).

/// One client socket as `cons` / `stat` (and the admin `connections` / `stats`) describe it.
struct ConnectionReport {
    var address: String
    var port: Int
    var queuedRequests: Int
    var packetsReceived: Int64
    var packetsSent: Int64
    /// NIO's interest set as ZooKeeper reports it: 1 (OP_READ) while reading, 0 while paused.
    var interestOps: Int
    var sessionId: Int64
    var lastOperation: String
    var establishedMs: Int64
    var sessionTimeoutMs: Int
    var lastCxid: Int32
    var lastZxid: Int64
    var lastResponseTimeMs: Int64
    var lastLatencyMs: Int64
    var latencyMinMs: Int64
    var latencyAverageMs: Int64
    var latencyMaxMs: Int64
}

/// `wchs`: connections with a watch, watched paths, watches in total.
struct WatchSummary {
    var connections: Int
    var paths: Int
    var watches: Int
}

/// The newest snapshot file: ZooKeeper's SnapshotInfo (zxid, and its time in seconds).
struct SnapshotSummary {
    var zxid: Int64
    var timestampSeconds: Int64
}

extension ServerNode {
    /// False while an ensemble member elects or syncs: ZooKeeper then has no running server, and
    /// most commands answer that it is not serving.
    var isServing: Bool { myId == nil || ensembleModeName != nil }

    /// Client sockets in connection order.
    var connectionReports: [ConnectionReport] {
        connections.keys.sorted().compactMap { id -> ConnectionReport? in
            guard let entry = connections[id] else { return nil }
            let stats = entry.statistics
            let session = core.sessionId(of: id) ?? 0
            return ConnectionReport(
                address: entry.address, port: entry.port, queuedRequests: core.queuedRequestCount(of: id),
                packetsReceived: stats.received, packetsSent: stats.sent, interestOps: entry.readingPaused ? 0 : 1,
                sessionId: session, lastOperation: stats.lastOperation, establishedMs: stats.establishedMs,
                sessionTimeoutMs: Int(core.sessions.sessions[session]?.timeoutMs ?? core.tree.sessions[session] ?? 0),
                lastCxid: stats.lastCxid, lastZxid: stats.lastZxid, lastResponseTimeMs: stats.lastResponseMonotonicMs == 0 ? 0 : stats.lastResponseMonotonicMs + wallMinusMonotonicMs,
                lastLatencyMs: stats.lastLatencyMs, latencyMinMs: stats.latencyCount == 0 ? 0 : stats.latencyMinMs,
                latencyAverageMs: stats.latencyCount == 0 ? 0 : stats.latencyTotalMs / stats.latencyCount,
                latencyMaxMs: stats.latencyMaxMs)
        }
    }

    /// The session tracker's expiry buckets, earliest first, sessions sorted in each. A learner
    /// has none (ZooKeeper's LearnerSessionTracker returns an empty map).
    var sessionExpiryGroups: [(expiryMs: Int64, sessionIds: [Int64])] {
        guard core.replication != .learner else { return [] }
        let sessions = core.sessions.sessions.values.sorted { $0.id < $1.id }
        let byExpiry = Dictionary(grouping: sessions, by: { $0.expirationMs })
        return byExpiry.keys.sorted().map { expiry in (expiry, (byExpiry[expiry] ?? []).map(\.id)) }
    }

    /// A learner's own clients' global sessions with their timeouts (its `dump`).
    var learnerSessions: [(sessionId: Int64, timeoutMs: Int)] {
        let local = Set(connections.keys.compactMap { core.sessionId(of: $0) }.filter { $0 != 0 })
        return local.sorted().map { ($0, Int(core.tree.sessions[$0] ?? 0)) }
    }

    /// Ephemeral znodes by owner session, both sorted.
    var ephemeralPathsBySession: [(sessionId: Int64, paths: [String])] {
        let ephemerals = core.tree.ephemerals
        return ephemerals.keys.sorted().map { ($0, (ephemerals[$0]?.elements ?? []).sorted()) }
    }

    /// Watched paths by watching session, both sorted. Data watches only, as ZooKeeper 3.8's
    /// wchc/wchp and their admin commands (DataTree.dumpWatches reads the data-watch manager).
    var watchedPathsBySession: [(sessionId: Int64, paths: [String])] {
        let watches = core.tree.dataWatches
        return watches.allWatchers.sorted().map { watcher in
            (core.sessionId(of: watcher) ?? 0, watches.paths(of: watcher).sorted())
        }
    }

    /// Watching sessions by watched path (data watches only, as above).
    var watchingSessionsByPath: [(path: String, sessionIds: [Int64])] {
        let watches = core.tree.dataWatches
        return watches.allPaths.sorted().map { path in
            (path, watches.watchers(of: path).sorted().map { core.sessionId(of: $0) ?? 0 })
        }
    }

    /// wchs: ZooKeeper's dumpWatchesSummary over the data-watch manager; a connection counts
    /// until it closes, even after its watches fired (WatchManager.watcherCount).
    var watchSummary: WatchSummary {
        let watches = core.tree.dataWatches
        return WatchSummary(connections: watches.watcherCount, paths: watches.pathCount, watches: watches.watchCount)
    }

    /// `hash`: the current state's zxid and ZooKeeper-compatible tree digest.
    var currentDigest: (zxid: Int64, digest: Int64) {
        (core.tree.lastProcessedZxid, Int64(bitPattern: core.tree.zooKeeperDigest))
    }

    /// The newest snapshot file by name (highest start zxid), nil when there is none.
    var lastSnapshot: SnapshotSummary? {
        guard let newest = SnapshotFiles.list(directory: dataDirectory.snapshotDirectory).first else { return nil }
        let attributes = try? FileManager.default.attributesOfItem(atPath: newest.path)
        let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return SnapshotSummary(zxid: newest.zxid, timestampSeconds: Int64(modified))
    }

    /// `envi`'s entries, in ZooKeeper's order; the Java-only ones are left out (Paddock has no JVM).
    var environmentEntries: [(String, String)] {
        let process = ProcessInfo.processInfo
        let memoryMb = process.physicalMemory / 1_048_576
        return [
            ("zookeeper.version", FourLetterWords.version),
            ("host.name", process.hostName),
            ("java.version", "n/a (Paddock, Swift)"),
            ("os.name", "Linux"),
            ("os.arch", FourLetterWords.architecture),
            ("os.version", process.operatingSystemVersionString),
            ("user.name", process.environment["USER"] ?? String(getuid())),
            ("user.home", process.environment["HOME"] ?? "/"),
            ("user.dir", FileManager.default.currentDirectoryPath),
            ("os.memory.free", "0MB"),
            ("os.memory.max", "\(memoryMb)MB"),
            ("os.memory.total", "\(memoryMb)MB"),
        ]
    }
}
