import Glibc
import Logging
import Metrics
import NIOCore
import NIOPosix
import ZKBase
import ZKConfig
import ZKFormat
import ZKPipeline
import ZKStorage
import ZKTree
import ZKWire
import ZKZab
import ZKEnsemble

func wallClockMs() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
}

/// Session deadlines run on this clock: a step of the wall clock (NTP, an operator) must not
/// expire every session at once, as it did when deadlines used the wall clock.
func monotonicMs() -> Int64 { monotonicMicroseconds() / 1000 }

func monotonicMicroseconds() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1000
}

/// The shell around `ServerCore`: everything here runs on one event loop (the node loop), which
/// also serves the client sockets, so reads never hop threads. Log appends run on their own
/// thread, one batch at a time: every txn that arrives while a batch is being made durable joins
/// the next one (group commit). Replies and notifications leave only after their txn is durable.
final class ServerNode: @unchecked Sendable {
    /// A socket's shell-side state. Changed in place through `connections[id]?.…` (never copied
    /// out and stored back: the copy would share `receiveTimesMs`' storage, so every append would
    /// copy the buffer).
    struct ConnectionEntry {
        var channel: any Channel
        var address: String
        var port: Int
        var statistics = ConnectionStatistics()
        /// Requests (xid >= 0) awaiting a reply, oldest first (replies are FIFO per connection).
        var pendingReplies = CircularBuffer<PendingReply>(initialCapacity: 16)
        /// Requests of every kind received and not answered yet: what bounds the connection.
        var awaitingReplies = 0
        var readingPaused = false
        /// The socket's send buffer passed the high-water mark: stop reading until it drains.
        var outboundFull = false
        /// The server closes it (a `.close` output, a four-letter word, bad input): its end is not
        /// a client drop (connection_drop_count).
        var closedByServer = false

        mutating func noteReceived(_ request: ClientRequest, nowMicroseconds: Int64, readNamespace: (index: Int32, pathBytes: Int32)?) {
            statistics.received += 1
            awaitingReplies += 1
            if request.xid >= 0 {
                pendingReplies.append(PendingReply(
                    receivedMicroseconds: nowMicroseconds, isUpdate: request.opCode?.isWrite ?? false,
                    readNamespace: readNamespace?.index ?? -1, pathBytes: readNamespace?.pathBytes ?? 0))
            }
            statistics.lastOperation = ServerNode.shortName(request.opCode)
            statistics.lastCxid = request.xid
        }

        /// Counts a frame sent; returns the channel to write it to and, for the reply to a
        /// request (xid >= 0), its latency and kind. (Mutating so that `connections[id]?.noteSent`
        /// runs in place: reading `connections[id]?.channel` would copy the whole entry.)
        mutating func noteSent(
            replyTo header: ReplyHeader?, nowMicroseconds: @autoclosure () -> Int64
        ) -> (channel: any Channel, reply: (latencyMicroseconds: Int64, isUpdate: Bool)?) {
            statistics.sent += 1
            guard let header, header.xid != SpecialXid.notification else { return (channel, nil) }
            awaitingReplies = max(0, awaitingReplies - 1)
            guard header.xid >= 0, let pending = pendingReplies.popFirst() else { return (channel, nil) }
            let now = nowMicroseconds()
            let latency = max(0, now - pending.receivedMicroseconds)
            statistics.recordLatency(latency / 1000)
            statistics.lastZxid = header.zxid
            statistics.lastResponseMonotonicMs = now / 1000
            return (channel, (latency, pending.isUpdate))
        }

        /// Pauses reading past `limit` unanswered requests or with a full send buffer; returns
        /// the socket's new autoRead value when it changes.
        mutating func updateReadingPaused(limit: Int, pipelineFull: Bool) -> Bool? {
            let busy = outboundFull || awaitingReplies > limit || pipelineFull
            guard busy != readingPaused else { return nil }
            readingPaused = busy
            return !busy
        }
    }

