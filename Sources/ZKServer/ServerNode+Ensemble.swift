import Dispatch
import Logging
import NIOCore
import NIOPosix
import ZKBase
import ZKConfig
import ZKEnsemble
import ZKFormat
import ZKPipeline
import ZKStorage
import ZKTools
import ZKTree
import ZKWire
import ZKZab

/// The node as an ensemble member: it is the `ZabStore` of its `ZabPeer` (the LMDB log with
/// group commit, the epoch files, the tree as state machine, snapshots for SNAP) and the
/// `ZabServerLayer` above it (the request pipeline's leader and learner halves).
///
/// The log holds txns in ZooKeeper's quorum payload form decoded (TxnHeader + record), each with
/// ZooKeeper's tree digest after it; a txn is durable here before ZAB counts this member's ACK,
/// and applied only when ZAB reports it committed.
extension ServerNode: ZabStore, ZabServerLayer {
    // MARK: - ZabStore

    func load() throws -> ZabPersistentState {
        let directory = dataDirectory.snapshotDirectory
        let applied = core.lastProcessedZxid
        var accepted = try ZabEpochFiles.read(directory: directory, name: ZabEpochFiles.acceptedEpochName)
        var current = try ZabEpochFiles.read(directory: directory, name: ZabEpochFiles.currentEpochName)
        var entries: [ZabEntry] = []
        var cursor = applied
        while true {
            let records = try log.records(after: cursor, limit: 10_000)
            guard let last = records.last else { break }
            for record in records {
                entries.append(ZabEntry(zxid: Zxid(record.txn.zxid), payload: Self.payload(record.txn, digest: record.digest)))
            }
            cursor = last.txn.zxid
        }
        let lastLogged = entries.last?.zxid ?? Zxid(applied)
        // QuorumPeer.loadDataBase: without the files, both epochs are the last logged zxid's.
        if current == nil {
            current = lastLogged.epoch
            try ZabEpochFiles.write(directory: directory, name: ZabEpochFiles.currentEpochName, value: lastLogged.epoch)
        }
        if accepted == nil {
            accepted = current
            try ZabEpochFiles.write(directory: directory, name: ZabEpochFiles.acceptedEpochName, value: current!)
        }
        guard let acceptedEpoch = accepted, let currentEpoch = current, currentEpoch <= acceptedEpoch,
              lastLogged.epoch <= acceptedEpoch
        else {
            throw StartupError(description: "\(directory): currentEpoch \(current ?? -1) and acceptedEpoch \(accepted ?? -1) do not fit the log (last zxid \(lastLogged)); inspect with `paddock data status \(dataDirectory.dataDirectory)`")
        }
        return ZabPersistentState(
            acceptedEpoch: acceptedEpoch, currentEpoch: currentEpoch, logBase: Zxid(applied), appliedZxid: Zxid(applied),
            entries: entries)
    }

    /// The quorum payload of a logged txn. A digest of 0 was not recorded (FORMAT.md section 4: a
    /// ZooKeeper 3.8 leader proposes error txns without a TxnDigest): the payload has none, as the
    /// proposal had. A TxnDigest of 0 would be compared, so this member applying its own log (a
    /// new leader's initial history) and every learner it syncs by DIFF would count a digest
    /// mismatch at each such txn ("Digests are not matching" on a ZooKeeper learner).
    static func payload(_ txn: Txn, digest: UInt64) -> [UInt8] {
        let recorded = digest == LogRecord.digestNotRecorded
            ? nil : ZooKeeperTxnDigest(version: ZooKeeperDigest.version, value: digest)
        return ZooKeeperTxnDecoding.encode(txn, digest: recorded)
    }

