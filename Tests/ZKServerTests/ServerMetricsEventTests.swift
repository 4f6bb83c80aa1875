import Foundation
import Metrics
import MetricsTestKit
import NIOCore
import Testing
import ZKBase
@testable import ZKServer
import ZKTestSupport
import ZKWire
import ZKZab

/// Each family of ZooKeeper metrics moves when its event happens: recorded through swift-metrics
/// into MetricsTestKit's factory (handed to this server only), read with bounded waits.
@Suite struct ServerMetricsEventTests {
    /// Waits (bounded) until `condition` holds; false when it never did.
    static func eventually(timeoutMs: Int64 = 10_000, _ condition: () throws -> Bool) async throws -> Bool {
        let deadline = ZKTestSupport.monotonicMs() + timeoutMs
        while ZKTestSupport.monotonicMs() < deadline {
            if try condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return try condition()
    }

    static func counter(_ metrics: TestMetrics, _ label: String) -> Int64 {
        (try? metrics.expectCounter(label).totalValue) ?? -1
    }

    static func timerCount(_ metrics: TestMetrics, _ label: String) -> Int {
        (try? metrics.expectTimer(label).values.count) ?? 0
    }

    /// A session on a raw socket: connect, then one request at a time.
    final class Client: @unchecked Sendable {
        let socket: RawSocket
        var xid: Int32 = 0

        init(port: Int, timeoutMs: Int32 = 10_000, sessionId: Int64 = 0) throws {
            socket = try RawSocket(port: port)
            socket.send(frame(ConnectRequest(timeoutMs: timeoutMs).encodedBytes()))
            _ = try ConnectResponse.decode(bytes: socket.readFrame())
        }

        @discardableResult
        func call(_ opCode: OpCode, _ body: RequestBody) throws -> ReplyHeader {
            xid += 1
            socket.send(frame(ClientRequest(xid: xid, opCodeRaw: opCode.rawValue, body: body)))
            while true {
                var reply = ByteBufferAllocator().buffer(bytes: try socket.readFrame())
                let header = try ReplyHeader(from: &reply)
                if header.xid == xid { return header }  // notifications (xid -1) are skipped
            }
        }

        func create(_ path: String, _ data: String) throws -> ReplyHeader {
            try call(.create, .create(opCode: .create, CreateRequest(
                path: path, data: Array(data.utf8), acl: ACL.openUnsafe, flags: CreateMode.persistent.rawValue, ttl: 0)))
        }

        /// The next notification (xid -1) read, skipping nothing else (none is expected meanwhile).
        func notification() throws -> WatcherEvent {
            var reply = ByteBufferAllocator().buffer(bytes: try socket.readFrame())
            let header = try ReplyHeader(from: &reply)
            guard header.xid == SpecialXid.notification else { throw TestFailure("expected a notification, got \(header)") }
            return try WatcherEvent(from: &reply)
        }
    }

    @Test func connectionsRequestsStagesAndNamespacesAreRecorded() async throws {
        let metrics = TestMetrics()
        let server = try TestServer(metricsFactory: metrics)
        defer { server.stop() }
        let port = server.port
        for index in 0..<2 {
            try await onThread { try wellFormedSession(port: port, path: "/metered\(index)") }
        }
        // Each session's socket is closed by the client (RawSocket's deinit): a client drop.
        #expect(try await Self.eventually { Self.counter(metrics, "connection_drop_count") == 2 })
        #expect(Self.counter(metrics, "connection_request_count") == 2)
        #expect(Self.counter(metrics, "connection_revalidate_count") == 0)
        #expect(Self.counter(metrics, "connection_rejected") == 0)
        #expect(Self.counter(metrics, "bytes_received_count") > 0)
        #expect(Self.counter(metrics, "response_bytes") > 0)
        #expect(Self.counter(metrics, "unrecoverable_error_count") == 0)
        // Two createSession and two create txns went through the log queue, each timed there.
        let queued = Self.counter(metrics, "sync_processor_request_queued")
        #expect(queued >= 4)
        #expect(Self.timerCount(metrics, "sync_processor_queue_time_ms") == Int(queued))
        #expect(Self.timerCount(metrics, "sync_processor_queue_and_flush_time_ms") == Int(queued))
        #expect(Self.timerCount(metrics, "sync_processor_queue_flush_time_ms") >= 1)
        // Per txn taken, how many were queued behind it: the last of each batch 0.
        let queueSizes = try metrics.expectRecorder("sync_processor_queue_size").values
        #expect(queueSizes.count == Int(queued) && queueSizes.contains(0))
        // A standalone server has no commit step (ZooKeeper's has no CommitProcessor).
        #expect(Self.timerCount(metrics, "local_write_committed_time_ms") == 0)
        #expect(Self.timerCount(metrics, "server_write_committed_time_ms") == 0)
        #expect(Self.timerCount(metrics, "proposal_process_time") == Int(queued))
        #expect(Self.timerCount(metrics, "write_final_proc_time_ms") == Int(queued))
        #expect(Self.timerCount(metrics, "propagation_latency") == Int(queued))
        #expect(Self.timerCount(metrics, "prep_process_time") == 2)  // the creates (a connect is not a request)
        #expect(Self.timerCount(metrics, "read_final_proc_time_ms") == 2)  // the getData
        // Prep's change records (a create stores its node's and its parent's), forgotten once applied.
        let changes = Self.counter(metrics, "outstanding_changes_queued")
        #expect(changes >= 2)
        #expect(Self.counter(metrics, "outstanding_changes_removed") == changes)
        // ZooKeeper's per-namespace sizes: path + data written; path + data + 68 (stat) read.
        #expect(try metrics.expectRecorder("write_per_namespace", [("key", "metered0")]).values == [Double("/metered0".count + 7)])
        #expect(try metrics.expectRecorder("read_per_namespace", [("key", "metered1")]).values == [Double("/metered1".count + 7 + 68)])
        let plainLocal = try await server.server.node.loop.submit { server.server.node.plainConnectionsLocal }.get()
        #expect(plainLocal == 2)
    }

    @Test func connectionsOverTheLimitAreRejected() async throws {
        let metrics = TestMetrics()
        let server = try TestServer(metricsFactory: metrics) {
            $0.clientConnectionsPerHostMax = 1
            $0.sessionTimeoutMsMax = 600_000
        }
        defer { server.stop() }
        let port = server.port
        // The first session never pings: a full parallel unit run once held this test longer
        // than a 10 s session, the session expired, its connection closed, and the second was let in.
        let first = try await onThread { try Client(port: port, timeoutMs: 600_000) }
        let refused = try await onThread { () -> Bool in
            let second = try RawSocket(port: port)
            // Bounded, and generous: the suites share 2 cores and this waited 5 s in vain once.
            return second.readUntilClosed(timeoutMs: 120_000) != nil
        }
        #expect(refused)
        #expect(Self.counter(metrics, "connection_rejected") == 1)
        #expect(Self.counter(metrics, "sessionless_connections_expired") <= 0, "closed for want of a ConnectRequest, not refused")
        _ = first
    }

    @Test func watchFanOutAndSessionExpiryAreRecorded() async throws {
        let metrics = TestMetrics()
        let server = try TestServer(metricsFactory: metrics) {
            $0.tickTimeMs = 50
            $0.sessionTimeoutMsMin = 100
        }
        defer { server.stop() }
        let port = server.port
        try await onThread {
            let watcher = try Client(port: port)
            let other = try Client(port: port)
            guard try watcher.create("/watched", "a").err == 0 else { throw TestFailure("create failed") }
            for client in [watcher, other] {
                try client.call(.getData, .getData(path: "/watched", watch: true))
            }
            try other.call(.setData, .setData(path: "/watched", data: Array("b".utf8), version: -1))
            guard try watcher.notification().type == EventType.nodeDataChanged.rawValue else {
                throw TestFailure("no NodeDataChanged")
            }
        }
        // One event fired both sessions' data watches.
        #expect(try metrics.expectRecorder("node_changed_watch_count").values == [2])
        #expect(Self.counter(metrics, "watch_bytes") > 0)
        // A session whose client goes silent expires (100 ms, ticks of 50 ms).
        _ = try await onThread { try Client(port: port, timeoutMs: 100) }
        #expect(try await Self.eventually { Self.counter(metrics, "stale_sessions_expired") >= 1 })
    }

    @Test func quorumMessagesAreCountedAsZooKeepersLearnerAndLeader() async throws {
        let metrics = TestMetrics()
        let server = try TestServer(metricsFactory: metrics)
        defer { server.stop() }
        let node = server.server.node
        var header = ByteBufferAllocator().buffer(capacity: 28)
        TxnHeader(clientId: 1, cxid: 1, zxid: Zxid(epoch: 1, counter: 1).rawValue, time: wallClockMs() - 5, type: 1).encode(into: &header)
        let entry = ZabEntry(zxid: Zxid(epoch: 1, counter: 1), payload: header.readBytes(length: header.readableBytes) ?? [])
        let rows = try await node.loop.submit { () -> [String: String] in
            // While syncing (before UPTODATE) a learner's PROPOSALs and COMMITs are not counted,
            // as ZooKeeper counts them in Follower.processPacket only.
            node.zabRole = .following(leader: 2, established: false)
            node.zabQuorumMessage(.proposal(entry), sent: false)
            node.zabQuorumMessage(.commit(entry.zxid), sent: false)
            node.zabRole = .following(leader: 2, established: true)
            node.zabQuorumMessage(.proposal(entry), sent: false)  // a learner reads PROPOSAL, COMMIT, INFORM
            node.zabQuorumMessage(.commit(entry.zxid), sent: false)
            node.zabRole = .observing(leader: 2, established: true)
            node.zabQuorumMessage(.inform(entry), sent: false)
            node.zabRole = .looking
            node.zabQuorumMessage(.diff(entry.zxid), sent: true)  // a leader syncs learners
            node.zabQuorumMessage(.trunc(entry.zxid), sent: true)
            node.zabQuorumMessage(.snap(entry.zxid, snapshot: []), sent: true)
            node.zabQuorumMessage(.ack(entry.zxid), sent: true)  // counted nowhere
            return Dictionary(FourLetterWords.monitorRows(node), uniquingKeysWith: { first, _ in first })
        }.get()
        #expect(Self.counter(metrics, "learner_proposal_received_count") == 1)
        #expect(Self.counter(metrics, "learner_commit_received_count") == 2)
        #expect(Self.counter(metrics, "diff_count") == 2)
        #expect(Self.counter(metrics, "snap_count") == 1)
        #expect(try metrics.expectTimer("proposal_latency").values.count == 1)
        #expect(try metrics.expectTimer("proposal_latency").values.allSatisfy { $0 >= 5_000_000 })
        #expect(rows["zk_diff_count"] == "2" && rows["zk_snap_count"] == "1" && rows["zk_learner_commit_received_count"] == "2")
    }

    @Test func unsuccessfulTLSHandshakesAreCounted() async throws {
        let metrics = TestMetrics()
        try await onThread {
            let certificates = try TLSCertificates()
            defer { certificates.remove() }
            let server = try TLSTestServer(certificates: certificates, metricsFactory: metrics)
            defer { server.stop() }
            let garbage = try RawSocket(port: server.securePort)
            garbage.send(Array(repeating: 0x16, count: 64) + Array(repeating: 0, count: 448))
            guard garbage.readUntilClosed(timeoutMs: 60_000) != nil else { throw TestFailure("garbage not closed") }
        }
        #expect(try await Self.eventually { Self.counter(metrics, "unsuccessful_handshake") == 1 })
    }

    @Test func mntrPrintsApachesPercentileRowsForAdvancedSummaries() {
        var summary = Summary(percentiles: true)
        for milliseconds in 1...1000 { summary.record(Double(milliseconds)) }
        let rows = summary.rows("readlatency")
        #expect(rows.map(\.0) == ["avg", "min", "max", "cnt", "sum", "p50", "p95", "p99", "p999"].map { "zk_\($0)_readlatency" })
        let values = Dictionary(uniqueKeysWithValues: rows)
        for (row, exact) in [("p50", 500.0), ("p95", 950.0), ("p99", 990.0), ("p999", 999.0)] {
            let value = Double(values["zk_\(row)_readlatency"] ?? "") ?? -1
            #expect(abs(value - exact) <= exact / 64 + 1, "\(row) = \(value)")
        }
        // BASIC summaries print avg/min/max/cnt/sum only.
        #expect(Summary().rows("fsynctime").count == 5)
    }

    @Test func namespaceIsZooKeepersTopComponent() {
        #expect(ServerNode.topNamespace(of: "/") == nil)
        #expect(ServerNode.topNamespace(of: "/a") == "a")
        #expect(ServerNode.topNamespace(of: "/zookeeper/quota") == "zookeeper")
        #expect(ServerNode.topNamespace(of: "/app/locks/lock-0001") == "app")
    }
}
