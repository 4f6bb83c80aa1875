import NIOCore
import ZKBase
import ZKWire
import ZKZab

extension Simulation {
    func process(_ kind: EventKind) {
        switch kind {
        case .tick(let id, let incarnation):
            guard let member = members[id], member.up, member.incarnation == incarnation else { return }
            schedule(.tick(id, incarnation: incarnation), at: now + member.tickPeriod)
            if member.pausedUntil != nil { return }
            deliver(id, .tick)
            serverTick(id)
        case .election(let from, let to, let bytes):
            guard let member = members[to], member.up else { return }
            if let until = member.pausedUntil {
                schedule(kind, at: until + 1)
                return
            }
            guard let notification = decodeElection(bytes, from: from) else { return }
            deliver(to, .election(notification))
        case .connect(let from, let link, let to, let incarnation):
            // A paused process neither dials nor accepts (its kernel would queue the accept; we
            // hold the whole handshake until both run).
            if let until = [members[from]?.pausedUntil, members[to]?.pausedUntil].compactMap({ $0 }).max() {
                schedule(kind, at: until + 1)
                return
            }
            connect(from: from, link: link, to: to, incarnation: incarnation)
        case .deliver(let index, let side, let number, let bytes):
            let target = links[index].ends[side]
            let source = links[index].ends[1 - side].member
            // After a graceful close by the sender, what it sent before still arrives.
            guard links[index].open || links[index].drainFrom == source else { return }
            guard let member = members[target.member], member.up,
                  links[index].open || member.incarnation == links[index].incarnations[side] else { return }
            if number != links[index].delivered[side] {
                // An earlier message of this stream is still held back: keep the order.
                schedule(kind, at: now + 1)
                return
            }
            if let until = member.pausedUntil {
                // A paused process reads nothing; the bytes wait in its socket buffer.
                schedule(kind, at: until + 1)
                return
            }
            if blocked.contains([source, target.member]) {
                // A one-way cut: TCP keeps retransmitting; the bytes arrive once the route is back
                // (or never, if either side gives up on the connection first).
                schedule(kind, at: now + 20)
                return
            }
            links[index].delivered[side] += 1
            guard let message = decodeQuorum(bytes) else { return }
            deliver(target.member, .received(target.link, message))
            _ = number
        case .linkClosed(let id, let link, let incarnation):
            guard let member = members[id], member.up, member.incarnation == incarnation else { return }
            if let until = member.pausedUntil {
                schedule(kind, at: until + 1)
                return
            }
            deliver(id, .linkClosed(link))
        case .diskDone(let id, let incarnation):
            // The write reaches the disk while the process is stopped; it hears of it on resume.
            if let until = members[id]?.pausedUntil, members[id]?.incarnation == incarnation {
                schedule(kind, at: until + 1)
                return
            }
            diskDone(id, incarnation)
        case .crash(let id, let incarnation):
            guard !healed, members[id]?.up == true, members[id]?.incarnation == incarnation else { return }
            trace("\(id) crashes in a sync window")
            crash(id)
        case .clock:
            schedule(.clock, at: now + options.stepsPerTick)
        case .resume(let id):
            guard members[id]?.pausedUntil != nil, now >= members[id]!.pausedUntil! || healed else { return }
            members[id]!.pausedUntil = nil
            trace("\(id) resumes")
        }
    }

    func perform(_ id: ServerID, _ actions: [ZabAction]) {
        for action in actions {
            guard failure == nil, members[id]?.up == true else { return }
            perform(id, action)
        }
    }

    func perform(_ id: ServerID, _ action: ZabAction) {
        if serverAction(id, action) { return }
        switch action {
        case .sendElection(let to, let notification):
            guard canTalk(id, to), !chance(dropProbability) else { return }
            let bytes = notification.wireMessage.frameBytes()
            schedule(.election(from: id, to: to, bytes), at: now + delay())
            if chance(options.duplicateProbability) { schedule(.election(from: id, to: to, bytes), at: now + delay() * 2) }
        case .connect(let link, let to):
            schedule(.connect(from: id, link, to: to, incarnation: members[id]!.incarnation), at: now + delay())
        case .send(let link, let message):
            send(id, link, message)
        case .sendSnapshot(_, let through):
            if members[id]!.machine.appliedZxid != through {
                fail("\(id) asked to send a snapshot at \(through) but its state is at \(members[id]!.machine.appliedZxid)")
            }
        case .close(let link, let reason):
            guard let index = members[id]!.links[link] else { return }
            trace("\(id) closes \(link): \(reason)")
            closeLink(index, from: id, graceful: true)
        case .appendLog(let entries):
            appendLog(id, entries)
        case .truncateLog(let zxid):
            members[id]!.disk.entries.removeAll { $0.zxid > zxid }
            for index in members[id]!.disk.pending.indices { members[id]!.disk.pending[index].entries.removeAll { $0.zxid > zxid } }
            report.truncSyncs += 1
            trace("\(id) truncates its log after \(zxid)")
        case .saveEpochs(let accepted, let current):
            let raised = current > members[id]!.disk.currentEpoch
            members[id]!.disk.acceptedEpoch = accepted
            members[id]!.disk.currentEpoch = current
            if raised, case .following? = members[id]!.zab?.role { maybeCrashInWindow(id) }
        case .installSnapshot(let zxid, let bytes):
            installSnapshot(id, zxid, bytes)
        case .apply(let entries):
            for entry in entries { apply(id, entry) }
        case .roleChanged(let role):
            roleChanged(id, role)
        case .writeRefused:
            break
        case .quitLeading(let reason):
            trace("\(id) quits leading: \(reason)")
            if case .disloyalVoter = reason { report.quitLeadingDueToDisloyalVoter += 1 }
        case .prepare(let request, _):
            fail("\(id) got a forwarded write \(request.cxid) to prepare; the simulation forwards only syncs")
        case .syncDone(let request):
            syncDone(id, request)
        case .revalidateSession(let touch, let link, _):
            // The simulated session layer: sessions the sim created (ids above 2^32) are alive.
            deliver(id, .revalidationAnswer(link: link, sessionId: touch.sessionId, valid: touch.sessionId >= 1 << 32))
        case .revalidationDone(_, let valid):
            if valid == true { report.revalidations += 1 }
        case .sessionsTouched(let touches, let from):
            guard case .leading(_, true)? = members[id]!.zab?.role else {
                return fail("\(id) got session touches from \(from) while not an established leader")
            }
            report.sessionTouchesReported += touches.count
        case .requestRefused(let request, _):
            syncChecks[request.cxid] = nil
        }
    }

