import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ZKBase
import ZKWire

/// An async ZooKeeper client over SwiftNIO, for Paddock and Apache ZooKeeper 3.5+.
///
/// One session, one event loop: requests are written in the order they are made and answered
/// in that order (ZooKeeper's FIFO client order), many at a time (pipelining) with no lock per
/// request. The session survives the loss of a connection: the client moves to another member
/// of the connect string within the session timeout, re-sets its watches with the last zxid it
/// saw (so no read goes back in time) and resends its credentials; requests in flight when a
/// connection drops fail with `ConnectionLoss`, whose outcome is unknown (README "PaddockClient":
/// which retries are safe). Errors are `ZooKeeperError` with ZooKeeper's codes.
public final class PaddockClient: Sendable {
    /// The session as the client knows it (what `connect` negotiated; the id stays for life).
    public var sessionId: Int64 { snapshot.withLockedValue { $0.sessionId } }
    public var negotiatedTimeoutMs: Int32 { snapshot.withLockedValue { $0.timeoutMs } }
    public var state: ConnectionState { snapshot.withLockedValue { $0.state } }
    /// The newest zxid a reply carried.
    public var lastZxidSeen: Int64 { snapshot.withLockedValue { $0.lastZxid } }

    struct Snapshot {
        var state = ConnectionState.connecting
        var sessionId: Int64 = 0
        var timeoutMs: Int32 = 0
        var lastZxid: Int64 = 0
    }

    let loop: any EventLoop
    private let shell: NIOLoopBoundBox<ClientShell>
    private let snapshot: NIOLockedValueBox<Snapshot>
    let connectString: ConnectString
    let mailbox: SubmissionMailbox
    let loopExecutor: EventLoopTaskExecutor
    let ids = IDGenerator()

    /// Connects and waits until a server serves the session (at most `connectTimeout`).
    /// `eventLoopGroup`: where the session's connection runs; by default NIO's shared
    /// `MultiThreadedEventLoopGroup.singleton`, as other NIO clients do, so an application that
    /// installs those loops as Swift's global executor
    /// (`NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()`)
    /// runs its tasks and this client on the same threads (README "PaddockClient", throughput).
    /// `shuffle`: the order the hosts are tried in (ZooKeeper's clients shuffle them).
    public static func connect(
        _ connectString: String, sessionTimeout: Duration = .seconds(10), connectTimeout: Duration = .seconds(30),
        limits: ClientLimits = ClientLimits(), logger: Logger = Logger(label: "paddock-client"),
        eventLoopGroup: (any EventLoopGroup)? = nil,
        shuffle: ([ConnectString.Host]) -> [ConnectString.Host] = { $0.shuffled() }
    ) async throws(ZooKeeperError) -> PaddockClient {
        var parsed = try ConnectString(connectString)
        parsed.hosts = shuffle(parsed.hosts)
        let timeoutMs = Int32(clamping: sessionTimeout.components.seconds * 1000 + sessionTimeout.components.attoseconds / 1_000_000_000_000_000)
        let client = PaddockClient(connect: parsed, sessionTimeoutMs: timeoutMs, limits: limits, logger: logger, group: eventLoopGroup)
        do {
            try await client.waitConnected(within: connectTimeout)
        } catch {
            await client.close()
            throw error
        }
        return client
    }

    private init(connect: ConnectString, sessionTimeoutMs: Int32, limits: ClientLimits, logger: Logger, group: (any EventLoopGroup)?) {
        let loop = (group ?? MultiThreadedEventLoopGroup.singleton).next()
        self.loop = loop
        self.connectString = connect
        let snapshot = NIOLockedValueBox(Snapshot())
        self.snapshot = snapshot
        let core = ClientCore(connect: connect, sessionTimeoutMs: sessionTimeoutMs, limits: limits)
        self.shell = NIOLoopBoundBox.makeBoxSendingValue(ClientShell(core: core, loop: loop, logger: logger, snapshot: snapshot), eventLoop: loop)
        self.mailbox = SubmissionMailbox(shell: shell, loop: loop)
        self.loopExecutor = EventLoopTaskExecutor(loop: loop)
        let shell = self.shell
        loop.execute { shell.value.start() }
    }

    deinit {
        let shell = self.shell
        loop.execute { shell.value.shutdown() }
    }