    /// A request awaiting its reply: when it arrived (monotonic) and whether it makes a txn
    /// (ZooKeeper's updatelatency) or not (readlatency).
    struct PendingReply {
        var receivedMicroseconds: Int64
        var isUpdate: Bool
        /// A getData / exists / getChildren: its path's namespace summaries (an index in
        /// `namespaceSummaries`, -1 for none) and the path's length (read_per_namespace).
        var readNamespace: Int32 = -1
        var pathBytes: Int32 = 0
    }

    let loop: any EventLoop
    let configuration: ServerConfiguration
    /// swift-metrics handles under ZooKeeper's names (ServerMetrics), and mntr's gauges by name.
    let metrics: ServerMetrics
    var gauges: [String: Gauge] = [:]
    /// write_per_namespace / read_per_namespace handles, made once per top-level namespace (at
    /// most `ServerMetrics.namespacesMax`): the index in `namespaceSummaries` by namespace.
    /// Keyed by Substring so a lookup with a slice of the request's path allocates nothing.
    var namespaceIndexes: [Substring: Int32] = [:]
    var namespaceSummaries: [ServerMetrics.NamespaceSummaries] = []
    /// secureClientPort connections still in their TLS handshake (ZooKeeper's
    /// outstanding_tls_handshake), and connections accepted on the plain client port from a
    /// loopback / another address (its non_mtls_local_conn_count / non_mtls_remote_conn_count).
    var tlsHandshakesInProgress = 0
    var plainConnectionsLocal: Int64 = 0
    var plainConnectionsRemote: Int64 = 0
    /// The server closes every connection (stopping): their ends are not client drops.
    var closingAllConnections = false
    /// Monotonic microseconds at which each txn of `batch` was queued for the log, in order.
    var batchQueuedMicroseconds: [Int64] = []
    /// The core's counts last published (`recordCoreCounts`): sessions expired, change records
    /// queued and removed, sessionless connections expired.
    var coreCountsPublished = (0, 0, 0, 0)
    /// Leader: each learner's ack_latency and queue summaries (and our own ack_latency), by sid.
    var learnerSummaries: [Int64: ServerMetrics.LearnerSummaries] = [:]
    /// Ensemble: since when the member has not been serving (ZooKeeper's unavailable_time).
    var unavailableSinceMicroseconds: Int64? = monotonicMicroseconds()
    /// Wall-clock minus monotonic milliseconds at start: turns monotonic times into wall times for reports.
    let wallMinusMonotonicMs = wallClockMs() - monotonicMs()
    let logger: Logger
    let log: LMDBTransactionLog
    let dataDirectory: DataDirectory
    let logThread: NIOThreadPool
    let snapshotThread: NIOThreadPool
    let snapshotLevel: Int32
    var core: ServerCore
    var recovery: RecoveryReport
    var snapshotInProgress = false
    var snapshotWalk = FuzzySnapshotWalk()
    var snapshotStartedMicroseconds: Int64 = 0
    var txnsSinceSnapshot = 0
    var snapshotThreshold: Int
    /// Set when the node had to stop (the log could not write); the process exits non-zero.
    var fatalMessage: String?
    var onFatal: (@Sendable () -> Void)?
    var logFullReported = false
    var connections: [ConnectionID: ConnectionEntry] = [:]
    var connectionsPerAddress: [String: Int] = [:]
    var nextConnectionId: ConnectionID = 1
    var batch: [LoggedTxn] = []
    var batchInFlight = false
    var toFlush: Set<ConnectionID> = []
    var statistics = ServerStatistics()
    let startedMs = wallClockMs()
    var stopped = false
    var outputs: [CoreOutput] = []
    var runningOutputs = false
    var listeningPort: Int? = nil