    func append(_ entries: [ZabEntry], completion: @escaping @Sendable (Zxid) -> Void) {
        loop.preconditionInEventLoop()
        guard let last = entries.last else { return }
        for entry in entries {
            if let own = ownProposal, own.txn.zxid == entry.zxid.rawValue {
                queueForLog(own)
                ownProposal = nil
                continue
            }
            if let decoded = decodedEntries.removeValue(forKey: entry.zxid.rawValue) {
                queueForLog(LoggedTxn(txn: decoded.txn, digest: decoded.digest ?? 0))
                if appendedTxns.count > ServerNode.outstandingWritesMax * 4 { appendedTxns.removeAll() }  // a bound; apply decodes again
                appendedTxns[decoded.txn.zxid] = decoded  // for `apply`, once committed
                continue
            }
            // Entries loaded at startup (and a leader's initial history) were checked when first logged.
            guard let (txn, digest) = try? ZooKeeperTxnDecoding.decode(entry.payload), txn.zxid == entry.zxid.rawValue else {
                return fail("txn \(entry.zxid) to log does not decode; inspect with `paddock data verify \(dataDirectory.dataDirectory)`")
            }
            queueForLog(LoggedTxn(txn: txn, digest: digest?.value ?? 0))
        }
        appendCompletions.append((zxid: last.zxid, generation: logGeneration, completion: completion))
        // Appends arrive in a read cycle of the quorum socket; the batch goes out at once (the
        // log thread is idle) or joins the next one (group commit).
        submitBatchIfIdle()
    }

    func truncate(after zxid: Zxid) throws {
        dropPendingAppends()
        let log = self.log
        try onLogThread { _ = try log.truncate(after: zxid.rawValue) }
    }

    func saveEpochs(accepted: Int64, current: Int64) throws {
        let directory = dataDirectory.snapshotDirectory
        try ZabEpochFiles.write(directory: directory, name: ZabEpochFiles.acceptedEpochName, value: accepted)
        try ZabEpochFiles.write(directory: directory, name: ZabEpochFiles.currentEpochName, value: current)
    }

    /// A txn from the leader (PROPOSAL, INFORM) must decode as one and carry its own zxid; a
    /// bad one closes the link to that leader (this member elects again) before ZAB logs it.
    /// The decoded txn is kept for `append`, so it is decoded once.
    func checkEntry(_ entry: ZabEntry) -> String? {
        do {
            let (txn, digest) = try ZooKeeperTxnDecoding.decode(entry.payload)
            guard txn.zxid == entry.zxid.rawValue else { return "txn \(Zxid(txn.zxid)) sent as \(entry.zxid)" }
            if decodedEntries.count > ServerNode.outstandingWritesMax * 4 { decodedEntries.removeAll() }
            decodedEntries[txn.zxid] = (txn, digest?.value)
            return nil
        } catch {
            return "undecodable txn \(entry.zxid): \(error.reason)"
        }
    }

    func snapshotSink(_ zxid: Zxid) -> any ZabSnapshotSink {
        logger.info("receiving the leader's snapshot at \(zxid)")
        return ReceivedSnapshotLoader(node: self, zxid: zxid)
    }

    /// SNAP: the log is emptied and anchored at `zxid`, then the tree is written as a snapshot at
    /// `zxid`, then it replaces the state machine. (In that order a crash between the two leaves
    /// a log anchored past every snapshot, which recovery refuses, never a snapshot followed by
    /// an older history's records.)
    func installSnapshot(_ zxid: Zxid, _ snapshot: [UInt8]) throws {
        guard let received = receivedSnapshot.take(), received.zxid == zxid else {
            preconditionFailure("SNAP at \(zxid) reached the core before its stream was read")
        }
        let tree = received.tree
        let file = received.file
        dropPendingAppends()
        snapshotGeneration += 1  // a fuzzy snapshot of the old tree in progress is abandoned
        // Snapshots of this member's own newer state are of a history the leader does not share:
        // gone before the log is reset, so recovery never pairs one with the new log.
        for old in SnapshotFiles.list(directory: dataDirectory.snapshotDirectory) where old.zxid >= zxid.rawValue {
            try PosixFile.removeDurably(old.path, directory: dataDirectory.snapshotDirectory)
        }
        let started = monotonicMs()
        let log = self.log
        try onLogThread { try log.reset(anchoredAt: zxid.rawValue) }
        _ = try file.finish()
        core.replaceTree(tree, monotonicMs: monotonicMs(), into: &outputs)
        logger.info("installed the leader's snapshot at \(zxid): \(tree.nodeCount) znodes, \(tree.sessions.count) sessions, made durable in \(monotonicMs() - started) ms")
        runOutputs()
    }

