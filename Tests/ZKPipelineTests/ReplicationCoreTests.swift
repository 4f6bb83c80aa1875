import Testing
import ZKBase
import ZKPipeline
import ZKTree
import ZKWire

/// A leader core and a learner core wired by hand, the test playing ZAB: what the learner
/// forwards reaches the leader's prep, what the leader replicates is "committed" on both in
/// order. Checks the request paths of ServerCore+Replication without a network.
@Suite struct ReplicationCoreTests {
    struct Pair {
        var leader = ServerCore(configuration: CoreConfiguration(tickMs: 2000, serverId: 1), initialSessionId: 1 << 56)
        var learner = ServerCore(configuration: CoreConfiguration(tickMs: 2000, serverId: 2), initialSessionId: 2 << 56)
        var nowMs: Int64 = 1_000_000
        var learnerOutputs: [CoreOutput] = []
        var committed: [Txn] = []
        /// While set, what the leader replicates is held back (not yet committed anywhere).
        var holdCommits = false
        var held: [(Txn, UInt64)] = []

        init() {
            var ignored: [CoreOutput] = []
            leader.changeReplication(to: .leader, firstLeaderZxid: 1 << 32, monotonicMs: nowMs, into: &ignored)
            learner.changeReplication(to: .learner, monotonicMs: nowMs, into: &ignored)
        }

        /// Carries learner outputs to the leader (forwards) and commits what the leader replicates.
        mutating func settle(_ outputs: [CoreOutput]) {
            var pending = outputs
            while !pending.isEmpty {
                var next: [CoreOutput] = []
                for output in pending {
                    switch output {
                    case .forward(let request) where request.type == OpCode.sync.rawValue:
                        learner.syncDone(sessionId: request.sessionId, cxid: request.cxid, into: &next)
                    case .forward(let request):
                        var replicated: [CoreOutput] = []
                        leader.prepareForwarded(request, nowMs: nowMs, monotonicMs: nowMs, into: &replicated)
                        next += replicated
                    case .revalidate(let sessionId, let timeoutMs):
                        let valid = leader.revalidate(sessionId: sessionId, timeoutMs: timeoutMs, monotonicMs: nowMs)
                        learner.revalidated(sessionId: sessionId, valid: valid, into: &next)
                    case .replicate(let txn, let digest) where holdCommits:
                        held.append((txn, digest))
                    case .replicate(let txn, let digest):
                        var ignored: [CoreOutput] = []
                        leader.applyCommitted(txn, zooKeeperDigest: digest, into: &ignored)
                        learner.applyCommitted(txn, zooKeeperDigest: digest, into: &next)
                        committed.append(txn)
                    default:
                        learnerOutputs.append(output)
                    }
                }
                pending = next
            }
        }

        mutating func connect(_ id: ConnectionID, sessionId: Int64 = 0, password: [UInt8] = [UInt8](repeating: 0, count: 16)) {
            learner.connectionOpened(id, address: "127.0.0.1")
            var outputs: [CoreOutput] = []
            learner.connect(id, ConnectRequest(lastZxidSeen: 0, timeoutMs: 10_000, sessionId: sessionId, password: password, readOnly: false),
                            nowMs: nowMs, monotonicMs: nowMs, into: &outputs)
            settle(outputs)
        }

        mutating func send(_ id: ConnectionID, _ xid: Int32, _ opCode: OpCode, _ body: RequestBody) {
            var outputs: [CoreOutput] = []
            learner.receive(id, ClientRequest(xid: xid, opCodeRaw: opCode.rawValue, body: body), nowMs: nowMs, monotonicMs: nowMs, into: &outputs)
            settle(outputs)
        }

        func reply(_ id: ConnectionID, xid: Int32) -> (ReplyHeader, ResponseBody)? {
            for output in learnerOutputs {
                if let reply = output.reply, reply.connection == id, reply.header.xid == xid { return (reply.header, reply.body) }
            }
            return nil
        }
    }