    /// An executor that runs tasks on this client's event loop. Tasks that mostly wait on this
    /// client can prefer it (`withTaskExecutorPreference(client.taskExecutor) { ... }`): replies
    /// then resume them on the thread that read the replies, with no hop to another thread and
    /// back per request (README "PaddockClient", throughput). Never block in such a task: the
    /// loop would stop serving the session.
    public var taskExecutor: any TaskExecutor { loopExecutor }

    /// Connection states as they change, starting with the current one.
    public var states: AsyncStream<ConnectionState> {
        let (stream, continuation) = AsyncStream<ConnectionState>.makeStream(bufferingPolicy: .unbounded)
        let shell = self.shell
        loop.execute { shell.value.addStateListener(continuation) }
        return stream
    }

    private func waitConnected(within timeout: Duration) async throws(ZooKeeperError) {
        let states = self.states
        let hosts = connectString.hosts
        let outcome: ZooKeeperError? = await withTaskGroup(of: ZooKeeperError?.self) { group in
            group.addTask {
                for await state in states {
                    switch state {
                    case .connected: return nil
                    case .expired: return ZooKeeperError(.sessionExpired, "the session expired while connecting")
                    case .closed: return ZooKeeperError(.sessionExpired, "closed while connecting")
                    default: continue
                    }
                }
                return ZooKeeperError(.sessionExpired, "closed while connecting")
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return ZooKeeperError(.connectionLoss, "no server of \(hosts) served a session within \(timeout)")
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
        if let outcome { throw outcome }
    }

    /// Closes the connection without ending the session, as a crashed process would: the
    /// session's ephemerals stay until the server expires it. For tests.
    package func abandonForTesting() async {
        let shell = self.shell
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.execute {
                shell.value.core.abandon()
                shell.value.run()
                continuation.resume()
            }
        }
    }

    /// The core's state (requests in flight and queued, watches), for diagnosing a stuck caller.
    package func debugDescription() async -> String {
        let shell = self.shell
        return await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            loop.execute {
                let value = shell.value
                continuation.resume(returning: value.core.debugDescription + " mailbox \(self.mailbox.debugDescription) flushScheduled \(value.flushScheduled) requests \(value.requests.count) watchers \(value.watchers.count)")
            }
        }
    }

    /// Ends the session (its ephemerals go) and the connection.
    public func close() async {
        let shell = self.shell
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.execute { shell.value.close(then: continuation) }
        }
    }

    // MARK: - Requests

    func call(
        _ opCode: OpCode, _ body: RequestBody, watch: WatchKind? = nil, watchPath: String? = nil,
        persistent: AddWatchMode? = nil
    ) async throws(ZooKeeperError) -> (Reply, WatchEvents?) {
        let (result, events) = await callKeepingWatch(opCode, body, watch: watch, watchPath: watchPath, persistent: persistent)
        return (try result.get(), events)
    }

    /// The reply or the error, and the watch the request may leave (an exists that finds no
    /// node leaves one while its reply is the error NoNode).
    func callKeepingWatch(
        _ opCode: OpCode, _ body: RequestBody, watch: WatchKind? = nil, watchPath: String? = nil,
        persistent: AddWatchMode? = nil
    ) async -> (Result<Reply, ZooKeeperError>, WatchEvents?) {
        let shell = self.shell
        let loop = self.loop
        var events: WatchEvents?
        var watcher: WatcherID?
        var registration: Submission.Watcher?
        if watch != nil || persistent != nil {
            let (stream, continuation) = AsyncThrowingStream<WatchEvent, any Error>.makeStream(bufferingPolicy: .unbounded)
            let id = ids.next()
            watcher = id
            continuation.onTermination = { _ in loop.execute { shell.value.dropWatcher(id) } }
            let fired = NIOLockedValueBox(false)
            events = WatchEvents(stream: stream, fired: fired)
            registration = Submission.Watcher(id: id, events: continuation, fired: fired)
        }
        var request = PendingRequest(id: 0, opCode: opCode, body: body)
        if let watch, let watchPath, let watcher { request.watch = (watch, watchPath, watcher) }
        if let persistent, let watchPath, let watcher { request.persistentWatch = (watchPath, persistent == .persistentRecursive, watcher) }
        let mailbox = self.mailbox
        do {
            let reply = try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Reply, any Error>) in
                mailbox.post(Submission(request: request, continuation: continuation, watcher: registration))
            }
            return (.success(reply), events)
        } catch let error as ZooKeeperError {
            return (.failure(error), events)
        } catch {
            return (.failure(ZooKeeperError(.systemError, "\(error)")), events)
        }
    }

    func path(_ path: String) throws(ZooKeeperError) -> String {
        guard PathValidation.isValid(path) else { throw ZooKeeperError(.badArguments, "invalid path \(path)") }
        return connectString.serverPath(path)
    }
}

