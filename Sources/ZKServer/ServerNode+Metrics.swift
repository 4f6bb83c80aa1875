import Metrics
import NIOCore
import ZKBase
import ZKPipeline
import ZKStorage
import ZKWire
import ZKZab

/// Where the node's figures reach swift-metrics (`ServerMetrics`): each is recorded where it is
/// produced, beside the mntr statistics of the same figure. Everything runs on the node loop.
extension ServerNode {
    /// A reply to a client request left: ZooKeeper's readlatency or updatelatency (a request with
    /// a txn, including a write that failed), from receipt to reply.
    @inline(__always)
    func recordReply(latencyMicroseconds: Int64, isUpdate: Bool) {
        statistics.recordLatency(latencyMicroseconds / 1000)
        if isUpdate {
            metrics.updateLatency.recordNanoseconds(latencyMicroseconds &* 1000)
        } else {
            metrics.readLatency.recordNanoseconds(latencyMicroseconds &* 1000)
        }
    }

    /// srst (and the admin server's stat_reset): ServerStats.reset, which in ZooKeeper 3.8 also
    /// resets its metrics: mntr's counters and summaries start again (the swift-metrics backend's
    /// values are not reset, as ZooKeeper's Prometheus provider does not reset).
    func resetServerStatistics() {
        statistics.reset()
        metrics.tally.reset()
    }

    /// Recovery's figures, once (ZooKeeper's dbinittime and startup_* summaries).
    func recordStartupMetrics() {
        metrics.databaseInitTime.recordMilliseconds(recovery.elapsedMs)
        metrics.startupTxnsLoaded.record(recovery.txnsReplayed)
        metrics.startupTxnsLoadTime.recordMilliseconds(recovery.replayMs)
        metrics.startupSnapLoadTime.recordMilliseconds(recovery.snapshotLoadMs)
    }

    /// mntr's gauges under ZooKeeper's names (without `zk_`), as ZooKeeper samples its gauges:
    /// before each /metrics scrape and once a tick. Its counters and summaries are recorded
    /// where they happen instead.
    func publishGauges() {
        for (key, value) in FourLetterWords.monitorGaugeRows(self) {
            let name = String(key.dropFirst("zk_".count))
            guard let number = Double(value) else { continue }
            let gauge: Gauge
            if let existing = gauges[name] {
                gauge = existing
            } else {
                gauge = metrics.gauge(name)
                gauges[name] = gauge
            }
            gauge.record(number)
        }
    }
}

// MARK: - Request stages (ZooKeeper's processor metrics, mapped onto Paddock's pipeline)

extension ServerNode {
    /// A txn goes to the log queue (`batch`): ZooKeeper's sync_processor_request_queued. The
    /// queue is Paddock's counterpart of SyncRequestProcessor's: it waits there while the
    /// previous batch is written (group commit).
    @inline(__always)
    func queueForLog(_ logged: LoggedTxn) {
        batch.append(logged)
        batchQueuedMicroseconds.append(monotonicMicroseconds())
        statistics.counters.syncProcessorRequestQueued += 1
        metrics.syncProcessorRequestQueued.increment()
    }

    /// The log thread takes a batch: sync_processor_queue_time_ms is, per txn, the time from
    /// being queued to its batch being handed to the log thread.
    /// sync_processor_queue_size: per txn, how many were queued behind it when the log took it
    /// (ZooKeeper takes its queue one request at a time, recording the queue's size before each:
    /// a lone txn records 0).
    func recordLogQueueTimes(_ queued: [Int64], takenAt taken: Int64) {
        for queuedAt in queued { metrics.syncProcessorQueueTime.recordNanoseconds(max(0, taken - queuedAt) &* 1000) }
        for behind in stride(from: queued.count - 1, through: 0, by: -1) { metrics.syncProcessorQueueSize.record(behind) }
    }

    /// A batch is durable: sync_processor_queue_flush_time_ms is the batch's write and fsync
    /// (once per batch, as ZooKeeper's flush), sync_processor_queue_and_flush_time_ms per txn the
    /// time from being queued to durable.
    func recordLogFlushed(_ queued: [Int64], flushStartedAt started: Int64) {
        let now = monotonicMicroseconds()
        metrics.syncProcessorQueueFlushTime.recordNanoseconds(max(0, now - started) &* 1000)
        for queuedAt in queued { metrics.syncProcessorQueueAndFlushTime.recordNanoseconds(max(0, now - queuedAt) &* 1000) }
    }