    @Test func aLearnersSessionWritesAndSyncGoThroughTheLeaderAndAnswerInOrder() throws {
        var pair = Pair()
        pair.connect(1)
        let response = try #require(pair.learnerOutputs.compactMap { if case .connected(1, let r) = $0 { return r } else { return nil } }.first)
        #expect(response.sessionId >> 56 == 2, "the session id carries the learner's server id")
        #expect(pair.leader.tree.sessions[response.sessionId] == 10_000 && pair.learner.tree.sessions[response.sessionId] == 10_000)

        pair.send(1, 1, .create, .create(opCode: .create, CreateRequest(path: "/a", data: [1], acl: ACL.openUnsafe, flags: 0)))
        pair.send(1, 2, .setData, .setData(path: "/missing", data: [2], version: -1))
        pair.send(1, 3, .create, .create(opCode: .create, CreateRequest(path: "/e", data: nil, acl: ACL.openUnsafe, flags: 1)))
        pair.send(1, 4, .sync, .sync(path: "/a"))
        pair.send(1, 5, .getData, .getData(path: "/a", watch: false))

        let create = try #require(pair.reply(1, xid: 1))
        #expect(create.0.err == 0 && create.1 == .create(path: "/a"))
        #expect(create.0.zxid == (1 << 32) + 2, "the zxid the leader gave it")
        #expect(pair.reply(1, xid: 2)?.0.err == ErrorCode.noNode.rawValue, "the leader's prep error comes back as the error txn")
        #expect(pair.reply(1, xid: 4)?.1 == .sync(path: "/a"))
        if case .getData(let data, _)? = pair.reply(1, xid: 5)?.1 { #expect(data == [1]) } else { Issue.record("no getData reply") }
        let order = pair.learnerOutputs.compactMap { output -> Int32? in
            output.reply.flatMap { $0.connection == 1 ? $0.header.xid : nil }
        }
        #expect(order == [1, 2, 3, 4, 5], "replies leave in request order")
        #expect(pair.leader.tree.digest == pair.learner.tree.digest)
        #expect(pair.leader.digestMismatchCount == 0 && pair.learner.digestMismatchCount == 0)
    }

    @Test func theLeaderExpiresALearnersSessionAndItsEphemeralsGoEverywhere() throws {
        var pair = Pair()
        pair.connect(1)
        pair.send(1, 1, .create, .create(opCode: .create, CreateRequest(path: "/e", data: nil, acl: ACL.openUnsafe, flags: 1)))
        #expect(pair.learner.tree.node("/e") != nil)
        // The learner keeps no deadline of its own.
        var outputs: [CoreOutput] = []
        pair.learner.tick(nowMs: pair.nowMs + 60_000, monotonicMs: pair.nowMs + 60_000, into: &outputs)
        #expect(outputs.isEmpty)
        // Activity reported by the learner keeps it alive on the leader.
        let sessionId = try #require(pair.learner.sessionId(of: 1))
        pair.leader.sessionsTouched([(sessionId, 10_000)], monotonicMs: pair.nowMs + 8_000)
        pair.leader.tick(nowMs: pair.nowMs + 14_000, monotonicMs: pair.nowMs + 14_000, into: &outputs)
        #expect(outputs.isEmpty, "touched at 8 s with a 10 s timeout: alive at 14 s")
        pair.leader.tick(nowMs: pair.nowMs + 30_000, monotonicMs: pair.nowMs + 30_000, into: &outputs)
        #expect(outputs.contains { if case .replicate(let txn, _) = $0, case .closeSession = txn.body { return true } else { return false } })
        pair.settle(outputs)
        #expect(pair.leader.tree.node("/e") == nil && pair.learner.tree.node("/e") == nil)
        #expect(pair.learner.tree.sessions[sessionId] == nil)
        #expect(pair.learnerOutputs.contains { if case .close(1, _) = $0 { return true } else { return false } },
                "the client on the learner loses its connection")
    }

    @Test func aReconnectingSessionIsRevalidatedWithTheLeader() throws {
        var pair = Pair()
        pair.connect(1)
        let first = try #require(pair.learnerOutputs.compactMap { if case .connected(1, let r) = $0 { return r } else { return nil } }.first)
        // The client comes back on another connection: the leader says the session is alive.
        pair.connect(2, sessionId: first.sessionId, password: first.password)
        let second = try #require(pair.learnerOutputs.compactMap { if case .connected(2, let r) = $0 { return r } else { return nil } }.first)
        #expect(second.sessionId == first.sessionId && second.timeoutMs == 10_000)
        #expect(pair.learnerOutputs.contains { if case .close(1, _) = $0 { return true } else { return false } })
        // The leader expires it; its closeSession is not committed yet when the client returns.
        var outputs: [CoreOutput] = []
        pair.leader.tick(nowMs: pair.nowMs + 60_000, monotonicMs: pair.nowMs + 60_000, into: &outputs)
        pair.holdCommits = true
        pair.settle(outputs)
        #expect(pair.held.count == 1 && pair.learner.tree.sessions[first.sessionId] != nil, "the learner still has the session")
        pair.learnerOutputs = []
        pair.connect(3, sessionId: first.sessionId, password: first.password)
        let refused = try #require(pair.learnerOutputs.compactMap { if case .connected(3, let r) = $0 { return r } else { return nil } }.first)
        #expect(refused.sessionId == 0 && refused.timeoutMs == 0, "the leader's word wins over the learner's tree")
        #expect(pair.learnerOutputs.contains { if case .close(3, _) = $0 { return true } else { return false } })
    }

    @Test func aProposalZabRefusedIsTakenBackAndNumberingStaysInTheLeadersEpoch() throws {
        var pair = Pair()
        pair.holdCommits = true
        pair.connect(1)
        #expect(pair.held.count == 1, "the createSession is proposed")
        var outputs: [CoreOutput] = []
        let refused = try #require(pair.held.first?.0)
        pair.leader.persistFailed(from: refused.zxid, nowMs: pair.nowMs, monotonicMs: pair.nowMs, into: &outputs)
        #expect(pair.leader.lastProposedZxid == 1 << 32, "back to the epoch's start, not the old epoch's last zxid")
        pair.held = []
        pair.connect(2)
        let next = try #require(pair.held.first?.0.zxid)
        #expect(next == (Int64(1) << 32) + 1)
    }

    @Test func aRoleChangeClosesEveryConnectionAndKeepsTheTree() throws {
        var pair = Pair()
        pair.connect(1)
        pair.send(1, 1, .create, .create(opCode: .create, CreateRequest(path: "/a", data: nil, acl: ACL.openUnsafe, flags: 0)))
        let digest = pair.learner.tree.digest
        var outputs: [CoreOutput] = []
        pair.learner.changeReplication(to: .notServing, monotonicMs: pair.nowMs, into: &outputs)
        #expect(outputs.contains { if case .close(1, _) = $0 { return true } else { return false } })
        #expect(pair.learner.connectionCount == 0 && pair.learner.tree.digest == digest)
        // Not serving: a new client is turned away.
        pair.learner.connectionOpened(2, address: "127.0.0.1")
        outputs = []
        pair.learner.connect(2, ConnectRequest(lastZxidSeen: 0, timeoutMs: 10_000, sessionId: 0, password: [UInt8](repeating: 0, count: 16), readOnly: false),
                             nowMs: pair.nowMs, into: &outputs)
        #expect(outputs.contains { if case .close(2, _) = $0 { return true } else { return false } })
    }
}
