import CMalloc
import Logging
import NIOCore
import NIOPosix
import ZKBase
import ZKFormat
import ZKStorage
import ZKTree

/// The snapshot writer lives on the snapshot thread only; this box carries it between hops.
final class SnapshotJob: @unchecked Sendable {
    var writer: SnapshotWriter?
    let startZxid: Int64
    /// The node's snapshotGeneration when the walk began: a tree replaced since (SNAP) ends it.
    let generation: Int

    init(startZxid: Int64, generation: Int) {
        self.startZxid = startZxid
        self.generation = generation
    }
}

/// A slice of nodes handed from the node loop to the snapshot thread.
struct SnapshotSlice: @unchecked Sendable {
    var nodes: [(path: String, node: DataNode)]
}

extension ServerNode {
    /// Nodes copied out of the tree per event-loop turn (copies share data buffers).
    static let snapshotSliceNodes = 2000

    func noteCommitted(_ count: Int) {
        txnsSinceSnapshot += count
        if txnsSinceSnapshot >= snapshotThreshold && !snapshotInProgress { startSnapshot() }
    }

    /// ZooKeeper's rule: snapCount/2 + random(snapCount/2), so servers do not snapshot together.
    static func nextSnapshotThreshold(snapCount: Int) -> Int {
        let half = max(1, snapCount / 2)
        return half + Int.random(in: 0..<half)
    }

    /// Starts a fuzzy snapshot: S = last applied zxid now; the walk runs in slices between
    /// applies, compression and writing run on the snapshot thread, one slice in flight at a time.
    func startSnapshot() {
        snapshotInProgress = true
        txnsSinceSnapshot = 0
        snapshotThreshold = Self.nextSnapshotThreshold(snapCount: configuration.transactionsPerSnapshot)
        let job = SnapshotJob(startZxid: core.lastProcessedZxid, generation: snapshotGeneration)
        let sessions = core.tree.sessions.sorted { $0.key < $1.key }.map { (id: $0.key, timeoutMs: $0.value) }
        let directory = dataDirectory.snapshotDirectory
        let level = snapshotLevel
        let startedMs = wallClockMs()
        snapshotStartedMicroseconds = monotonicMicroseconds()
        snapshotWalk = FuzzySnapshotWalk()
        snapshotThread.runIfActive(eventLoop: loop) { () throws -> Void in
            let writer = try SnapshotWriter(directory: directory, startZxid: job.startZxid, startTimeMs: startedMs, level: level)
            try writer.writeSessions(sessions)
            job.writer = writer
        }.whenComplete { [self] result in
            switch result {
            case .success: continueSnapshot(job)
            case .failure(let error): snapshotFailed(job, error)
            }
        }
    }

    private func continueSnapshot(_ job: SnapshotJob) {
        guard job.generation == snapshotGeneration else {
            return snapshotFailed(job, StartupError(description: "the tree was replaced by the leader's snapshot during the walk"))
        }
        let slice = SnapshotSlice(nodes: snapshotWalk.nextSlice(of: core.tree, nodesMax: Self.snapshotSliceNodes))
        if slice.nodes.isEmpty && snapshotWalk.isFinished {
            finishSnapshot(job, nodeCount: snapshotWalk.visitedCount)
            return
        }
        snapshotThread.runIfActive(eventLoop: loop) { () throws -> Void in
            for entry in slice.nodes { try job.writer?.writeNode(path: entry.path, node: entry.node) }
        }.whenComplete { [self] result in
            switch result {
            case .success: continueSnapshot(job)
            case .failure(let error): snapshotFailed(job, error)
            }
        }
    }

    private func finishSnapshot(_ job: SnapshotJob, nodeCount: Int) {
        guard job.generation == snapshotGeneration else {
            return snapshotFailed(job, StartupError(description: "the tree was replaced by the leader's snapshot during the walk"))
        }
        let endZxid = core.lastProcessedZxid
        snapshotThread.runIfActive(eventLoop: loop) { () throws -> String in
            guard let writer = job.writer else { return "" }
            let (path, _) = try writer.finish(endZxid: endZxid)
            // The walk's transient stack and slices (a path per child of a wide parent) leave
            // freed chunks between live nodes; glibc keeps them in its arenas until told to give
            // whole free pages back. Measured on 1M znodes: about 60 MB of RSS.
            _ = malloc_trim(0)
            return path
        }.whenComplete { [self] result in
            snapshotInProgress = false
            switch result {
            case .success(let path):
                let elapsedMs = (monotonicMicroseconds() - snapshotStartedMicroseconds) / 1000
                statistics.snapshotCount += 1
                statistics.snapshotLastMs = elapsedMs
                metrics.snapshotTime.recordMilliseconds(elapsedMs)
                logger.info("snapshot \(path): \(nodeCount) nodes, zxids \(ZxidMath.hex(job.startZxid))...\(ZxidMath.hex(endZxid)), \(elapsedMs) ms")
                // With autopurge on, retention also runs after every snapshot (as well as on its
                // timer), so the log never holds much more than the kept snapshots need.
                if configuration.autopurgeIntervalHours > 0 { purge() }
            case .failure(let error):
                snapshotFailed(job, error)
            }
        }
    }

    private func snapshotFailed(_ job: SnapshotJob, _ error: any Error) {
        snapshotInProgress = false
        logger.error("snapshot at zxid \(ZxidMath.hex(job.startZxid)) failed and was abandoned: \(error)")
        snapshotThread.runIfActive(eventLoop: loop) { job.writer?.abandon() }.whenComplete { _ in }
    }

    // MARK: - Retention (autopurge)

    /// Keeps the newest `autopurge.snapRetainCount` snapshots; removes older ones and the log
    /// records only they needed (those with zxid <= the oldest kept snapshot's start zxid).
    func purge() {
        let keep = max(3, configuration.autopurgeSnapshotRetainCount)
        let snapshots = SnapshotFiles.list(directory: dataDirectory.snapshotDirectory)
        guard snapshots.count > keep else { return }
        let oldestKept = snapshots[keep - 1].zxid
        let removable = snapshots[keep...].map(\.path)
        let log = self.log
        // Off the log thread: a purge of many records must not hold up the next log batch.
        snapshotThread.runIfActive(eventLoop: loop) { () throws -> Void in
            try log.purge(through: oldestKept)
            for path in removable { _ = unlink(path) }
        }.whenComplete { [self] result in
            switch result {
            case .success:
                logger.info("purged \(removable.count) snapshots and the log through zxid \(ZxidMath.hex(oldestKept))")
            case .failure(let error):
                logger.error("purge failed: \(error)")
            }
        }
    }
}