/// A watch's events as an AsyncSequence: one event for a one-shot watch (then it ends), every
/// event for a persistent one, in the order the server sent them. It ends with an error when
/// the session ends, or when the read that set it failed. Dropping it removes the watcher.
public struct WatchEvents: AsyncSequence, Sendable {
    public typealias Element = WatchEvent
    let stream: AsyncThrowingStream<WatchEvent, any Error>
    let fired: NIOLockedValueBox<Bool>

    /// Whether an event (or the watch's end) has arrived. Events and replies reach the client in
    /// the server's order and are handed on in that order, so once a later request's reply has
    /// been returned, an event sent before it shows here: a reader can tell whether what it read
    /// may already be stale (the paper's ready-znode pattern, `ReadyConfiguration`).
    public var hasFired: Bool { fired.withLockedValue { $0 } }

    public func makeAsyncIterator() -> AsyncThrowingStream<WatchEvent, any Error>.AsyncIterator {
        stream.makeAsyncIterator()
    }

    /// The next event (nil when the watch has ended).
    public func next() async throws -> WatchEvent? {
        var iterator = stream.makeAsyncIterator()
        return try await iterator.next()
    }
}

/// Ids for requests and watchers, unique per client.
final class IDGenerator: Sendable {
    private let counter = NIOLockedValueBox<UInt64>(0)
    func next() -> UInt64 { counter.withLockedValue { $0 += 1; return $0 } }
}

/// The event-loop side: runs the core's actions (sockets, timers, continuations).
final class ClientShell {
    var core: ClientCore
    let loop: any EventLoop
    let logger: Logger
    let snapshot: NIOLockedValueBox<PaddockClient.Snapshot>
    var channel: (any Channel)?
    /// Events of a channel from an earlier connection are ignored.
    var generation = 0
    /// Each continuation is resumed exactly once: it leaves this table as it is resumed (the
    /// unchecked kind saves an allocation and an atomic per request).
    var requests: [RequestID: UnsafeContinuation<Reply, any Error>] = [:]
    var watchers: [WatcherID: (events: AsyncThrowingStream<WatchEvent, any Error>.Continuation, fired: NIOLockedValueBox<Bool>)] = [:]
    var stateListeners: [AsyncStream<ConnectionState>.Continuation] = []
    var ticker: RepeatedTask?
    var closeWaiters: [CheckedContinuation<Void, Never>] = []
    var flushScheduled = false
    /// Request ids are the loop's own, so assigning one takes no lock (watcher ids come from the
    /// client's `IDGenerator`, on callers' threads).
    var nextRequestId: RequestID = 0
    /// The mailbox's other array (see `SubmissionMailbox.post`), empty with its capacity kept.
    var spareSubmissions: [Submission] = []
    let metrics = ClientMetrics()
    /// What `snapshot` holds, so it is written only when something changed.
    var published: (ConnectionState, Int64, Int32, Int64) = (.connecting, 0, 0, 0)
    let started = NIODeadline.now()

    init(core: ClientCore, loop: any EventLoop, logger: Logger, snapshot: NIOLockedValueBox<PaddockClient.Snapshot>) {
        self.core = core
        self.loop = loop
        self.logger = logger
        self.snapshot = snapshot
    }

    var now: Int64 { (NIODeadline.now() - started).nanoseconds / 1_000_000 }