    /// Crashes a member a few steps from now with the seed's sync-window probability: where
    /// ZooKeeper's sync-phase bugs lived (between taking an epoch and making the txns durable).
    func maybeCrashInWindow(_ id: ServerID) {
        guard !healed, chance(options.syncWindowCrashProbability) else { return }
        let at = now + Int64.random(in: 0...max(1, options.diskDelayStepsMax), using: &random)
        schedule(.crash(id, incarnation: members[id]!.incarnation), at: at)
    }

    // MARK: - Wire

    /// The rules an Apache 3.8.0 learner or leader enforces (it exits, drops the learner or
    /// throws on a violation); nil when `message` keeps them.
    func checkWireRules(_ rules: inout WireRules, _ message: ZabMessage, fromLeader: Bool, toObserver: Bool) -> String? {
        if !fromLeader {
            switch message {
            case .ack(let zxid):
                if !rules.newLeaderAcknowledged {
                    guard zxid.counter == 0 else { return "ACK of \(zxid) before the NEWLEADER ACK (ZOOKEEPER-4685)" }
                    rules.newLeaderAcknowledged = true
                }
            case .ping, .request, .revalidate:
                guard rules.newLeaderAcknowledged else { return "\(message) before the NEWLEADER ACK" }
            default:
                break
            }
            return nil
        }
        switch message {
        case .leaderInfo:
            rules.leaderInfoSent = true
        case .diff, .trunc, .snap:
            guard rules.leaderInfoSent, !rules.syncModeSent else { return "\(message) out of place" }
            rules.syncModeSent = true
        case .ping:
            guard rules.newLeaderSent else { return "PING before NEWLEADER (an Apache learner exits)" }
        case .proposal(let entry):
            guard rules.syncModeSent else { return "PROPOSAL before DIFF/TRUNC/SNAP" }
            if toObserver && rules.newLeaderSent { return "PROPOSAL to an observer in broadcast" }
            rules.uncommitted.append(entry.zxid)
        case .commit(let zxid):
            if rules.newLeaderSent && !rules.upToDateSent && !toObserver {
                return "COMMIT \(zxid) between NEWLEADER and UPTODATE (an Apache 3.8.0 follower fails: ZOOKEEPER-4394)"
            }
            guard rules.uncommitted.first == zxid else {
                return "COMMIT \(zxid) but the oldest uncommitted proposal on this link is \(rules.uncommitted.first.map { "\($0)" } ?? "none") (UNMATCHED_TXN_COMMIT)"
            }
            rules.uncommitted.removeFirst()
        case .newLeader:
            guard rules.syncModeSent else { return "NEWLEADER before DIFF/TRUNC/SNAP" }
            if toObserver && !rules.uncommitted.isEmpty { return "uncommitted proposals sent to an observer in sync" }
            rules.newLeaderSent = true
        case .inform:
            guard toObserver else { return "INFORM to a follower" }
        case .sync:
            guard rules.newLeaderSent else { return "SYNC before NEWLEADER" }
        case .upToDate:
            rules.upToDateSent = true
        default:
            break
        }
        return nil
    }

    /// Every peer message crosses the simulated network as the bytes ZooKeeper would send, and
    /// is decoded by the codec the server uses; a message that does not survive is a failure.
    func decodeQuorum(_ bytes: [UInt8]) -> ZabMessage? {
        var buffer = ByteBufferAllocator().buffer(bytes: bytes)
        var decoder = QuorumStreamDecoder()
        do {
            guard let message = try decoder.next(from: &buffer), buffer.readableBytes == 0 else {
                fail("quorum message of \(bytes.count) bytes did not decode to exactly one message")
                return nil
            }
            return message
        } catch {
            fail("quorum message did not decode: \(error)")
            return nil
        }
    }

