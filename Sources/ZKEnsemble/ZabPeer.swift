import Dispatch
import Glibc
import Logging
import NIOCore
import NIOPosix
import ZKBase
import ZKWire
import ZKZab

/// The shell around one member's `ZabNode`: the election port (QuorumCnxManager's handshake and
/// connection rule, notification frames), the quorum port (the leader listens; a learner
/// connects), a tick timer and a `ZabStore`. Everything runs on one event loop; the core's
/// actions are carried out in order in `run`.
public final class ZabPeer: @unchecked Sendable {
    public let configuration: ZabConfiguration
    let addresses: [ServerID: PeerAddress]
    let store: any ZabStore
    let loop: any EventLoop
    let group: any EventLoopGroup
    let tickMs: Int64
    let logger: Logger
    var node: ZabNode
    var electionServer: (any Channel)?
    var quorumServer: (any Channel)?
    /// The one election connection kept per peer (initiated by the larger id).
    var electionChannels: [ServerID: any Channel] = [:]
    var electionConnecting: Set<ServerID> = []
    /// ZooKeeper keeps only the newest unsent notification per peer.
    var electionPending: [ServerID: ElectionNotification] = [:]
    /// The last notification sent to each peer: sent again on every new connection to it, as
    /// QuorumCnxManager's SendWorker does (a message written to a connection that then broke may
    /// never have arrived, and the election would otherwise wait for a resend timer that backs
    /// off to 60 s).
    var electionLastSent: [ServerID: ElectionNotification] = [:]
    var quorumChannels: [LinkID: any Channel] = [:]
    /// Snapshot streams being sent (SNAP sync), and the messages for those links held until
    /// each stream has been written.
    var outgoingSnapshots: [LinkID: OutgoingSnapshot] = [:]
    /// The latest proposal ACK read from each learner, and COMMIT from the leader, not yet
    /// given to the core.
    var pendingAcks: [LinkID: Zxid] = [:]
    var pendingCommits: [LinkID: Zxid] = [:]
    var unflushed: Set<LinkID> = []
    /// Leader, for metrics: per learner link, the packets written since its last flush (its
    /// queue, as LearnerHandler's queuedPackets), how many were ever written, and when each
    /// 1000th was written (LearnerHandler's marker packets, monotonic ns).
    var learnerQueues: [LinkID: (queued: Int, written: Int64, markers: [UInt64])] = [:]
    var flushScheduled = false
    var quorumBinding = false
    var nextInboundLink: UInt64 = 1
    var tickTask: RepeatedTask?
    public private(set) var role: ZabRole = .looking
    /// Leader: everything through this zxid is committed (nil when not leading).
    public var leaderCommittedZxid: Zxid? { node.leaderCommittedZxid }
    var onRoleChange: (@Sendable (ZabRole) -> Void)?
    /// The request pipeline above, when there is one (`paddock server`); without it session
    /// actions are answered as "nothing known" (`paddock debug zab-peer`).
    public weak var serverLayer: (any ZabServerLayer)?

    public init(configuration: ZabConfiguration, addresses: [PeerAddress], store: any ZabStore, group: any EventLoopGroup,
                tickMs: Int64, logger: Logger) throws {
        self.configuration = configuration
        self.addresses = Dictionary(uniqueKeysWithValues: addresses.map { ($0.id, $0) })
        self.store = store
        self.group = group
        self.loop = group.next()
        self.tickMs = tickMs
        self.logger = logger
        self.node = ZabNode(configuration: configuration, persistent: try store.load())
        precondition(self.addresses[configuration.myId] != nil, "no address for myid \(configuration.myId)")
    }

    var me: PeerAddress { addresses[configuration.myId]! }