    func apply(_ entries: [ZabEntry]) {
        let committedAt = monotonicMicroseconds()
        for entry in entries {
            let zxid = entry.zxid.rawValue
            let started = monotonicMicroseconds()
            if let own = core.oldestProposedTxn, own.zxid == zxid {
                core.committed(through: zxid, into: &outputs)
                recordApplied(own, finalProcessingSince: started)
                recordCommittedApplied(local: true, committedAt: committedAt)
                continue
            }
            if let logged = appendedTxns.removeValue(forKey: zxid) {
                let local = core.awaitsCommit(of: logged.txn.header)
                core.applyCommitted(logged.txn, zooKeeperDigest: logged.digest, into: &outputs)
                recordApplied(logged.txn, finalProcessingSince: started)
                recordCommittedApplied(local: local, committedAt: committedAt)
                continue
            }
            do {
                let (txn, digest) = try ZooKeeperTxnDecoding.decode(entry.payload)
                let local = core.awaitsCommit(of: txn.header)
                core.applyCommitted(txn, zooKeeperDigest: digest?.value, into: &outputs)
                recordApplied(txn, finalProcessingSince: started)
                recordCommittedApplied(local: local, committedAt: committedAt)
            } catch {
                // It was decoded when it was logged; this cannot happen.
                preconditionFailure("committed txn \(entry.zxid) no longer decodes: \(error.reason)")
            }
        }
        noteCommitted(entries.count)
        runOutputs()
    }

    func snapshotSource(through zxid: Zxid) -> any ZabSnapshotSource {
        precondition(core.lastProcessedZxid == zxid.rawValue, "SNAP of the tree at \(Zxid(core.lastProcessedZxid)), asked for \(zxid)")
        return TreeSnapshotSource(node: self)
    }

    /// Appends not yet durable are cut (truncate, SNAP): their completions never report.
    func dropPendingAppends() {
        logGeneration += 1
        batch.removeAll()
        batchQueuedMicroseconds.removeAll()
        appendCompletions.removeAll()
        ownProposal = nil
        decodedEntries.removeAll()
        appendedTxns.removeAll()
    }

    /// Runs `body` on the log thread (every LMDB write comes from that one thread) and waits.
    func onLogThread(_ body: @escaping @Sendable () throws -> Void) throws {
        let semaphore = DispatchSemaphore(value: 0)
        let outcome = LogThreadOutcome()
        logThread.submit { _ in
            do { try body() } catch { outcome.error = error }
            semaphore.signal()
        }
        semaphore.wait()
        if let error = outcome.error { throw error }
    }

    // MARK: - ZabServerLayer

    func zabRoleChanged(_ role: ZabRole) {
        noteLeaderTerm(from: zabRole, to: role)
        zabRole = role
        noteRoleTimings(role)
        let mode: ReplicationMode
        var firstLeaderZxid: Int64?
        switch role {
        case .leading(let epoch, true):
            mode = .leader
            firstLeaderZxid = Zxid.epochStart(epoch).rawValue
            precondition(peer.map { $0.appliedZxid == $0.lastLoggedZxid } ?? true, "a new leader applied its whole initial history")
        case .following(_, true), .observing(_, true):
            mode = .learner
        default:
            mode = .notServing
        }
        guard mode != core.replication || mode == .leader else { return }
        logger.info("serving as \(mode) (ZAB: \(role))")
        core.changeReplication(to: mode, firstLeaderZxid: firstLeaderZxid, monotonicMs: monotonicMs(), into: &outputs)
        runOutputs()
    }