    func decodeElection(_ bytes: [UInt8], from sender: ServerID) -> ElectionNotification? {
        var buffer = ByteBufferAllocator().buffer(bytes: bytes)
        do {
            guard let payload = try ElectionNotificationMessage.readFrame(from: &buffer), buffer.readableBytes == 0,
                  let notification = ElectionNotification(message: try ElectionNotificationMessage(payload: payload), sender: sender) else {
                fail("election frame of \(bytes.count) bytes did not decode")
                return nil
            }
            return notification
        } catch {
            fail("election frame did not decode: \(error)")
            return nil
        }
    }

    // MARK: - Links

    func connect(from: ServerID, link: LinkID, to: ServerID, incarnation: Int) {
        guard let initiator = members[from], initiator.up, initiator.incarnation == incarnation else { return }
        guard canTalk(from, to), canTalk(to, from), !chance(dropProbability) else {
            schedule(.linkClosed(from, link, incarnation: incarnation), at: now + delay())
            return
        }
        let inbound = LinkID(nextInboundLink)
        nextInboundLink += 1
        links.append(Link(ends: [(from, link), (to, inbound)], lastArrival: [now, now],
                          incarnations: [members[from]!.incarnation, members[to]!.incarnation]))
        let index = links.count - 1
        members[from]!.links[link] = index
        members[to]!.links[inbound] = index
        deliver(to, .linkAccepted(inbound))
        deliver(from, .linkOpened(link))
    }

    func send(_ id: ServerID, _ link: LinkID, _ message: ZabMessage) {
        guard let index = members[id]!.links[link], links[index].open else { return }
        var message = message
        if case .snap(let zxid, _) = message {
            let state = encodeSnapshot(members[id]!.machine)
            message = .snap(zxid, snapshot: ZooKeeperSnapshotStream.encodeMinimal(rootData: state))
            if case .snap(_, let bytes) = message, let tree = members[id]!.server?.tree { sentSnapshotTrees[bytes] = tree }
            report.snapSyncs += 1
        }
        if case .diff = message { report.diffSyncs += 1 }
        let side = links[index].ends[0].member == id ? 1 : 0
        let to = links[index].ends[side].member
        // ends[0] opened the link (the learner), ends[1] accepted it (the leader).
        if let violation = checkWireRules(&links[index].rules, message, fromLeader: side == 0,
                                          toObserver: !(members[links[index].ends[0].member]?.isVoter ?? true)) {
            fail("\(id) -> \(to): \(violation)")
            return
        }
        let at = max(now + delay(), links[index].lastArrival[side])
        links[index].lastArrival[side] = at
        let number = links[index].sent[side]
        links[index].sent[side] += 1
        schedule(.deliver(link: index, side: side, sequence: number, message.wireBytes()), at: at)
    }

    /// Closes a link; each end still up hears of it after a delay (`from` closed it itself).
    /// Closes a link; each end still up hears of it after a delay (`from` closed it itself).
    /// A graceful close (the core's own `close`) still delivers what was sent before it, as TCP
    /// delivers data before the FIN; a crash or a cut loses what is in flight.
    func closeLink(_ index: Int, from: ServerID?, graceful: Bool = false) {
        guard links[index].open else { return }
        links[index].open = false
        if graceful, let from { links[index].drainFrom = from }
        for (side, end) in links[index].ends.enumerated() {
            members[end.member]?.links[end.link] = nil
            guard end.member != from, let member = members[end.member], member.up else { continue }
            let at = max(now + delay(), graceful ? links[index].lastArrival[side] + 1 : 0)
            schedule(.linkClosed(end.member, end.link, incarnation: member.incarnation), at: at)
        }
    }

    // MARK: - Disk

    func appendLog(_ id: ServerID, _ entries: [ZabEntry]) {
        var disk = members[id]!.disk
        var latency = Int64.random(in: 1...max(1, options.diskDelayStepsMax), using: &random)
        if chance(options.slowDiskProbability) { latency += Int64.random(in: 50...400, using: &random) }
        let doneAt = max(now + latency, disk.pending.last?.doneAt ?? 0)
        disk.pending.append((entries, doneAt))
        members[id]!.disk = disk
        schedule(.diskDone(id, incarnation: members[id]!.incarnation), at: doneAt)
    }

    func diskDone(_ id: ServerID, _ incarnation: Int) {
        guard let member = members[id], member.up, member.incarnation == incarnation else { return }
        var disk = member.disk
        var last: Zxid?
        while let first = disk.pending.first, first.doneAt <= now {
            disk.pending.removeFirst()
            for entry in first.entries {
                if let previous = disk.entries.last?.zxid ?? Optional(disk.snapshot.appliedZxid), entry.zxid <= previous {
                    fail("\(id)'s disk got \(entry.zxid) after \(previous)")
                }
                disk.entries.append(entry)
                last = entry.zxid
            }
        }
        members[id]!.disk = disk
        if let last { deliver(id, .persisted(through: last)) }
    }
}