    /// A request was handled by the core's `receive` (`since`: just before). A write's is its
    /// prep (ZooKeeper's prep_process_time; close_session_prep_time for a closeSession) where
    /// this server preps (standalone, leader); a read's is its execution and reply
    /// (read_final_proc_time_ms: Paddock runs a read in the call that receives it, or, queued
    /// behind this session's writes, when they are applied).
    @inline(__always)
    func recordPrepOrRead(_ request: ClientRequest, since started: Int64) {
        guard request.xid >= 0 else { return }  // pings, auth, setWatches
        let nanoseconds = max(0, monotonicMicroseconds() - started) &* 1000
        guard let opCode = request.opCode, opCode.isWrite else {
            return metrics.readFinalProcTime.recordNanoseconds(nanoseconds)
        }
        guard core.replication == .standalone || core.replication == .leader else { return }
        recordPrep(opCode, nanoseconds: nanoseconds)
    }

    func recordPrep(_ opCode: OpCode, nanoseconds: Int64) {
        metrics.prepProcessTime.recordNanoseconds(nanoseconds)
        if opCode == .closeSession { metrics.closeSessionPrepTime.recordNanoseconds(nanoseconds) }
    }

    /// Standalone: a batch is durable; its txns are applied and answered one by one
    /// (ZooKeeper's FinalRequestProcessor), each timed as write_final_proc_time_ms.
    func applyDurable(_ records: [LoggedTxn]) {
        for record in records {
            let started = monotonicMicroseconds()
            core.committed(through: record.txn.zxid, into: &outputs)
            recordApplied(record.txn, finalProcessingSince: started)
        }
    }

    /// A committed txn was applied to the tree here (`started`: before): write_final_proc_time_ms
    /// (applying it and making its replies and notifications), propagation_latency (from the
    /// leader making it), write_per_namespace; a leader's commit_count and quorum_ack_latency
    /// (it was committed because a quorum ACKed it); a learner's commit_propagation_latency.
    func recordApplied(_ txn: Txn, finalProcessingSince started: Int64) {
        metrics.writeFinalProcTime.recordNanoseconds(max(0, monotonicMicroseconds() - started) &* 1000)
        let latencyMs = wallClockMs() - txn.header.time
        if latencyMs >= 0 { metrics.propagationLatency.recordMilliseconds(latencyMs) }
        switch zabRole {
        case .leading where peer != nil:
            statistics.counters.commitCount += 1
            metrics.commitCount.increment()
            if latencyMs >= 0 { metrics.quorumAckLatency.recordMilliseconds(latencyMs) }
        case .following, .observing:
            if latencyMs >= 0 { metrics.commitPropagationLatency.recordMilliseconds(latencyMs) }
        default:
            break
        }
        recordWrites(txn.body)
    }

    /// ZAB committed a txn at `committedAt` and it is now applied: local_write_committed_time_ms
    /// for a write of this server's own clients (a leader preps every write it proposes, as
    /// ZooKeeper's leader passes learners' requests through its own CommitProcessor),
    /// server_write_committed_time_ms for one another member's client made. A standalone server
    /// has no commit step (ZooKeeper's has no CommitProcessor) and records neither.
    func recordCommittedApplied(local: Bool, committedAt: Int64) {
        let nanoseconds = max(0, monotonicMicroseconds() - committedAt) &* 1000
        if local {
            metrics.localWriteCommittedTime.recordNanoseconds(nanoseconds)
        } else {
            metrics.serverWriteCommittedTime.recordNanoseconds(nanoseconds)
        }
    }

    /// An ensemble member's batch is durable: its ACKs are made (proposal_ack_creation_latency,
    /// from the leader making each txn).
    func recordAcksMade(_ records: [LoggedTxn]) {
        let now = wallClockMs()
        for record in records where now >= record.txn.header.time {
            metrics.proposalAckCreationLatency.recordMilliseconds(now - record.txn.header.time)
        }
        // The leader's own ACK counts in ack_latency too (its AckRequestProcessor calls processAck).
        guard case .leading = zabRole, let myId, let committed = peer?.leaderCommittedZxid else { return }
        for record in records where record.txn.zxid > committed.rawValue {
            recordAckLatency(zxid: record.txn.zxid, from: myId, txnTimeMs: record.txn.header.time, now: now)
        }
    }