    func zabSessionAction(_ action: ZabAction) {
        switch action {
        case .prepare(let request, _):
            let started = monotonicMicroseconds()
            core.prepareForwarded(
                ForwardedClientRequest(sessionId: request.sessionId, cxid: request.cxid, type: request.type, body: request.body,
                                       authInfo: request.authInfo ?? []),
                nowMs: wallClockMs(), monotonicMs: monotonicMs(), into: &outputs)
            if let opCode = OpCode(rawValue: request.type) {
                recordPrep(opCode, nanoseconds: max(0, monotonicMicroseconds() - started) &* 1000)
            }
        case .syncDone(let request):
            core.syncDone(sessionId: request.sessionId, cxid: request.cxid, into: &outputs)
        case .requestRefused(let request, let reason):
            core.forwardFailed(sessionId: request.sessionId, cxid: request.cxid, reason: reason, into: &outputs)
        case .sessionsTouched(let touches, _):
            core.sessionsTouched(touches.map { ($0.sessionId, $0.timeoutMs) }, monotonicMs: monotonicMs())
        case .revalidateSession(let touch, let link, _):
            statistics.counters.revalidateCount += 1
            metrics.revalidateCount.increment()
            let valid = core.revalidate(sessionId: touch.sessionId, timeoutMs: touch.timeoutMs, monotonicMs: monotonicMs())
            peer?.input(.revalidationAnswer(link: link, sessionId: touch.sessionId, valid: valid))
        case .revalidationDone(let sessionId, let valid):  // valid nil: the leader could not be asked
            core.revalidated(sessionId: sessionId, valid: valid, into: &outputs)
        case .writeRefused(let reason):
            // The pipeline numbered this txn and everything after it as if it would be proposed:
            // take them back as a failed log write would be (their clients get SystemError).
            logger.warning("ZAB refused a proposal: \(reason)")
            if let zxid = proposingZxid {
                core.persistFailed(from: zxid, nowMs: wallClockMs(), monotonicMs: monotonicMs(), into: &outputs)
            }
        default:
            break
        }
        runOutputs()
    }

    func noteRoleTimings(_ role: ZabRole) {
        let now = monotonicMicroseconds()
        switch role {
        case .looking:
            lookingSinceMicroseconds = now
            syncingSinceMicroseconds = nil
            // ZooKeeper's QuorumPeer counts each election (looking_count), and the member is
            // unavailable from the first one until it serves again (unavailable_time).
            statistics.counters.lookingCount += 1
            metrics.lookingCount.increment()
            if unavailableSinceMicroseconds == nil { unavailableSinceMicroseconds = now }
        case .leading(_, false), .following(_, false), .observing(_, false):
            if let since = lookingSinceMicroseconds {
                metrics.electionTime.recordNanoseconds((now - since) &* 1000)
            }
            lookingSinceMicroseconds = nil
            syncingSinceMicroseconds = now
        case .leading(_, true), .following(_, true), .observing(_, true):
            if let since = unavailableSinceMicroseconds {
                metrics.unavailableTime.recordNanoseconds((now - since) &* 1000)
                if case .leading = role { metrics.leaderUnavailableTime.recordNanoseconds((now - since) &* 1000) }
                unavailableSinceMicroseconds = nil
            }
            guard let since = syncingSinceMicroseconds else { return }
            let nanoseconds = (now - since) &* 1000
            switch role {
            case .leading:
                metrics.leaderSyncTime.recordNanoseconds(nanoseconds)
            case .following:
                metrics.followerSyncTime.recordNanoseconds(nanoseconds)
            default:
                metrics.observerSyncTime.recordNanoseconds(nanoseconds)
            }
            syncingSinceMicroseconds = nil
        }
    }

