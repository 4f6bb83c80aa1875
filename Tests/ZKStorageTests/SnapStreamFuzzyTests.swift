import NIOCore
import Testing
import ZKBase
import ZKPipeline
import ZKStorage
import ZKTools
import ZKTree
import ZKTestSupport
import ZKWire

/// The SNAP sync's stream is written from the live tree a part at a time while txns keep being
/// applied (as ZooKeeper's leader does): under random load through the real pipeline core —
/// creates, deletes, sets, multis, closed sessions, and ACL lists first used after the stream
/// began — a learner that reads the stream (arriving in reads of random sizes) and then applies
/// every txn after its start zxid must hold exactly the leader's tree.
@Suite struct SnapStreamFuzzyTests {
    @Test(arguments: Array(UInt64(1)...UInt64(32)))
    func streamPlusTheTxnsAfterItEqualsTheLeadersTree(seed: UInt64) throws {
        var load = FuzzySnapshotRecoveryTests.Load(seed: seed)
        for _ in 0..<Int.random(in: 50...400, using: &load.random) { load.step() }

        let startZxid = load.core.lastProcessedZxid
        var writer = ZooKeeperSnapshotStreamWriter(tree: load.core.tree)
        #expect(writer.zxid == startZxid)
        var stream = ByteBuffer()
        let partNodes = Int.random(in: 1...8, using: &load.random)
        var stepsDuringStream = 0
        while var part = writer.nextChunk(of: load.core.tree, nodesMax: partNodes) {
            stream.writeBuffer(&part)
            // Txns keep landing between parts: this is what makes the stream fuzzy.
            for _ in 0..<Int.random(in: 0...6, using: &load.random) {
                if Int.random(in: 0..<3, using: &load.random) == 0 { load.stepWithNewACL() } else { load.step() }
                stepsDuringStream += 1
            }
            if Int.random(in: 0..<40, using: &load.random) == 0 { load.cycleSession() }
        }
        #expect(stepsDuringStream > 0, "seed \(seed): no txn landed while the stream was written")
        for _ in 0..<Int.random(in: 0...50, using: &load.random) { load.step() }

        // The learner: the stream in reads of random sizes, then the txns after its start.
        var loader = ZooKeeperSnapshotStreamLoader(zxid: startZxid)
        var finished = false
        while stream.readableBytes > 0 && !finished {
            var read = stream.readSlice(length: min(stream.readableBytes, Int.random(in: 1...300, using: &load.random)))!
            var pending = ByteBuffer()
            pending.writeBuffer(&read)
            finished = try loader.consume(&pending)
            // What the loader left (a partial item) goes back in front of the unread bytes.
            pending.writeBuffer(&stream)
            stream = pending
        }
        #expect(finished, "seed \(seed): the stream did not end")
        #expect(stream.readableBytes == 0, "seed \(seed): bytes after the signature")
        var learner = loader.takeTree()
        let txns = try load.log.records(after: startZxid, limit: 1_000_000)
        for record in txns { _ = learner.apply(record.txn) }

        let leader = load.core.tree
        #expect(learner.lastProcessedZxid == leader.lastProcessedZxid)
        #expect(learner.digest == leader.digest, "seed \(seed): digest after stream + replay differs from the leader's tree")
        let differing = Set(learner.nodes.keys).union(leader.nodes.keys).filter { learner.nodes[$0] != leader.nodes[$0] }
        #expect(differing.isEmpty, "seed \(seed): nodes differ at \(differing.sorted().prefix(10))")
        #expect(learner.sessions == leader.sessions, "seed \(seed): sessions differ")
        #expect(learner.ephemerals.mapValues { Set($0.elements) } == leader.ephemerals.mapValues { Set($0.elements) })
        #expect(load.core.digestMismatchCount == 0, "prep and apply disagreed on a digest")
    }

    /// The whole stream of a tree that does not change reads back as the same tree, and the
    /// nodes created after the stream's start are the ones left out (their creates replay).
    @Test func aStillTreeRoundTripsAndLaterNodesAreLeftOut() throws {
        var load = FuzzySnapshotRecoveryTests.Load(seed: 99)
        for _ in 0..<300 { load.step() }
        let tree = load.core.tree
        let bytes = ZooKeeperSnapshotWriter.quorumStream(tree)
        let read = try ZooKeeperSnapshotReader.readQuorumStream(bytes, zxid: tree.lastProcessedZxid)
        #expect(read.nodes == tree.nodes)
        #expect(read.digest == tree.digest)

        var writer = ZooKeeperSnapshotStreamWriter(tree: tree)
        for _ in 0..<200 { load.step() }
        var stream = ByteBuffer()
        while var part = writer.nextChunk(of: load.core.tree, nodesMax: 5) { stream.writeBuffer(&part) }
        var loader = ZooKeeperSnapshotStreamLoader(zxid: tree.lastProcessedZxid)
        #expect(try loader.consume(&stream))
        let fuzzy = loader.takeTree()
        #expect(fuzzy.nodes.values.allSatisfy { $0.stat.czxid <= tree.lastProcessedZxid })
    }
}
