import ZKBase
import ZKWire
import ZKZab

extension Simulation {
    static func mix(_ digest: UInt64, _ entry: ZabEntry) -> UInt64 {
        var hash = digest ^ UInt64(bitPattern: entry.zxid.rawValue) &* 0x100_0000_01b3
        for byte in entry.payload { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    func encodeSnapshot(_ machine: StateMachine) -> [UInt8] {
        var bytes: [UInt8] = []
        for value in [UInt64(machine.appliedCount), machine.digest, UInt64(bitPattern: machine.appliedZxid.rawValue)] {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        return bytes
    }

    func decodeSnapshot(_ bytes: [UInt8]) -> StateMachine? {
        guard bytes.count == 24 else { return nil }
        func word(_ at: Int) -> UInt64 { bytes[at..<at + 8].reduce(0) { $0 << 8 | UInt64($1) } }
        return StateMachine(appliedCount: Int(word(0)), appliedZxid: Zxid(Int64(bitPattern: word(16))), digest: word(8))
    }

    /// Every member applies the one committed sequence: the entry at each position is the same
    /// everywhere (same zxid, same bytes), and so is the digest after it.
    func apply(_ id: ServerID, _ entry: ZabEntry) {
        var machine = members[id]!.machine
        let position = machine.appliedCount
        if position < committed.count {
            let expected = committed[position]
            guard expected == entry else {
                return fail("\(id) applied \(entry.zxid) (\(String(decoding: entry.payload, as: UTF8.self))) at position \(position) where the committed sequence has \(expected.zxid) (\(String(decoding: expected.payload, as: UTF8.self)))")
            }
        } else {
            if let last = committed.last, entry.zxid <= last.zxid {
                return fail("\(id) committed \(entry.zxid) after \(last.zxid)")
            }
            committed.append(entry)
            committedDigests.append(Simulation.mix(committedDigests.last ?? 0, entry))
            committedIndex[entry.zxid] = committed.count - 1
        }
        if case .leading(_, true)? = members[id]!.zab?.role { checkDurableOnQuorum(entry, committedBy: id) }
        machine.digest = Simulation.mix(machine.digest, entry)
        machine.appliedCount += 1
        machine.appliedZxid = entry.zxid
        if machine.digest != committedDigests[position] {
            return fail("\(id)'s digest at \(entry.zxid) differs from the committed sequence's")
        }
        members[id]!.machine = machine
        if let write = pendingWrites[entry.payload], write.member == id, write.incarnation == members[id]!.incarnation {
            pendingWrites[entry.payload] = nil
            acknowledged[entry.zxid] = entry.payload
            if probeWrites.contains(entry.payload) { probeAcknowledged = true }
        }
    }

    /// When a leader commits a txn, a quorum of voters must hold it durably (in their synced log
    /// or in a snapshot that covers it): the direct statement of "committed", checked on the disks.
    func checkDurableOnQuorum(_ entry: ZabEntry, committedBy leader: ServerID) {
        var holders = 0
        for id in voterIds {
            let disk = members[id]!.disk
            if disk.snapshot.appliedZxid >= entry.zxid, disk.snapshot.appliedCount > 0,
               let index = committedIndex[entry.zxid], index < disk.snapshot.appliedCount {
                holders += 1
                continue
            }
            if let found = Simulation.durableEntry(disk.entries, entry.zxid), found == entry { holders += 1 }
        }
        if holders * 2 <= voterIds.count {
            fail("leader \(leader) committed \(entry.zxid) held durably by only \(holders) of \(voterIds.count) voters")
        }
    }

    static func durableEntry(_ entries: [ZabEntry], _ zxid: Zxid) -> ZabEntry? {
        var low = 0
        var high = entries.count - 1
        while low <= high {
            let middle = (low + high) / 2
            if entries[middle].zxid == zxid { return entries[middle] }
            if entries[middle].zxid < zxid { low = middle + 1 } else { high = middle - 1 }
        }
        return nil
    }

    func installSnapshot(_ id: ServerID, _ zxid: Zxid, _ bytes: [UInt8]) {
        guard let state = try? ZooKeeperSnapshotStream.minimalRootData(bytes), let machine = decodeSnapshot(state),
              machine.appliedZxid == zxid else {
            return fail("\(id) got a snapshot that does not decode or is not at \(zxid)")
        }
        if machine.appliedCount > 0 {
            let index = machine.appliedCount - 1
            guard index < committed.count, committed[index].zxid == zxid, committedDigests[index] == machine.digest else {
                return fail("\(id) got a snapshot at \(zxid) that is not a prefix of the committed sequence")
            }
        }
        members[id]!.machine = machine
        members[id]!.disk.snapshot = machine
        if options.serverLayer {
            guard let tree = sentSnapshotTrees[bytes], tree.lastProcessedZxid == zxid.rawValue else {
                return fail("\(id) got a snapshot at \(zxid) whose tree is not at that zxid")
            }
            members[id]!.disk.tree = tree
            withServer(id) { core, outputs in core.replaceTree(tree, monotonicMs: serverTime, into: &outputs) }
        }
        members[id]!.disk.entries.removeAll()
        members[id]!.disk.pending.removeAll()
        trace("\(id) installs a snapshot at \(zxid) (\(machine.appliedCount) txns)")
    }

    func roleChanged(_ id: ServerID, _ role: ZabRole) {
        let previous = members[id]!.lastRole
        members[id]!.lastRole = role
        guard role != previous else { return }
        trace("\(id) is \(role)")
        if case .looking = role { report.elections += 1 }
        guard case .leading(let epoch, true) = role else { return }
        maybeCrashInWindow(id)
        if let other = leadersByEpoch[epoch], other != id {
            return fail("two leaders established in epoch \(epoch): \(other) and \(id)")
        }
        leadersByEpoch[epoch] = id
        // A new leader must hold every write acknowledged in an earlier epoch (its history is
        // what survives). A leader of an older epoch that completes late may be stale: it can
        // no longer commit anything, since a quorum has moved to the later epoch.
        guard let zab = members[id]!.zab else { return }
        for (zxid, payload) in acknowledged where zxid.epoch < epoch && zxid > zab.appliedZxid {
            return fail("leader \(id) of epoch \(epoch) was established at \(zab.appliedZxid) without acknowledged write \(zxid) (\(String(decoding: payload, as: UTF8.self)))")
        }
        let position = members[id]!.machine.appliedCount
        for (zxid, payload) in acknowledged where zxid.epoch < epoch {
            guard let index = committedIndex[zxid], committed[index].payload == payload, index < position else {
                return fail("leader \(id) of epoch \(epoch) lost acknowledged write \(zxid)")
            }
        }
    }

    func checkConverged() {
        guard probeAcknowledged else { return }
        guard probeSyncDone else {
            // Syncs asked of members that crashed or restarted since will never answer.
            syncChecks = syncChecks.filter { members[$0.value.member]!.up && members[$0.value.member]!.incarnation == $0.value.incarnation }
            if syncChecks.isEmpty { submitSync() }
            return
        }
        var leader: ServerID?
        for id in memberIds {
            guard let member = members[id], member.up, member.pausedUntil == nil, let zab = member.zab, zab.isServing else { return }
            if case .leading = zab.role { leader = id }
        }
        guard let leader, let target = members[leader]!.zab?.appliedZxid else { return }
        for id in memberIds where members[id]!.zab?.appliedZxid != target { return }
        converged = true
        trace("converged: leader \(leader), every member applied through \(target)")
    }

    func finalChecks() {
        guard converged else { return }
        finalServerChecks()
        guard failure == nil else { return }
        guard !acknowledged.isEmpty else { return fail("no write was acknowledged: the run proves nothing") }
        let reference = members[memberIds[0]]!.machine
        for id in memberIds {
            let machine = members[id]!.machine
            guard machine.appliedCount == reference.appliedCount, machine.digest == reference.digest else {
                return fail("\(id) ends at \(machine.appliedZxid) digest \(machine.digest), \(memberIds[0]) at \(reference.appliedZxid) digest \(reference.digest)")
            }
            // Durable logs agree with the committed sequence wherever they hold the same zxid.
            for entry in members[id]!.disk.entries {
                if let index = committedIndex[entry.zxid], committed[index] != entry {
                    return fail("\(id)'s log holds \(entry.zxid) with other bytes than the committed txn")
                }
            }
        }
        for (zxid, payload) in acknowledged {
            guard let index = committedIndex[zxid], committed[index].payload == payload, index < reference.appliedCount else {
                return fail("acknowledged write \(zxid) is missing at the end")
            }
        }
    }
}