    /// Binds the election port (trying up to `bindAttempts` times a second apart, 0 = forever:
    /// ZooKeeper's electionPortBindRetry, for a port another socket still holds), starts ticking
    /// and the first election.
    public func start(bindAttempts: Int = 1, onRoleChange: (@Sendable (ZabRole) -> Void)? = nil) throws {
        self.onRoleChange = onRoleChange
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ElectionDecoder(expectsHandshake: true)))
                    try channel.pipeline.syncOperations.addHandler(ElectionHandler(peer: self, remote: nil))
                }
            }
        var attempt = 0
        while true {
            attempt += 1
            do {
                electionServer = try bootstrap.bind(host: me.host, port: me.electionPort).wait()
                break
            } catch {
                guard bindAttempts == 0 || attempt < bindAttempts else { throw error }
                logger.warning("cannot bind the election port \(me.electionPort) (attempt \(attempt)): \(error); retrying in 1 s")
                usleep(1_000_000)
            }
        }
        try loop.submit {
            self.tickTask = self.loop.scheduleRepeatedTask(initialDelay: .milliseconds(self.tickMs), delay: .milliseconds(self.tickMs)) { _ in
                self.handle(.tick)
            }
            self.run(self.node.start())
        }.wait()
    }

    public func stop() {
        try? loop.submit {
            self.tickTask?.cancel()
            for channel in self.electionChannels.values { channel.close(promise: nil) }
            for channel in self.quorumChannels.values { channel.close(promise: nil) }
            self.electionServer?.close(promise: nil)
            self.quorumServer?.close(promise: nil)
        }.wait()
    }

    /// The current role, read on the loop.
    public func currentRole() -> ZabRole {
        (try? loop.submit { self.role }.wait()) ?? .looking
    }

    func handle(_ input: ZabInput) {
        loop.preconditionInEventLoop()
        run(node.handle(input))
        #if DEBUG
        // The whole-value check walks every entry held: on in debug builds (every test run),
        // off in release, where the preconditions inside the core still hold the line.
        node.checkInvariants()
        #endif
    }

    /// An input from the server above (client writes, requests, session touches); on the loop.
    public func input(_ input: ZabInput) { handle(input) }

    /// The core's view, for status output; on the loop.
    public var lastLoggedZxid: Zxid { node.lastLoggedZxid }
    public var appliedZxid: Zxid { node.appliedZxid }
    public var currentEpoch: Int64 { node.currentEpoch }
    public var leaderStatus: ZabLeaderStatus? { node.leaderStatus }
    public var electionRound: Int64 { node.electionRound }
    public var acceptedEpoch: Int64 { node.acceptedEpoch }

    func logPeerError(_ what: String, _ error: any Error) {
        logger.warning("closing \(what): \(error)")
    }

    // MARK: - Actions

    func run(_ actions: [ZabAction]) {
        for action in actions { run(action) }
        if !unflushed.isEmpty && !flushScheduled {
            flushScheduled = true
            loop.execute { self.flushQuorumWrites() }
        }
    }

    /// Quorum messages written during one turn of the loop leave with one flush per connection
    /// (a burst of proposals or ACKs is one syscall, not one per message).
    func flushQuorumWrites() {
        flushScheduled = false
        guard !unflushed.isEmpty else { return }
        for link in unflushed { quorumChannels[link]?.flush() }
        unflushed.removeAll(keepingCapacity: true)
        reportLearnerQueues()
    }

    func noteLearnerPacketQueued(_ link: LinkID) {
        var queue = learnerQueues[link] ?? (0, 0, [])
        // LearnerHandler.queuePacket puts a marker before every 1000th packet.
        if queue.written % 1000 == 0 { queue.markers.append(DispatchTime.now().uptimeNanoseconds) }
        queue.queued += 1
        queue.written += 1
        learnerQueues[link] = queue
    }

    /// The flush sent every learner's queued packets: the server layer records, per packet, how
    /// many were still queued behind it, and each marker's wait.
    func reportLearnerQueues() {
        guard let serverLayer, !learnerQueues.isEmpty else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        for (link, queue) in learnerQueues where queue.queued > 0 {
            learnerQueues[link]?.queued = 0
            learnerQueues[link]?.markers.removeAll()
            guard let sid = node.learnerServerID(of: link) else { continue }
            serverLayer.zabLearnerQueueDrained(sid, queuedBehind: queue.queued,
                                               markerWaitNanoseconds: queue.markers.map { Int64(now - min(now, $0)) })
        }
    }

    func run(_ action: ZabAction) {
        switch action {
        case .sendElection(let to, let notification):
            sendElection(notification, to: to)
        case .connect(let link, let to):
            connectQuorum(link, to: to)
        case .send(let link, let message):
            guard let channel = quorumChannels[link] else { return }
            serverLayer?.zabQuorumMessage(message, sent: true)
            if let mode = Self.syncMode(message) { logger.info("syncing the learner on \(link) by \(mode)") }
            if outgoingSnapshots[link] != nil {
                return queueBehindSnapshot(ByteBuffer(bytes: message.wireBytes()), link: link)
            }
            if case .snap = message {
                channel.write(ByteBuffer(bytes: message.quorumPacket.encodedBytes()), promise: nil)
            } else {
                channel.write(ByteBuffer(bytes: message.wireBytes()), promise: nil)
                unflushed.insert(link)
                if serverLayer != nil, node.learnerServerID(of: link) != nil { noteLearnerPacketQueued(link) }
            }
        case .sendSnapshot(let link, let through):
            guard quorumChannels[link] != nil else { return }
            logger.info("syncing the learner on \(link) by SNAP at \(through) (streamed)")
            outgoingSnapshots[link] = OutgoingSnapshot(source: store.snapshotSource(through: through), zxid: through,
                                                       startedNs: DispatchTime.now().uptimeNanoseconds)
            sendSnapshotPart(link)
        case .close(let link, let reason):
            logger.info("closing \(link): \(reason)")
            outgoingSnapshots[link] = nil
            learnerQueues[link] = nil
            pendingAcks[link] = nil
            pendingCommits[link] = nil
            quorumChannels.removeValue(forKey: link)?.close(promise: nil)
        case .appendLog(let entries):
            let loop = self.loop
            store.append(entries) { zxid in loop.execute { self.handle(.persisted(through: zxid)) } }
        case .truncateLog(let zxid):
            storeOrStop { try self.store.truncate(after: zxid) }
        case .saveEpochs(let accepted, let current):
            storeOrStop { try self.store.saveEpochs(accepted: accepted, current: current) }
        case .installSnapshot(let zxid, let snapshot):
            storeOrStop { try self.store.installSnapshot(zxid, snapshot) }
        case .apply(let entries):
            store.apply(entries)
        case .roleChanged(let newRole):
            roleChanged(newRole)
        case .quitLeading(let reason):
            logger.info("quit leading: \(reason)")
            serverLayer?.zabQuitLeading(reason)
        case .writeRefused, .prepare, .syncDone, .requestRefused, .sessionsTouched, .revalidationDone, .revalidateSession:
            if let serverLayer {
                serverLayer.zabSessionAction(action)
            } else {
                runWithoutServer(action)
            }
        }
    }

    func runWithoutServer(_ action: ZabAction) {
        switch action {
        case .writeRefused(let reason):
            logger.debug("write refused: \(reason)")
        case .prepare(let request, let sid):
            // The session layer (prep of forwarded writes) is not wired to this shell yet.
            logger.warning("cannot prepare forwarded request \(request.cxid) of session \(request.sessionId) from \(sid): no request pipeline")
        case .syncDone, .requestRefused, .sessionsTouched, .revalidationDone:
            break
        case .revalidateSession(let touch, let link, _):
            // No session layer: no session is known to be alive.
            handle(.revalidationAnswer(link: link, sessionId: touch.sessionId, valid: false))
        default:
            break
        }
    }

    /// A durable-state write that fails leaves the member unable to keep its promises: stop.
    func storeOrStop(_ body: () throws -> Void) {
        do { try body() } catch {
            logger.critical("stopping: ZAB state could not be written: \(error)")
            preconditionFailure("ZAB state could not be written: \(error)")
        }
    }

    func roleChanged(_ newRole: ZabRole) {
        logger.info("ZAB role: \(newRole)")
        role = newRole
        onRoleChange?(newRole)
        serverLayer?.zabRoleChanged(newRole)
        if case .leading = newRole {
            if quorumServer == nil && !quorumBinding { bindQuorumPort() }
        } else if let server = quorumServer {
            server.close(promise: nil)
            quorumServer = nil
        }
    }

    // MARK: - Election port

    func sendElection(_ notification: ElectionNotification, to sid: ServerID) {
        electionLastSent[sid] = notification
        if let channel = electionChannels[sid] {
            channel.writeAndFlush(ByteBuffer(bytes: notification.wireMessage.frameBytes()), promise: nil)
        } else {
            electionPending[sid] = notification
            connectElection(to: sid)
        }
    }

    /// QuorumCnxManager.connectOne: open a connection and send the initial message. Only a
    /// connection opened by the larger id is kept; to a larger id we send the initial message and
    /// close, and it connects back.
    func connectElection(to sid: ServerID) {
        guard let address = addresses[sid], !electionConnecting.contains(sid) else { return }
        electionConnecting.insert(sid)
        let keep = sid < configuration.myId
        let bootstrap = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.milliseconds(5000))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ElectionDecoder(expectsHandshake: false)))
                    try channel.pipeline.syncOperations.addHandler(ElectionHandler(peer: self, remote: keep ? sid : nil))
                }
            }
        bootstrap.connect(host: address.host, port: address.electionPort).whenComplete { result in
            self.electionConnecting.remove(sid)
            guard case .success(let channel) = result else { return }
            var handshake = channel.allocator.buffer(capacity: 64)
            ElectionHandshake(serverId: self.configuration.myId, address: "\(self.me.host):\(self.me.electionPort)").encode(into: &handshake)
            if keep {
                channel.writeAndFlush(handshake, promise: nil)
                self.registerElectionChannel(channel, for: sid)
            } else {
                channel.writeAndFlush(handshake).whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }

    /// handleConnection: keep a connection from a larger id; answer a smaller id by connecting to it.
    func electionHandshake(from sid: ServerID, channel: any Channel) {
        guard addresses[sid] != nil, sid != configuration.myId else {
            logger.warning("election connection from unknown server id \(sid): closing")
            channel.close(promise: nil)
            return
        }
        if sid < configuration.myId {
            channel.close(promise: nil)
            electionChannels.removeValue(forKey: sid)?.close(promise: nil)
            connectElection(to: sid)
        } else {
            registerElectionChannel(channel, for: sid)
        }
    }

    func registerElectionChannel(_ channel: any Channel, for sid: ServerID) {
        if let old = electionChannels[sid], old !== channel { old.close(promise: nil) }
        electionChannels[sid] = channel
        if let message = electionPending.removeValue(forKey: sid) ?? electionLastSent[sid] {
            channel.writeAndFlush(ByteBuffer(bytes: message.wireMessage.frameBytes()), promise: nil)
        }
    }

    func electionMessage(_ message: ElectionNotificationMessage, from sid: ServerID) {
        guard let notification = ElectionNotification(message: message, sender: sid) else { return }
        handle(.election(notification))
    }

    func electionChannelClosed(_ sid: ServerID, _ channel: any Channel) {
        if electionChannels[sid] === channel { electionChannels[sid] = nil }
    }

    // MARK: - Quorum port

    func bindQuorumPort() {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let link = LinkID(self.nextInboundLink)
                self.nextInboundLink += 1
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(QuorumDecoder(snapshotSinks: nil)))
                    try channel.pipeline.syncOperations.addHandler(QuorumHandler(peer: self, link: link))
                    self.quorumChannels[link] = channel
                    self.handle(.linkAccepted(link))
                }
            }
        quorumBinding = true
        bootstrap.bind(host: me.host, port: me.quorumPort).whenComplete { result in
            self.quorumBinding = false
            switch result {
            case .success(let channel):
                // Leadership may have ended while the port was being bound.
                if case .leading = self.role { self.quorumServer = channel } else { channel.close(promise: nil) }
            case .failure(let error):
                self.logger.error("cannot listen on the quorum port \(self.me.quorumPort): \(error)")
            }
        }
    }

    func connectQuorum(_ link: LinkID, to sid: ServerID) {
        guard let address = addresses[sid] else { return handle(.linkClosed(link)) }
        let bootstrap = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.milliseconds(Int64(configuration.initLimitTicks) * tickMs))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(QuorumDecoder(snapshotSinks: self.store)))
                    try channel.pipeline.syncOperations.addHandler(QuorumHandler(peer: self, link: link))
                }
            }
        bootstrap.connect(host: address.host, port: address.quorumPort).whenComplete { result in
            switch result {
            case .success(let channel):
                self.quorumChannels[link] = channel
                self.handle(.linkOpened(link))
            case .failure:
                self.handle(.linkClosed(link))
            }
        }
    }

    func quorumMessage(_ message: ZabMessage, on link: LinkID) {
        // A learner's ACKs of proposals arrive in bursts (one per txn of its log batch), in zxid
        // order; the last of a burst covers the others (ZabNode.proposalAcked), so the core sees
        // it alone, at the end of the read or before any other message from that learner.
        // Likewise a leader's COMMITs: each commits everything through its zxid (in every stage
        // of a learner), so the last of a burst stands for the burst.
        serverLayer?.zabQuorumMessage(message, sent: false)
        switch message {
        case .ack(let zxid) where zxid.counter != 0:
            // ZooKeeper's Leader.processAck logs ack_latency for a proposal still outstanding.
            if let serverLayer, let committed = node.leaderCommittedZxid, zxid > committed,
               let sid = node.learnerServerID(of: link) {
                serverLayer.zabAckRead(zxid, from: sid, proposal: node.entry(zxid))
            }
            pendingAcks[link] = max(pendingAcks[link] ?? zxid, zxid)
            return
        case .commit(let zxid):
            pendingCommits[link] = max(pendingCommits[link] ?? zxid, zxid)
            return
        default:
            deliverPending(link)
        }
        var problem: String?
        switch message {
        case .proposal(let entry), .inform(let entry): problem = store.checkEntry(entry)
        default: break
        }
        if let problem { return dropLink(link, "the leader sent what cannot be logged: \(problem)") }
        if let mode = Self.syncMode(message) { logger.info("the leader on \(link) syncs us by \(mode)") }
        handle(.received(link, message))
    }

    func quorumReadComplete(_ link: LinkID) { deliverPending(link) }

    /// How a leader syncs a learner, in ZooKeeper's words (what operators grep both logs for).
    static func syncMode(_ message: ZabMessage) -> String? {
        switch message {
        case .diff(let zxid): return "DIFF (the txns after our history through \(zxid) follow)"
        case .trunc(let zxid): return "TRUNC to \(zxid) (txns after it were never committed)"
        case .snap(let zxid, _): return "SNAP at \(zxid)"
        default: return nil
        }
    }

    func deliverPending(_ link: LinkID) {
        if let zxid = pendingAcks.removeValue(forKey: link) { handle(.received(link, .ack(zxid))) }
        if let zxid = pendingCommits.removeValue(forKey: link) { handle(.received(link, .commit(zxid))) }
    }

    func quorumChannelClosed(_ link: LinkID) {
        learnerQueues[link] = nil
        pendingAcks[link] = nil
        pendingCommits[link] = nil
        outgoingSnapshots[link] = nil
        guard quorumChannels.removeValue(forKey: link) != nil else { return }
        handle(.linkClosed(link))
    }
}