    func start() {
        let shell = NIOLoopBound(self, eventLoop: loop)
        ticker = loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(50)) { _ in
            shell.value.core.tick(now: shell.value.now)
            shell.value.run()
        }
    }

    /// The client is gone: nothing may stay waiting (requests fail, watches end).
    func shutdown() {
        if !core.state.isTerminal {
            core.abandon()
            run()
        }
        ticker?.cancel()
        channel?.close(promise: nil)
        channel = nil
    }

    func addStateListener(_ continuation: AsyncStream<ConnectionState>.Continuation) {
        continuation.yield(core.state)
        if core.state.isTerminal { return continuation.finish() }
        stateListeners.append(continuation)
    }

    /// Takes every request posted since the last turn, in the order they were posted.
    func submit(_ submissions: [Submission]) {
        let now = self.now
        for submission in submissions {
            if let watcher = submission.watcher { watchers[watcher.id] = (watcher.events, watcher.fired) }
            var request = submission.request
            nextRequestId += 1
            request.id = nextRequestId
            requests[request.id] = submission.continuation
            core.submit(request, now: now)
        }
        metrics.requests.increment(by: submissions.count)
        run()
    }

    func dropWatcher(_ watcher: WatcherID) {
        watchers[watcher] = nil
        core.dropWatcher(watcher)
    }

    func close(then continuation: CheckedContinuation<Void, Never>) {
        if core.state.isTerminal { return continuation.resume() }
        closeWaiters.append(continuation)
        core.close(now: now)
        run()
    }

    func run() {
        var closed: [CheckedContinuation<Void, Never>] = []
        for action in core.takeActions() {
            switch action {
            case .connect(let host):
                metrics.connectionAttempts.increment()
                connect(host)
            case .send(let buffer):
                // Written now, flushed once per turn of the loop (the core puts the frames of one
                // turn in one buffer already).
                guard let channel else { continue }
                channel.write(buffer, promise: nil)
                if !flushScheduled {
                    flushScheduled = true
                    let bound = NIOLoopBound(self, eventLoop: loop)
                    loop.execute {
                        bound.value.flushScheduled = false
                        bound.value.channel?.flush()
                    }
                }
            case .closeConnection:
                generation += 1
                channel?.close(promise: nil)
                channel = nil
            case .complete(let id, let result):
                guard let continuation = requests.removeValue(forKey: id) else { continue }
                switch result {
                case .success(let reply): continuation.resume(returning: reply)
                case .failure(let error):
                    metrics.failed(error.code)
                    continuation.resume(throwing: error)
                }
            case .watch(let id, let event, let final):
                metrics.watchEvents.increment()
                guard let watcher = watchers[id] else { continue }
                watcher.fired.withLockedValue { $0 = true }
                watcher.events.yield(event)
                if final { watchers.removeValue(forKey: id)?.events.finish() }
            case .endWatch(let id, let error):
                guard let watcher = watchers.removeValue(forKey: id) else { continue }
                watcher.fired.withLockedValue { $0 = true }
                watcher.events.finish(throwing: error)
            case .state(let state):
                logger.info("connection state: \(state)")
                metrics.states.record(state)
                // Before any listener hears of it: whoever wakes on `connected` reads `state`.
                publish()
                for listener in stateListeners { listener.yield(state) }
                if state.isTerminal {
                    for listener in stateListeners { listener.finish() }
                    stateListeners.removeAll()
                    closed += closeWaiters
                    closeWaiters.removeAll()
                    ticker?.cancel()
                }
            }
        }
        // (core.checkInvariants() is for tests: it walks every request in flight.)
        publish()
        // After the snapshot: a caller of close() sees the closed state.
        for waiter in closed { waiter.resume() }
    }

    /// Copies what the public properties read, when it changed.
    func publish() {
        guard published != (core.state, core.sessionId, core.negotiatedTimeoutMs, core.lastZxidSeen) else { return }
        published = (core.state, core.sessionId, core.negotiatedTimeoutMs, core.lastZxidSeen)
        snapshot.withLockedValue {
            $0.state = core.state
            $0.sessionId = core.sessionId
            $0.timeoutMs = core.negotiatedTimeoutMs
            $0.lastZxid = core.lastZxidSeen
        }
    }

    private func connect(_ host: ConnectString.Host) {
        generation += 1
        let attempt = generation
        let bound = NIOLoopBound(self, eventLoop: loop)
        ClientBootstrap(group: loop)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.milliseconds(core.connectTimeoutMs))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ClientChannelHandler(shell: bound, generation: attempt))
                }
            }
            .connect(host: host.host, port: host.port)
            .whenComplete { result in
                let shell = bound.value
                guard attempt == shell.generation else {
                    if case .success(let channel) = result { channel.close(promise: nil) }
                    return
                }
                switch result {
                case .success(let channel):
                    shell.channel = channel
                    shell.core.connected(now: shell.now)
                case .failure(let error):
                    shell.logger.debug("cannot connect to \(host): \(error)")
                    shell.core.disconnected(now: shell.now)
                }
                shell.run()
            }
    }

    func received(_ buffer: inout ByteBuffer, generation: Int) {
        guard generation == self.generation else { return }
        core.received(&buffer, now: now)
        run()
    }

    func channelClosed(generation: Int) {
        guard generation == self.generation else { return }
        channel = nil
        core.disconnected(now: now)
        run()
    }
}