    /// ZooKeeper makes a Leader for each term it leads: its proposal sizes start empty, and its
    /// uptime runs from when it began serving (Leader.lead sets leaderStartTime before
    /// zk.startup()).
    func noteLeaderTerm(from old: ZabRole, to new: ZabRole) {
        switch (old, new) {
        case (.leading(_, true), .leading(_, true)):
            break
        case (.leading(_, false), .leading(_, true)):
            leaderStartedMs = monotonicMs()
        case (_, .leading(_, let established)):
            proposalSizes = BufferStats()
            leaderStartedMs = established ? monotonicMs() : nil
        default:
            leaderStartedMs = nil
        }
    }

    /// The leader's proposal sizes while it serves (srvr's "Proposal sizes", mntr's
    /// last/min/max_proposal_size, the admin server's proposal_stats); nil on any other member.
    var leaderProposalSizes: BufferStats? {
        guard peer?.leaderStatus != nil, case .leading(_, true) = zabRole else { return nil }
        return proposalSizes
    }

    /// mntr's zk_peer_state (QuorumZooKeeperServer.dumpMonitorValues); nil when standalone.
    var ensemblePeerState: String? {
        guard peer != nil else { return nil }
        switch zabRole {
        case .looking: return "looking"
        case .leading(_, let established): return "leading - " + (established ? "broadcast" : "synchronization")
        case .following(_, let established): return "following - " + (established ? "broadcast" : "synchronization")
        case .observing(_, let established): return "observing - " + (established ? "broadcast" : "synchronization")
        }
    }

    /// An ensemble member's gauges (ZooKeeper 3.8's names; published as gauges too): quorum_size
    /// on every member, the leader's learner figures (LeaderZooKeeperServer.registerMetrics).
    var ensembleGaugeRows: [(String, String)] {
        guard let peer else { return [] }
        var rows: [(String, String)] = [("zk_quorum_size", "\(peer.configuration.voters.count)")]
        if let leader = peer.leaderStatus {
            rows.append(("zk_learners", "\(leader.learners)"))
            rows.append(("zk_synced_followers", "\(leader.syncedFollowers)"))
            rows.append(("zk_synced_non_voting_followers", "0"))
            rows.append(("zk_synced_observers", "\(leader.syncedObservers)"))
            rows.append(("zk_pending_syncs", "\(leader.pendingSyncs)"))
            // Leader.getUptime: 0 until it serves.
            rows.append(("zk_leader_uptime", "\(leaderStartedMs.map { max(0, monotonicMs() - $0) } ?? 0)"))
            rows.append(("zk_last_proposal_size", "\(proposalSizes.last)"))
            rows.append(("zk_max_proposal_size", "\(proposalSizes.maximum)"))
            rows.append(("zk_min_proposal_size", "\(proposalSizes.minimum)"))
        }
        return rows
    }

    /// Carries out the core's replication outputs (from `runOutputs`).
    func runReplicationOutput(_ output: CoreOutput) {
        guard let peer else {
            preconditionFailure("a standalone core made a replication output: \(output)")
        }
        switch output {
        case .replicate(let txn, let digest):
            let entry = ZabEntry(zxid: Zxid(txn.zxid), payload: Self.payload(txn, digest: digest))
            // A txn after one ZAB refused was taken back with it (persistFailed): not proposed.
            guard core.oldestProposedZxid.map({ $0 <= txn.zxid }) ?? false else { return }
            ownProposal = LoggedTxn(txn: txn, digest: digest)
            proposingZxid = txn.zxid
            let started = monotonicMicroseconds()
            peer.input(.propose(entry))
            metrics.proposalProcessTime.recordNanoseconds(max(0, monotonicMicroseconds() - started) &* 1000)
            proposingZxid = nil
            // Refused (persistFailed took it back) unless the core still counts it proposed.
            if core.lastProposedZxid >= txn.zxid {
                statistics.counters.proposalCount += 1
                metrics.proposalCount.increment()
                proposalSizes.record(Int64(entry.payload.count))
            }
        case .forward(let request):
            peer.input(.request(ForwardedRequest(
                sessionId: request.sessionId, cxid: request.cxid, type: request.type, body: request.body, authInfo: request.authInfo)))
        case .sessionActive(let sessionId, let timeoutMs):
            peer.input(.touch(SessionTouch(sessionId: sessionId, timeoutMs: timeoutMs)))
        case .revalidate(let sessionId, let timeoutMs):
            peer.input(.revalidate(SessionTouch(sessionId: sessionId, timeoutMs: timeoutMs)))
        default:
            break
        }
    }