    // Ensemble membership (ServerNode+Ensemble); nil/unused for a standalone server.
    var peer: ZabPeer?
    let myId: Int64?
    var zabRole: ZabRole = .looking
    /// Leader: the serialized size of each txn it proposed this term (ZooKeeper's Leader
    /// proposalStats: the PROPOSAL's data, TxnHeader + txn + digest); srst resets it.
    var proposalSizes = BufferStats()
    /// Leader: when it began serving this term (monotonic ms; ZooKeeper's leaderStartTime).
    var leaderStartedMs: Int64?
    /// One completion per ZAB append, in order, with the log generation it was made in.
    var appendCompletions: [(zxid: Zxid, generation: Int, completion: @Sendable (Zxid) -> Void)] = []
    /// Bumped by truncate and SNAP: completions of older appends are dropped.
    var logGeneration = 0
    /// The leader's own txn, kept between `.replicate` and ZAB's append so it is not decoded again.
    var ownProposal: LoggedTxn?
    /// Txns from the leader decoded by `checkEntry`, until `append` logs them.
    var decodedEntries: [Int64: (txn: Txn, digest: UInt64?)] = [:]
    /// A learner's logged txns not applied yet (decoded once, applied when committed).
    var appendedTxns: [Int64: (txn: Txn, digest: UInt64?)] = [:]
    /// The zxid being handed to ZAB (`.propose`), for taking it back if ZAB refuses it.
    var proposingZxid: Int64?
    /// A SNAP snapshot checked (decoded) just before ZAB installs it.
    var receivedSnapshot: (zxid: Zxid, tree: DataTree, file: ReceivedSnapshotFile)?
    /// Bumped when the tree is replaced: a fuzzy snapshot of the old one is abandoned.
    var snapshotGeneration = 0
    /// When the member started looking, and when it settled on a leader (election and sync timings).
    var lookingSinceMicroseconds: Int64? = monotonicMicroseconds()
    var syncingSinceMicroseconds: Int64?

    /// Above this many unanswered requests a connection stops being read until it drains.
    static let queuedRequestsPerConnectionMax = 1000
    /// Above this many writes in the pipeline (proposed and not applied, or forwarded to the
    /// leader and not answered) no client socket is read until half have drained: ZooKeeper's
    /// globalOutstandingLimit. It keeps an ensemble under the leader's bound on proposals in
    /// flight (`ZabLimits.proposalsInFlightMax`, set to members x this and more).
    static let outstandingWritesMax = 5000
    var pipelineFull = false
    /// Stopping (SIGTERM): no client socket is read; `drainWaiters` hear when no txn is left in flight.
    var draining = false
    var drainWaiters: [EventLoopPromise<Void>] = []

    init(
        loop: any EventLoop, configuration: ServerConfiguration, dataDirectory: DataDirectory, log: LMDBTransactionLog,
        tree: DataTree, recovery: RecoveryReport, logger: Logger, myId: Int64? = nil,
        metrics: ServerMetrics = ServerMetrics()
    ) {
        self.myId = myId
        self.metrics = metrics
        self.loop = loop
        self.configuration = configuration
        self.dataDirectory = dataDirectory
        self.log = log
        self.logger = logger
        self.recovery = recovery
        self.snapshotLevel = Int32(configuration.snapshotCompressionLevel)
        self.snapshotThreshold = Self.nextSnapshotThreshold(snapCount: configuration.transactionsPerSnapshot)
        // One thread owns every LMDB write transaction (appends and purges); snapshots compress on another.
        self.logThread = NIOThreadPool(numberOfThreads: 1)
        self.logThread.start()
        self.snapshotThread = NIOThreadPool(numberOfThreads: 1)
        self.snapshotThread.start()
        var coreConfiguration = CoreConfiguration(
            tickMs: Int64(configuration.tickTimeMs), minSessionTimeoutMs: Int32(configuration.sessionTimeoutMsMin),
            maxSessionTimeoutMs: Int32(configuration.sessionTimeoutMsMax),
            extendedTypesEnabled: configuration.extendedTypesEnabled, superDigest: configuration.superDigest,
            serverId: myId ?? 0, enforceQuota: configuration.enforceQuota,
            x509Enabled: configuration.tls.x509ProviderEnabled, x509SuperUser: configuration.tls.x509SuperUser)
        coreConfiguration.sessionlessConnectionTimeoutMs = Int64(configuration.sessionlessConnectionTimeoutMs)
        // Session ids carry the server id in their top byte, as ZooKeeper's do, so members never
        // hand out the same id.
        let initialSessionId = SessionTracker.initialSessionId(serverId: myId ?? 0, elapsedMs: wallClockMs())
        self.core = ServerCore(configuration: coreConfiguration, tree: tree, initialSessionId: initialSessionId)
        if myId == nil {
            self.core.trackRecoveredSessions(nowMs: monotonicMs())
        } else {
            var ignored: [CoreOutput] = []
            self.core.changeReplication(to: .notServing, monotonicMs: monotonicMs(), into: &ignored)
        }
        recordStartupMetrics()
    }