    /// ack_latency: ZooKeeper's Leader.processAck logs it for an outstanding proposal whose zxid
    /// is a multiple of zookeeper.leader.ackLoggingFrequency (1000 unless configured; 0 or less: never).
    func recordAckLatency(zxid: Int64, from sid: Int64, txnTimeMs: Int64, now: Int64) {
        let frequency = Int64(configuration.leaderAckLoggingFrequency)
        guard frequency > 0, zxid % frequency == 0, now >= txnTimeMs else { return }
        summaries(ofLearner: sid).ackLatency.recordMilliseconds(now - txnTimeMs)
    }

    func summaries(ofLearner sid: Int64) -> ServerMetrics.LearnerSummaries {
        if let existing = learnerSummaries[sid] { return existing }
        let made = metrics.learnerSummaries(sid)
        learnerSummaries[sid] = made
        return made
    }

    /// ZabPeer: a learner's ACK of an outstanding proposal was read.
    func zabAckRead(_ zxid: Zxid, from sid: ServerID, proposal: ZabEntry?) {
        guard let proposal, let time = Self.headerTime(proposal.payload) else { return }
        recordAckLatency(zxid: zxid.rawValue, from: sid, txnTimeMs: time, now: wallClockMs())
    }

    /// ZabPeer: a flush sent `queuedBehind` packets to learner `sid`: learner_handler_qp_size
    /// gets, per packet, how many were queued behind it (queuedBehind - 1 down to 0), and
    /// learner_handler_qp_time_ms each marker's wait.
    func zabLearnerQueueDrained(_ sid: ServerID, queuedBehind: Int, markerWaitNanoseconds: [Int64]) {
        let summaries = summaries(ofLearner: sid)
        for behind in stride(from: queuedBehind - 1, through: 0, by: -1) { summaries.queuedPackets.record(behind) }
        for wait in markerWaitNanoseconds { summaries.queuedTime.recordNanoseconds(wait) }
    }

    /// ZabPeer: the leader quit leading for a reason ZooKeeper counts.
    func zabQuitLeading(_ reason: ZabQuitLeadingReason) {
        switch reason {
        case .disloyalVoter:
            statistics.counters.quitLeadingDueToDisloyalVoter += 1
            metrics.quitLeadingDueToDisloyalVoter.increment()
        }
    }
}

// MARK: - Per-namespace reads and writes (ZooKeeper's DataTree.updateReadStat / updateWriteStat)

extension ServerNode {
    /// ZooKeeper's getTopNamespace: the first component of the path ("/a/b" -> "a"); none for "/".
    static func topNamespace(of path: String) -> Substring? {
        let utf8 = path.utf8
        guard utf8.count > 1, utf8.first == UInt8(ascii: "/") else { return nil }
        let start = utf8.index(after: utf8.startIndex)
        let end = utf8[start...].firstIndex(of: UInt8(ascii: "/")) ?? utf8.endIndex
        guard start < end else { return nil }
        return path[start..<end]
    }

    /// The namespace's summaries (made the first time it is seen, up to
    /// `ServerMetrics.namespacesMax`): a dictionary lookup by a slice of the path, no allocation.
    func namespaceIndex(of path: String) -> Int32? {
        guard let namespace = Self.topNamespace(of: path) else { return nil }
        if let index = namespaceIndexes[namespace] { return index }
        guard namespaceSummaries.count < ServerMetrics.namespacesMax else { return nil }
        let name = String(namespace)
        let index = Int32(namespaceSummaries.count)
        namespaceSummaries.append(metrics.namespaceSummaries(name))
        namespaceIndexes[name[...]] = index
        return index
    }

    /// ZooKeeper records a read of getData, exists (statNode) and getChildren once it succeeded:
    /// the namespace is found here, the bytes when the reply leaves (`recordRead`).
    @inline(__always)
    func readNamespace(of request: ClientRequest) -> (index: Int32, pathBytes: Int32)? {
        let path: String
        switch request.body {
        case .getData(let readPath, _), .exists(let readPath, _), .getChildren(_, let readPath, _): path = readPath
        default: return nil
        }
        guard let index = namespaceIndex(of: path) else { return nil }
        return (index, Int32(truncatingIfNeeded: path.utf8.count))
    }

    /// A successful reply to connection `id`'s oldest request (replies are FIFO): if it is a read
    /// with a namespace, read_per_namespace gets path + data (getData) or children names
    /// (getChildren) + 68 bytes of stat, as ZooKeeper counts.
    @inline(__always)
    func recordRead(_ id: ConnectionID, _ body: ResponseBody) {
        var payloadBytes: Int64 = 0
        switch body {
        case .getData(let data, _): payloadBytes = Int64(data?.count ?? 0)
        case .children(let children), .children2(let children, _):
            for child in children { payloadBytes += Int64(child.utf8.count) }
        case .stat: break
        default: return
        }
        recordRead(id, payloadBytes: payloadBytes)
    }