    /// "leader", "follower", "observer" — or nil while electing or syncing (srvr's Mode line).
    var ensembleModeName: String? {
        switch zabRole {
        case .leading(_, true): return "leader"
        case .following(_, true): return "follower"
        case .observing(_, true): return "observer"
        default: return nil
        }
    }
}

final class LogThreadOutcome: @unchecked Sendable {
    var error: (any Error)?
    var path = ""
}

extension ZabConfiguration {
    /// The core's configuration from zoo.cfg: the ZAB tick is a tenth of tickTime, between 10 and
    /// 50 ms, so initLimit/syncLimit become 10 or more ticks per zoo.cfg tick; election waits are
    /// FastLeaderElection's 200 ms finalize and resend and its 60 s resend ceiling, and a learner
    /// retries the leader's quorum port after 100 ms as ZooKeeper does.
    public static func fromZooCfg(_ configuration: ServerConfiguration, myId: Int64) -> (configuration: ZabConfiguration, tickMs: Int64) {
        let tickMs = max(10, min(50, Int64(configuration.tickTimeMs) / 10))
        func ticks(_ milliseconds: Int64) -> Int { max(1, Int((milliseconds + tickMs - 1) / tickMs)) }
        var zab = ZabConfiguration(
            myId: myId, voters: configuration.participants.map(\.id), observers: configuration.observers.map(\.id),
            initLimitTicks: ticks(Int64(configuration.initLimitTicks * configuration.tickTimeMs)),
            syncLimitTicks: ticks(Int64(configuration.syncLimitTicks * configuration.tickTimeMs)),
            pingIntervalTicks: ticks(Int64(configuration.tickTimeMs / 2)),
            electionFinalizeTicks: ticks(200), electionResendTicksMin: ticks(200), electionResendTicksMax: ticks(60_000),
            // Every member throttles its clients at ServerNode.outstandingWritesMax writes in
            // flight, so the leader never refuses a proposal below this.
            limits: ZabLimits(proposalsInFlightMax: max(10_000, (configuration.servers.count + 1) * ServerNode.outstandingWritesMax)),
            learnerConnectRetryTicks: ticks(100))
        if configuration.leaderEpochWaitMsMax >= 0 { zab.epochWaitTicksMax = Int(Int64(configuration.leaderEpochWaitMsMax) / tickMs) }
        return (zab, tickMs)
    }
}

/// A leader's snapshot stream read from the live tree a part per turn of the loop (fuzzy from
/// the zxid it began at; see `ZooKeeperSnapshotStreamWriter`).
final class TreeSnapshotSource: ZabSnapshotSource {
    unowned let node: ServerNode
    var writer: ZooKeeperSnapshotStreamWriter
    let generation: Int
    let partNodes: Int

    init(node: ServerNode) {
        self.node = node
        writer = ZooKeeperSnapshotStreamWriter(tree: node.core.tree)
        generation = node.snapshotGeneration
        partNodes = node.peer?.configuration.limits.snapshotPartNodes ?? ZabLimits().snapshotPartNodes
    }

    func nextPart() throws -> ByteBuffer? {
        node.loop.preconditionInEventLoop()
        guard node.snapshotGeneration == generation else {
            throw StartupError(description: "the tree was replaced (this member received a snapshot) while it was being sent")
        }
        return writer.nextChunk(of: node.core.tree, nodesMax: partNodes)
    }
}