/// A snapshot stream on its way to a learner (SNAP sync).
struct OutgoingSnapshot {
    let source: any ZabSnapshotSource
    let zxid: Zxid
    let startedNs: UInt64
    var queued: [ByteBuffer] = []
    var queuedBytes = 0
    var sentBytes = 0
}

extension ZabPeer {
    /// Writes the next part of the link's snapshot stream, then the next on a later turn of the
    /// loop (at once while the socket takes more, else once this part has been written): the
    /// stream is read from the live state as it drains, and the loop serves everything else
    /// between parts. When the stream ends the messages held for the link follow it, in order.
    func sendSnapshotPart(_ link: LinkID) {
        guard var outgoing = outgoingSnapshots[link], let channel = quorumChannels[link] else {
            outgoingSnapshots[link] = nil
            return
        }
        let part: ByteBuffer?
        do {
            part = try outgoing.source.nextPart()
        } catch {
            return dropLink(link, "the snapshot stream at \(outgoing.zxid) cannot go on: \(error)")
        }
        guard let part else {
            outgoingSnapshots[link] = nil
            for buffer in outgoing.queued { channel.write(buffer, promise: nil) }
            channel.flush()
            let ms = (DispatchTime.now().uptimeNanoseconds - outgoing.startedNs) / 1_000_000
            logger.info("sent the snapshot at \(outgoing.zxid) to \(link): \(outgoing.sentBytes) bytes in \(ms) ms, then \(outgoing.queued.count) messages held meanwhile")
            return
        }
        outgoing.sentBytes += part.readableBytes
        outgoingSnapshots[link] = outgoing
        let written = loop.makePromise(of: Void.self)
        channel.writeAndFlush(part, promise: written)
        if channel.isWritable {
            loop.execute { self.sendSnapshotPart(link) }
        } else {
            written.futureResult.whenComplete { _ in self.sendSnapshotPart(link) }
        }
    }

    /// Closes a quorum link the shell gives up on, and tells the core.
    func dropLink(_ link: LinkID, _ reason: String) {
        logger.warning("closing \(link): \(reason)")
        outgoingSnapshots[link] = nil
        pendingAcks[link] = nil
        guard let channel = quorumChannels.removeValue(forKey: link) else { return }
        channel.close(promise: nil)
        handle(.linkClosed(link))
    }

    func queueBehindSnapshot(_ buffer: ByteBuffer, link: LinkID) {
        guard var outgoing = outgoingSnapshots[link] else { return }
        outgoing.queuedBytes += buffer.readableBytes
        guard outgoing.queuedBytes <= configuration.limits.queuedBehindSnapshotBytesMax else {
            return dropLink(link, "over \(configuration.limits.queuedBehindSnapshotBytesMax) bytes of messages waited behind its snapshot stream")
        }
        outgoing.queued.append(buffer)
        outgoingSnapshots[link] = outgoing
    }
}