/// Runs jobs on an event loop (see `PaddockClient.taskExecutor`).
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// A request on its way to the event loop, with the watcher it may leave.
struct Submission: Sendable {
    struct Watcher: Sendable {
        var id: WatcherID
        var events: AsyncThrowingStream<WatchEvent, any Error>.Continuation
        var fired: NIOLockedValueBox<Bool>
    }
    var request: PendingRequest
    var continuation: UnsafeContinuation<Reply, any Error>
    var watcher: Watcher?
}

/// Where callers leave requests for the event loop: one hop to the loop takes all that are
/// waiting, instead of one hop per request (many tasks submitting at once wake the loop once).
final class SubmissionMailbox: Sendable {
    private let waiting = NIOLockedValueBox<(submissions: [Submission], scheduled: Bool)>(([], false))
    private let shell: NIOLoopBoundBox<ClientShell>
    private let loop: any EventLoop

    init(shell: NIOLoopBoundBox<ClientShell>, loop: any EventLoop) {
        self.shell = shell
        self.loop = loop
    }

    var debugDescription: String { waiting.withLockedValue { "\($0.submissions.count) waiting, scheduled \($0.scheduled)" } }

    func post(_ submission: Submission) {
        let wake = waiting.withLockedValue { waiting in
            waiting.submissions.append(submission)
            defer { waiting.scheduled = true }
            return !waiting.scheduled
        }
        guard wake else { return }
        let shell = self.shell, waiting = self.waiting
        loop.execute {
            // Two arrays trade places (the loop's emptied one becomes the posters' next), so
            // steady traffic allocates no array: one grown by the callers' threads and freed by
            // the loop's contended malloc's arena lock.
            let loopSide = shell.value
            var taken: [Submission] = []
            swap(&taken, &loopSide.spareSubmissions)
            waiting.withLockedValue { waiting in
                swap(&waiting.submissions, &taken)
                waiting.scheduled = false
            }
            loopSide.submit(taken)
            guard taken.capacity <= loopSide.core.limits.reusedSubmissionCapacityMax else { return }
            taken.removeAll(keepingCapacity: true)
            loopSide.spareSubmissions = taken
        }
    }
}

final class ClientChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let shell: NIOLoopBound<ClientShell>
    let generation: Int

    init(shell: NIOLoopBound<ClientShell>, generation: Int) {
        self.shell = shell
        self.generation = generation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        shell.value.received(&buffer, generation: generation)
    }

    func channelInactive(context: ChannelHandlerContext) {
        shell.value.channelClosed(generation: generation)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// The client's counters through swift-metrics (the application picks the backend):
/// `paddock_client_requests_total`, `paddock_client_errors_total{code}`,
/// `paddock_client_watch_events_total`, `paddock_client_connection_attempts_total`,
/// `paddock_client_state_changes_total{state}`.
final class ClientMetrics {
    let requests = Counter(label: "paddock_client_requests_total")
    let watchEvents = Counter(label: "paddock_client_watch_events_total")
    let connectionAttempts = Counter(label: "paddock_client_connection_attempts_total")
    let states = StateCounters()
    private var errors: [ErrorCode: Counter] = [:]

    func failed(_ code: ErrorCode) {
        if let counter = errors[code] { return counter.increment() }
        let counter = Counter(label: "paddock_client_errors_total", dimensions: [("code", "\(code)")])
        errors[code] = counter
        counter.increment()
    }

    final class StateCounters {
        private var counters: [ConnectionState: Counter] = [:]
        func record(_ state: ConnectionState) {
            if let counter = counters[state] { return counter.increment() }
            let counter = Counter(label: "paddock_client_state_changes_total", dimensions: [("state", "\(state)")])
            counters[state] = counter
            counter.increment()
        }
    }
}