    func startTimers() {
        let tick = TimeAmount.milliseconds(Int64(configuration.tickTimeMs))
        loop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { [self] _ in
            core.tick(nowMs: wallClockMs(), monotonicMs: monotonicMs(), into: &outputs)
            runOutputs()
            publishGauges()
        }
        let containerInterval = TimeAmount.milliseconds(Int64(max(configuration.containerCheckIntervalMs, 10)))
        // maxPerMinute scaled to one pass, at least one deletion per pass.
        let perPass = max(1, configuration.containerDeletionsPerMinuteMax * max(configuration.containerCheckIntervalMs, 10) / 60_000)
        loop.scheduleRepeatedTask(initialDelay: containerInterval, delay: containerInterval) { [self] _ in
            core.reapContainers(nowMs: wallClockMs(), deletionsMax: perPass, into: &outputs)
            runOutputs()
        }
        if configuration.autopurgeIntervalHours > 0 {
            let interval = TimeAmount.hours(Int64(configuration.autopurgeIntervalHours))
            loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in purge() }
        }
    }

    // MARK: - Connections

    /// Registers a new socket; nil when the address already has maxClientCnxns connections.
    /// `certificateSubject`: the RFC 2253 subject of the client's verified TLS certificate, if any.
    func open(channel: any Channel, certificateSubject: String? = nil, secure: Bool = false) -> ConnectionID? {
        let address = channel.remoteAddress?.ipAddress ?? "unknown"
        let port = channel.remoteAddress?.port ?? 0
        let limit = configuration.clientConnectionsPerHostMax
        if limit > 0 && connectionsPerAddress[address, default: 0] >= limit {
            logger.warning("Too many connections from /\(address) - max is \(limit)")
            statistics.counters.connectionRejected += 1
            metrics.connectionRejected.increment()
            return nil
        }
        if !secure { notePlainConnection(address: channel.remoteAddress) }
        connectionsPerAddress[address, default: 0] += 1
        let id = nextConnectionId
        nextConnectionId += 1
        var entry = ConnectionEntry(channel: channel, address: address, port: port)
        entry.statistics.establishedMs = wallClockMs()
        connections[id] = entry
        core.connectionOpened(id, address: address, certificateSubject: certificateSubject, monotonicMs: monotonicMs())
        return id
    }

    func closed(_ id: ConnectionID) {
        guard let entry = connections.removeValue(forKey: id) else { return }
        if !entry.closedByServer && !closingAllConnections {
            statistics.counters.connectionDropCount += 1
            metrics.connectionDropCount.increment()
        }
        connectionsPerAddress[entry.address, default: 1] -= 1
        if connectionsPerAddress[entry.address] == 0 { connectionsPerAddress[entry.address] = nil }
        core.connectionClosed(id)
        toFlush.remove(id)
    }

    func connect(_ id: ConnectionID, _ request: ConnectRequest) {
        statistics.packetsReceived += 1
        statistics.counters.connectionRequestCount += 1
        metrics.connectionRequestCount.increment()
        if request.sessionId != 0 {
            statistics.counters.connectionRevalidateCount += 1
            metrics.connectionRevalidateCount.increment()
        }
        connections[id]?.statistics.received += 1
        core.connect(id, request, nowMs: wallClockMs(), monotonicMs: monotonicMs(), into: &outputs)
        runOutputs()
    }

    func receive(_ id: ConnectionID, _ request: ClientRequest) {
        let now = wallClockMs()
        let monotonic = monotonicMicroseconds()
        statistics.packetsReceived += 1
        connections[id]?.noteReceived(request, nowMicroseconds: monotonic, readNamespace: readNamespace(of: request))
        core.receive(id, request, nowMs: now, monotonicMs: monotonic / 1000, into: &outputs)
        recordPrepOrRead(request, since: monotonic)
        runOutputs(endOfReadCycle: false)
        pauseReadingIfBusy(id)
    }

    /// The socket read cycle that delivered requests is over: one flush per connection for all
    /// their replies (not one write syscall per reply), and their txns go to the log together.
    func readCycleComplete() {
        flushWrites()
        submitBatchIfIdle()
    }

    func writabilityChanged(_ id: ConnectionID, writable: Bool) {
        connections[id]?.outboundFull = !writable
        pauseReadingIfBusy(id)
    }

    /// Bounds each connection: too many queued requests, or replies the client does not read,
    /// stop reading its socket until it catches up.
    func pauseReadingIfBusy(_ id: ConnectionID) {
        guard let autoRead = connections[id]?.updateReadingPaused(
                  limit: Self.queuedRequestsPerConnectionMax, pipelineFull: pipelineFull || draining),
              let channel = connections[id]?.channel
        else { return }
        channel.setOption(ChannelOptions.autoRead, value: autoRead).whenFailure { _ in }
    }

    static func shortName(_ opCode: OpCode?) -> String {
        switch opCode {
        case .getData: return "GETD"
        case .setData: return "SETD"
        case .create, .create2, .createContainer, .createTTL: return "CREA"
        case .delete: return "DELE"
        case .exists: return "EXIS"
        case .getChildren, .getChildren2: return "GETC"
        case .ping: return "PING"
        case .multi: return "MULT"
        case .sync: return "SYNC"
        default: return opCode.map { String($0.displayName.prefix(4)).uppercased() } ?? "NA"
        }
    }

    // MARK: - Carrying out the core's outputs

    /// Carries out the core's outputs. Inside a socket read cycle (`endOfReadCycle: false`)
    /// writes are only queued: `readCycleComplete` flushes them and submits the log batch.
    func runOutputs(endOfReadCycle: Bool = true) {
        // Carrying out an output can make more (ZAB answers a proposal at once): they are
        // appended and this loop reaches them; a nested call would run the earlier ones again.
        if runningOutputs { return }
        runningOutputs = true
        defer { runningOutputs = false }
        // The watchers one event fired arrive as a run of `.notify` outputs with that event.
        var firedEvent: (event: WatcherEvent, watchers: Int)?
        var index = 0
        while index < outputs.count {
            let output = outputs[index]
            index += 1
            if case .notify = output {} else { flushWatchFanOut(&firedEvent) }
            switch output {
            case .persist(let txn, let digest):
                let started = monotonicMicroseconds()
                queueForLog(LoggedTxn(txn: txn, digest: digest))
                metrics.proposalProcessTime.recordNanoseconds(max(0, monotonicMicroseconds() - started) &* 1000)
            case .replicate, .forward, .sessionActive, .revalidate:
                runReplicationOutput(output)
            case .digestMismatch(let zxid, let expected, let actual):
                logger.error("digest mismatch at zxid \(ZxidMath.hex(zxid)): prep predicted \(expected), apply gave \(actual)")
            case .quotaWarning(let message):
                logger.warning("\(message)")
            case .connected(let id, let response):
                var buffer = allocator.buffer(capacity: 48)
                buffer.writeInteger(Int32(0))
                response.encode(into: &buffer)
                ReplyFrame.setLength(of: &buffer)
                send(id, frame: buffer, replyTo: nil)
            case .reply(let id, let header, let body):
                // Replies to xid >= 0 follow their requests' order (`pendingReplies`).
                if header.err == 0 && header.xid >= 0 && !namespaceSummaries.isEmpty { recordRead(id, body) }
                sendReply(id, header, ReplyFrame.encode(header, body, allocator: allocator))
            case .replyFrame(let id, let frame):
                if frame.header.err == 0 && frame.header.xid >= 0 && !namespaceSummaries.isEmpty {
                    recordRead(id, payloadBytes: Int64(frame.dataCount))
                }
                sendReply(id, frame.header, frame.bytes)
            case .notify(let id, let event):
                noteWatchFired(event, &firedEvent)
                var buffer = allocator.buffer(capacity: 48)
                buffer.writeInteger(Int32(0))
                ReplyHeader(xid: SpecialXid.notification, zxid: -1, err: 0).encode(into: &buffer)
                event.encode(into: &buffer)
                // ZooKeeper counts the packet without its 4-byte length (sendResponse's size).
                let packetBytes = Int64(buffer.readableBytes - 4)
                statistics.recordClientResponseSize(packetBytes)
                statistics.counters.watchBytes += packetBytes
                metrics.watchBytes.increment(by: packetBytes)
                ReplyFrame.setLength(of: &buffer)
                send(id, frame: buffer, replyTo: nil)
            case .close(let id, let reason):
                guard let entry = connections[id] else { continue }
                connections[id]?.closedByServer = true
                logger.info("closing connection \(entry.address):\(entry.port): \(reason)")
                let channel = entry.channel
                channel.writeAndFlush(allocator.buffer(capacity: 0)).whenComplete { _ in channel.close(promise: nil) }
                toFlush.remove(id)
            }
        }
        flushWatchFanOut(&firedEvent)
        recordCoreCounts()
        outputs.removeAll(keepingCapacity: true)
        throttleIfPipelineFull()
        if endOfReadCycle {
            flushWrites()
            submitBatchIfIdle()
        }
        if draining { completeDrainIfIdle() }
    }

    func throttleIfPipelineFull() {
        let outstanding = core.outstandingTxnCount + core.forwardedWaitingCount
        let full = pipelineFull ? outstanding > Self.outstandingWritesMax / 2 : outstanding > Self.outstandingWritesMax
        guard full != pipelineFull else { return }
        pipelineFull = full
        for id in connections.keys { pauseReadingIfBusy(id) }
    }

    func flushWrites() {
        for id in toFlush { connections[id]?.channel.flush() }
        toFlush.removeAll(keepingCapacity: true)
    }

    var allocator: ByteBufferAllocator { ByteBufferAllocator() }

    func sendReply(_ id: ConnectionID, _ header: ReplyHeader, _ frame: ByteBuffer) {
        statistics.recordClientResponseSize(Int64(frame.readableBytes - 4))
        send(id, frame: frame, replyTo: header)
    }

    /// Sends a complete frame (its length set).
    func send(_ id: ConnectionID, frame buffer: ByteBuffer, replyTo header: ReplyHeader?) {
        guard let (channel, reply) = connections[id]?.noteSent(replyTo: header, nowMicroseconds: monotonicMicroseconds())
        else { return }
        statistics.packetsSent += 1
        if header != nil {
            // The packet without its 4-byte length, as ZooKeeper's FinalRequestProcessor counts.
            statistics.counters.responseBytes += Int64(buffer.readableBytes - 4)
            metrics.responseBytes.increment(by: Int64(buffer.readableBytes - 4))
        }
        if let reply { recordReply(latencyMicroseconds: reply.latencyMicroseconds, isUpdate: reply.isUpdate) }
        channel.write(buffer, promise: nil)
        toFlush.insert(id)
    }

    // MARK: - Group commit

    func submitBatchIfIdle() {
        guard !batchInFlight, !batch.isEmpty, !stopped else { return }
        batchInFlight = true
        let records = batch
        batch = []
        let log = self.log
        let started = monotonicMicroseconds()
        let queued = batchQueuedMicroseconds
        batchQueuedMicroseconds.removeAll(keepingCapacity: true)
        recordLogQueueTimes(queued, takenAt: started)
        let future = logThread.runIfActive(eventLoop: loop) { () throws -> Void in try log.append(records) }
        let generation = logGeneration
        future.whenComplete { [self] result in
            batchInFlight = false
            if case .success = result { recordLogFlushed(queued, flushStartedAt: started) }
            if peer != nil {
                return ensembleBatchDone(result, records: records, generation: generation, started: started)
            }
            switch result {
            case .success:
                let elapsed = recordFsync(since: started, batchSize: records.count)
                if elapsed / 1000 > Int64(configuration.fsyncWarningThresholdMs) {
                    statistics.fsyncThresholdExceededCount += 1
                    logger.warning("fsync-ing the write ahead log took \(elapsed / 1000)ms which will adversely effect operation latency (\(records.count) txns in the batch)")
                }
                if logFullReported {
                    logFullReported = false
                    logger.notice("transaction log accepts writes again")
                }
                // The txns that arrived meanwhile go to the log before this batch is applied and
                // answered, so the log thread writes while the event loop applies (they do not
                // depend on each other: prep already accounted for every pending txn).
                submitBatchIfIdle()
                applyDurable(records)
                noteCommitted(records.count)
                runOutputs()
                for id in connections.keys where connections[id]?.readingPaused == true { pauseReadingIfBusy(id) }
            case .failure(let error as LogError) where error.kind == .full:
                // Writes fail with an error to their clients, reads go on, nothing written is
                // touched, and the next write tries again (it succeeds once space returns).
                if !logFullReported {
                    logFullReported = true
                    logger.error("transaction log is full (disk or map quota): writes fail until space returns: \(error)")
                }
                batch.removeAll()
                batchQueuedMicroseconds.removeAll()
                core.persistFailed(from: records[0].txn.zxid, nowMs: wallClockMs(), monotonicMs: monotonicMs(), into: &outputs)
                runOutputs()
            case .failure(let error):
                // Persist before you promise: a log that cannot write stops the node.
                fail("transaction log append failed: \(error); inspect with `paddock data verify \(dataDirectory.dataDirectory)`")
            }
            if draining { completeDrainIfIdle() }
        }
    }

    /// Counts one durable batch (fsync time and batch size); returns its microseconds.
    @discardableResult
    func recordFsync(since started: Int64, batchSize: Int) -> Int64 {
        let elapsed = monotonicMicroseconds() - started
        statistics.fsyncCount += 1
        statistics.fsyncTotalMicroseconds += elapsed
        statistics.batchSizeTotal += Int64(batchSize)
        metrics.fsyncTime.recordNanoseconds(elapsed * 1000)
        metrics.syncProcessorBatchSize.record(batchSize)
        return elapsed
    }

    /// An ensemble member's batch is durable: ZAB hears of it through the appends' completions
    /// (it decides what commits); a batch cut by truncate or SNAP meanwhile reports nothing.
    func ensembleBatchDone(_ result: Result<Void, any Error>, records: [LoggedTxn], generation: Int, started: Int64) {
        switch result {
        case .success:
            recordFsync(since: started, batchSize: records.count)
            recordAcksMade(records)
            // Appends queued meanwhile go out now, whether or not this batch was cut since.
            submitBatchIfIdle()
            guard generation == logGeneration, let last = records.last?.txn.zxid else { return }
            // Every append of this batch is durable through `last`: one completion says so for
            // all (each would hand ZAB the same zxid, one loop task and one core step apiece).
            let durable = appendCompletions.prefix { $0.zxid.rawValue <= last }
            let reporting = durable.last { $0.generation == generation }
            appendCompletions.removeFirst(durable.count)
            reporting?.completion(Zxid(last))
        case .failure(let error):
            fail("transaction log append failed: \(error); inspect with `paddock data verify \(dataDirectory.dataDirectory)`")
        }
    }

    func fail(_ message: String) {
        guard fatalMessage == nil else { return }
        fatalMessage = message
        statistics.counters.unrecoverableErrorCount += 1
        metrics.unrecoverableErrorCount.increment()
        closingAllConnections = true
        logger.critical("\(message); stopping")
        stopped = true
        for entry in connections.values { entry.channel.close(promise: nil) }
        onFatal?()
    }

    func shutdown() {
        try? logThread.syncShutdownGracefully()
        try? snapshotThread.syncShutdownGracefully()
        log.close()
        dataDirectory.release()
    }
}