/// A learner's reader of the leader's snapshot stream: builds the tree as bytes arrive (every
/// item checked as it comes) and writes it as this member's snapshot file on the snapshot thread
/// meanwhile (finished and renamed into place by `installSnapshot`, after the log is reset). The
/// finished tree waits in `receivedSnapshot` for the core's `installSnapshot`.
///
/// That file is written uncompressed: it is written while the stream is read, and compressing
/// would add a third CPU-bound thread to the learner's sync (the leader's stream at the other
/// end is already one); the next regular snapshot is compressed, and retention removes this one.
final class ReceivedSnapshotLoader: ZabSnapshotSink {
    unowned let node: ServerNode
    var loader: ZooKeeperSnapshotStreamLoader
    let startedMs: Int64
    let file: ReceivedSnapshotFile

    init(node: ServerNode, zxid: Zxid) {
        self.node = node
        loader = ZooKeeperSnapshotStreamLoader(zxid: zxid.rawValue)
        loader.keepsLoadedNodes = true
        startedMs = monotonicMs()
        file = ReceivedSnapshotFile(directory: node.dataDirectory.snapshotDirectory, zxid: zxid.rawValue, thread: node.snapshotThread)
    }

    var snapshotBytes: [UInt8] { [] }

    func consume(_ buffer: inout ByteBuffer) throws -> Bool {
        let finished = try loader.consume(&buffer)
        let nodes = loader.takeLoadedNodes()
        if !nodes.isEmpty || finished { file.write(sessions: loader.sessions, nodes: nodes) }
        guard finished else { return false }
        let bytes = loader.streamBytes
        let zxid = Zxid(loader.zxid)
        let tree = loader.takeTree()
        node.logger.info("read the leader's snapshot at \(zxid): \(tree.nodeCount) znodes, \(bytes) bytes in \(monotonicMs() - startedMs) ms")
        node.receivedSnapshot = (zxid, tree, file)
        return true
    }
}

/// The snapshot file a learner writes from a leader's stream, on the node's snapshot thread (one
/// job per read of the socket, in order). Released unfinished (the stream broke off), the writer
/// removes its temporary file.
final class ReceivedSnapshotFile: @unchecked Sendable {
    let thread: NIOThreadPool
    let directory: String
    let zxid: Int64
    /// Touched on the snapshot thread only.
    private var writer: SnapshotWriter?
    private var failure: (any Error)?

    init(directory: String, zxid: Int64, thread: NIOThreadPool) {
        self.thread = thread
        self.directory = directory
        self.zxid = zxid
    }

    func write(sessions: [Int64: Int32], nodes: [(path: String, node: DataNode)]) {
        let batch = SnapshotSlice(nodes: nodes)
        thread.submit { _ in
            guard self.failure == nil else { return }
            do {
                if self.writer == nil {
                    let writer = try SnapshotWriter(directory: self.directory, startZxid: self.zxid, startTimeMs: wallClockMs(), level: 0)
                    try writer.writeSessions(sessions.sorted { $0.key < $1.key }.map { (id: $0.key, timeoutMs: $0.value) })
                    self.writer = writer
                }
                for entry in batch.nodes { try self.writer?.writeNode(path: entry.path, node: entry.node) }
            } catch {
                self.failure = error
                self.writer = nil
            }
        }
    }

    /// Waits for every write, then makes the file durable under its final name. Its content is
    /// the stream's tree (fuzzy past `zxid`), recorded as ending at `zxid`: ZooKeeper's stream
    /// does not say where the leader's walk ended (docs/GUARANTEES.md, SNAP).
    func finish() throws -> String {
        let semaphore = DispatchSemaphore(value: 0)
        let outcome = LogThreadOutcome()
        thread.submit { _ in
            do {
                if let failure = self.failure { throw failure }
                guard let writer = self.writer else { throw StartupError(description: "the received snapshot was never written") }
                outcome.path = try writer.finish(endZxid: self.zxid).path
                self.writer = nil
            } catch {
                outcome.error = error
            }
            semaphore.signal()
        }
        semaphore.wait()
        if let error = outcome.error { throw error }
        return outcome.path
    }
}
