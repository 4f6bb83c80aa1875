import Testing
import ZKBase
import ZKFormat
import ZKPipeline
@testable import ZKServer
import ZKWire

/// The quorum payloads a member makes from its own log (`ServerNode.payload`): what it applies
/// as a new leader's initial history and sends a learner in a DIFF. A ZooKeeper 3.8 leader
/// proposes error txns without a TxnDigest, and a Paddock follower logs them with a digest of 0
/// (not recorded, FORMAT.md section 4). Seen in the mixed-ensemble sync test: a Paddock member
/// restarted after such a txn and led, logging "digest mismatch at zxid 0x100000002: prep
/// predicted 0" on itself and on the learner it synced by DIFF.
@Suite struct EnsemblePayloadTests {
    static let session: Int64 = 0x0300_017C_4CD2_0000
    static let failedCreate = Txn(
        header: TxnHeader(clientId: session, cxid: 1, zxid: 0x1_0000_0002, time: 1_700_000_000_000, type: OpCode.error.rawValue),
        body: .error(.noNode))

    @Test func aRecordLoggedWithoutADigestGoesOutWithoutATxnDigest() throws {
        let payload = ServerNode.payload(Self.failedCreate, digest: LogRecord.digestNotRecorded)
        // Byte for byte the proposal ZooKeeper made.
        #expect(payload == ZooKeeperTxnDecoding.encode(Self.failedCreate, digest: nil))
        let (txn, digest) = try ZooKeeperTxnDecoding.decode(payload)
        #expect(txn == Self.failedCreate)
        #expect(digest == nil)
    }

    @Test func aRecordedDigestGoesOutAsZooKeepersTxnDigest() throws {
        let payload = ServerNode.payload(Self.failedCreate, digest: 0x1_9F69_DA1A)
        let (txn, digest) = try ZooKeeperTxnDecoding.decode(payload)
        #expect(txn == Self.failedCreate)
        #expect(digest == ZooKeeperTxnDigest(version: 2, value: 0x1_9F69_DA1A))  // ZooKeeper 3.8's digest version
    }

    /// What `apply` does with a committed entry loaded from the log: decode the payload, then
    /// `applyCommitted` with its digest. No digest means nothing to compare.
    @Test func applyingSuchAnEntryFromTheLogCountsNoDigestMismatch() throws {
        var core = ServerCore(configuration: CoreConfiguration(tickMs: 200, serverId: 2), initialSessionId: 2 << 56)
        var outputs: [CoreOutput] = []
        core.changeReplication(to: .learner, monotonicMs: 1_000, into: &outputs)
        let (txn, digest) = try ZooKeeperTxnDecoding.decode(
            ServerNode.payload(Self.failedCreate, digest: LogRecord.digestNotRecorded))
        outputs.removeAll()
        core.applyCommitted(txn, zooKeeperDigest: digest?.value, into: &outputs)
        #expect(core.lastProcessedZxid == Self.failedCreate.zxid)
        #expect(core.digestMismatchCount == 0)
        #expect(!outputs.contains { if case .digestMismatch = $0 { return true } else { return false } })
    }
}
