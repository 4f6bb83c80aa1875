import NIOCore
import Testing
import ZKBase
import ZKTools
import ZKTree
import ZKWire
import ZKZab

/// What a Paddock learner does with a real Apache ZooKeeper 3.8.0 leader's sync stream: the
/// SNAP snapshot becomes a tree, each PROPOSAL's payload a txn, and applying them gives the tree
/// digest the leader recorded in every proposal (ZooKeeper's form, `DataTree.zooKeeperDigest`).
@Suite struct ApacheStreamReplayTests {
    struct Replay {
        var snapshots = 0
        var proposals = 0
        var digestsCompared = 0
        var tree: DataTree?
    }

    static func replay(_ name: String) throws -> Replay {
        var buffer = ByteBufferAllocator().buffer(bytes: try QuorumFixtureTests.bytes(name))
        var decoder = QuorumStreamDecoder()
        var replay = Replay()
        while let message = try decoder.next(from: &buffer) {
            switch message {
            case .snap(let zxid, let snapshot):
                let tree = try ZooKeeperSnapshotReader.readQuorumStream(snapshot, zxid: zxid.rawValue)
                #expect(tree.lastProcessedZxid == zxid.rawValue)
                // Paddock's own stream of that tree reads back to the same state.
                let again = try ZooKeeperSnapshotReader.readQuorumStream(ZooKeeperSnapshotWriter.quorumStream(tree), zxid: zxid.rawValue)
                #expect(again.digest == tree.digest && again.sessions == tree.sessions && again.nodeCount == tree.nodeCount)
                replay.tree = tree
                replay.snapshots += 1
            case .proposal(let entry), .inform(let entry):
                let (txn, digest) = try ZooKeeperTxnDecoding.decode(entry.payload)
                #expect(txn.zxid == entry.zxid.rawValue)
                replay.proposals += 1
                guard var tree = replay.tree else { continue }
                _ = tree.apply(txn)
                if let digest {
                    #expect(tree.zooKeeperDigest == digest.value, "\(name): digest after \(entry.zxid)")
                    replay.digestsCompared += 1
                }
                replay.tree = tree
            default:
                break
            }
        }
        return replay
    }

    @Test func apacheSnapAndProposalsReplayToTheLeadersDigests() throws {
        let replay = try Self.replay("quorum-leader3-to-follower1-snap.hex")
        #expect(replay.snapshots == 1)
        #expect(replay.tree?.nodeCount ?? 0 > 1)
        #expect(replay.proposals > 0 && replay.digestsCompared > 0, "the stream carries proposals after the SNAP")
    }

    @Test func hostileSnapshotBytesAreRefusedNotCrashed() throws {
        var buffer = ByteBufferAllocator().buffer(bytes: try QuorumFixtureTests.bytes("quorum-leader3-to-follower1-snap.hex"))
        var decoder = QuorumStreamDecoder()
        var snapshot: [UInt8] = []
        while let message = try decoder.next(from: &buffer) {
            if case .snap(_, let bytes) = message { snapshot = bytes }
        }
        try #require(snapshot.count > 100)
        var generator = SystemRandomNumberGenerator()
        var refused = 0
        for round in 0..<300 {
            var bytes = snapshot
            switch round % 3 {
            case 0: bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
            case 1: bytes[Int.random(in: 0..<bytes.count, using: &generator)] ^= UInt8.random(in: 1...255, using: &generator)
            default: bytes += [0, 0, 0, 1, 0x41]
            }
            if (try? ZooKeeperSnapshotReader.readQuorumStream(bytes, zxid: 1)) == nil { refused += 1 }
        }
        #expect(refused > 150, "truncated and extended streams are refused")
    }
}