    /// As `recordRead(_:_:)`, for a reply whose data or children names take `payloadBytes`.
    @inline(__always)
    func recordRead(_ id: ConnectionID, payloadBytes: Int64) {
        guard let pending = connections[id]?.pendingReplies.first, pending.readNamespace >= 0 else { return }
        namespaceSummaries[Int(pending.readNamespace)].read.record(Int64(pending.pathBytes) + 68 + payloadBytes)
    }

    /// write_per_namespace for each node a txn creates, changes or deletes: path + data bytes.
    func recordWrites(_ body: TxnBody) {
        switch body {
        case .create(let create), .create2(let create), .createContainer(let create), .createTTL(let create):
            recordWrite(create.path, bytes: create.data?.count ?? 0)
        case .delete(let path), .deleteContainer(let path):
            recordWrite(path, bytes: 0)
        case .setData(let path, let data, _):
            recordWrite(path, bytes: data?.count ?? 0)
        case .closeSession(let paths):
            for path in paths { recordWrite(path, bytes: 0) }
        case .multi(let operations):
            for operation in operations { recordWrites(operation) }
        default:
            break
        }
    }

    func recordWrite(_ path: String, bytes: Int) {
        guard let index = namespaceIndex(of: path) else { return }
        namespaceSummaries[Int(index)].write.record(path.utf8.count + bytes)
    }
}

// MARK: - Watches, connections, TLS, quorum messages

extension ServerNode {
    /// A `.notify` output: a run of them with one event is the watchers that event fired.
    @inline(__always)
    func noteWatchFired(_ event: WatcherEvent, _ current: inout (event: WatcherEvent, watchers: Int)?) {
        if let run = current, run.event.type == event.type, run.event.path == event.path {
            current!.watchers += 1
            return
        }
        flushWatchFanOut(&current)
        current = (event, 1)
    }

    /// The run of notifications ended: node_created/deleted/changed/children_watch_count get
    /// how many watchers the event fired (ZooKeeper's WatchManager.triggerWatch).
    func flushWatchFanOut(_ current: inout (event: WatcherEvent, watchers: Int)?) {
        guard let run = current else { return }
        current = nil
        switch EventType(rawValue: run.event.type) {
        case .nodeCreated: metrics.nodeCreatedWatchCount.record(run.watchers)
        case .nodeDeleted: metrics.nodeDeletedWatchCount.record(run.watchers)
        case .nodeDataChanged: metrics.nodeChangedWatchCount.record(run.watchers)
        case .nodeChildrenChanged: metrics.nodeChildrenWatchCount.record(run.watchers)
        default: break
        }
    }

    /// The core counts what happens inside it (a pure value, no handles): after each run of its
    /// outputs the increase is published (stale_sessions_expired, outstanding_changes_queued,
    /// outstanding_changes_removed, sessionless_connections_expired).
    @inline(__always)
    func recordCoreCounts() {
        let counts = (core.sessionsExpiredCount, core.outstandingChangesQueued, core.outstandingChangesRemoved,
                      core.sessionlessConnectionsExpiredCount)
        let published = coreCountsPublished
        guard counts != published else { return }
        coreCountsPublished = counts
        if counts.0 > published.0 {
            statistics.counters.staleSessionsExpired += Int64(counts.0 - published.0)
            metrics.staleSessionsExpired.increment(by: Int64(counts.0 - published.0))
        }
        if counts.1 > published.1 {
            statistics.counters.outstandingChangesQueued += Int64(counts.1 - published.1)
            metrics.outstandingChangesQueued.increment(by: Int64(counts.1 - published.1))
        }
        if counts.2 > published.2 {
            statistics.counters.outstandingChangesRemoved += Int64(counts.2 - published.2)
            metrics.outstandingChangesRemoved.increment(by: Int64(counts.2 - published.2))
        }
        if counts.3 > published.3 {
            statistics.counters.sessionlessConnectionsExpired += Int64(counts.3 - published.3)
            metrics.sessionlessConnectionsExpired.increment(by: Int64(counts.3 - published.3))
        }
    }

    /// A client frame was read: its bytes with the 4-byte length (ZooKeeper's bytes_received_count,
    /// NIOServerCnxn.readPayload's packetReceived(4 + length), the ConnectRequest's included).
    @inline(__always)
    func noteBytesReceived(_ bytes: Int) {
        statistics.counters.bytesReceivedCount += Int64(bytes)
        metrics.bytesReceivedCount.increment(by: Int64(bytes))
    }

    /// A four-letter word was read: NIOServerCnxn.checkFourLetterWord calls packetReceived(4)
    /// before running it, so its 4 bytes count in bytes_received_count in every state, and it
    /// counts as a packet received (srvr's Received, mntr's zk_packets_received) while a server
    /// runs (ServerStats exists only then), the word that reads them included.
    func noteFourLetterWordReceived() {
        noteBytesReceived(4)
        if isServing { statistics.packetsReceived += 1 }
    }

    /// The server closes this connection itself: its end is not counted as a client drop.
    func noteClosingByServer(_ id: ConnectionID) {
        connections[id]?.closedByServer = true
    }

    /// A connection on the plain client port (ZooKeeper's Netty factory counts each connection
    /// without TLS: non_mtls_local_conn_count from a loopback address, else non_mtls_remote_conn_count).
    func notePlainConnection(address: SocketAddress?) {
        let ip = address?.ipAddress ?? "127.0.0.1"  // no IP (a Unix socket) is local
        let loopback = ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
        if loopback { plainConnectionsLocal += 1 } else { plainConnectionsRemote += 1 }
    }

    /// secureClientPort: a TLS handshake began (`true`) or ended (`false`).
    func noteTLSHandshake(inProgress: Bool) {
        tlsHandshakesInProgress += inProgress ? 1 : -1
    }

    /// secureClientPort: a handshake failed, timed out or was refused (ZooKeeper's unsuccessful_handshake).
    func noteUnsuccessfulHandshake() {
        statistics.counters.unsuccessfulHandshake += 1
        metrics.unsuccessfulHandshake.increment()
    }

    /// ZabPeer: a quorum message crossed the wire. Sent by a leader: the sync it starts (SNAP:
    /// snap_count; DIFF or TRUNC: diff_count, as ZooKeeper's LearnerHandler). Read by a learner
    /// in broadcast: learner_proposal_received_count and proposal_latency for a PROPOSAL,
    /// learner_commit_received_count for a COMMIT or (observer) INFORM.
    func zabQuorumMessage(_ message: ZabMessage, sent: Bool) {
        switch (message, sent) {
        case (.snap, true):
            statistics.counters.snapCount += 1
            metrics.snapCount.increment()
        case (.diff, true), (.trunc, true):
            statistics.counters.diffCount += 1
            metrics.diffCount.increment()
        case (.proposal, false), (.commit, false), (.inform, false):
            // ZooKeeper counts these in Follower/Observer.processPacket, which reads the leader
            // once the sync is over (UPTODATE): PROPOSALs and COMMITs read while syncing
            // (Learner.syncWithLeader) are not counted, nor their proposal_latency.
            guard learnerInBroadcast else { return }
            learnerPacketRead(message)
        default:
            break
        }
    }

    /// A follower or observer past UPTODATE (ZabPeer reports a message before ZAB handles it, and
    /// UPTODATE's role change reaches `zabRoleChanged` as ZAB handles it).
    var learnerInBroadcast: Bool {
        switch zabRole {
        case .following(_, true), .observing(_, true): return true
        default: return false
        }
    }

    /// Follower.processPacket's PROPOSAL and COMMIT, Observer.processPacket's INFORM.
    private func learnerPacketRead(_ message: ZabMessage) {
        switch message {
        case .proposal(let entry):
            statistics.counters.learnerProposalReceivedCount += 1
            metrics.learnerProposalReceivedCount.increment()
            if let time = Self.headerTime(entry.payload) {
                let latencyMs = wallClockMs() - time
                if latencyMs >= 0 { metrics.proposalLatency.recordMilliseconds(latencyMs) }
            }
        case .commit, .inform:
            statistics.counters.learnerCommitReceivedCount += 1
            metrics.learnerCommitReceivedCount.increment()
        default:
            break
        }
    }

    /// The TxnHeader time of a quorum payload (clientId 8, cxid 4, zxid 8, then time 8 bytes,
    /// big-endian), read in place.
    static func headerTime(_ payload: [UInt8]) -> Int64? {
        guard payload.count >= 28 else { return nil }
        var time: UInt64 = 0
        for offset in 20..<28 { time = time << 8 | UInt64(payload[offset]) }
        return Int64(bitPattern: time)
    }
}
