import Foundation
import ZKBase
import ZKFormat
import ZKStorage
import ZKTree
import ZKWire

/// Builds the checked-in fixture data directories deterministically: fixed times, fixed session
/// ids, a fixed script of txns (every txn type, two epochs, ephemerals, containers, TTL nodes,
/// multis that succeed and fail), one fuzzy snapshot walked while txns land and one exact one.
/// Each record's digest is the tree digest after `DataTree.apply`, as the server logs it.
/// `REWRITE_FIXTURES=1 swift test --filter FixtureTests` rewrites Tests/ZKToolsTests/Fixtures.
struct FixtureBuilder {
    static let baseTimeMs: Int64 = 1_700_000_000_000
    static let session1: Int64 = 0x0100_0000_0000_0001
    static let session2: Int64 = 0x0100_0000_0000_0002
    static let session3: Int64 = 0x0100_0000_0000_0003
    static let session4: Int64 = 0x0200_0000_0000_0001

    var tree = DataTree()
    var records: [LoggedTxn] = []
    var epoch: Int64 = 1
    var counter: Int64 = 0
    var cxids: [Int64: Int32] = [:]
    let snapshotDirectory: String
    /// A fuzzy snapshot in progress: one slice is written after each txn.
    var walk: FuzzySnapshotWalk?
    var writer: SnapshotWriter?

    init(snapshotDirectory: String) { self.snapshotDirectory = snapshotDirectory }

    var lastZxid: Int64 { ZxidMath.make(epoch: epoch, counter: counter) }

    mutating func txn(_ session: Int64, _ body: TxnBody) {
        counter += 1
        let zxid = ZxidMath.make(epoch: epoch, counter: counter)
        let cxid = cxids[session, default: 0]
        cxids[session] = cxid + 1
        let time = Self.baseTimeMs + Int64(records.count + 1) * 1000 + 7
        let txn = Txn(header: TxnHeader(clientId: session, cxid: cxid, zxid: zxid, time: time, type: body.opCode.rawValue), body: body)
        _ = tree.apply(txn)
        records.append(LoggedTxn(txn: txn, digest: tree.digest))
        if walk != nil { writeSlice() }
    }

    func parentCVersion(_ path: String) -> Int32 {
        (tree.node(PathValidation.parent(of: path))?.stat.cversion ?? 0) + 1
    }

    mutating func create(_ session: Int64, _ path: String, _ data: String?, ephemeral: Bool = false, acl: [ACL] = ACL.openUnsafe) {
        let create = CreateTxn(path: path, data: data.map { Array($0.utf8) }, acl: acl, ephemeral: ephemeral, parentCVersion: parentCVersion(path))
        txn(session, ephemeral ? .create2(create) : .create(create))
    }

    mutating func newEpoch() {
        epoch += 1
        counter = 0
    }

    // MARK: - Snapshots

    /// Starts a fuzzy snapshot at the last zxid; each later txn is followed by one slice of 3 nodes.
    mutating func beginFuzzySnapshot(level: Int32) throws {
        let start = records.last!.txn
        writer = try SnapshotWriter(directory: snapshotDirectory, startZxid: start.zxid, startTimeMs: start.header.time, level: level)
        try writer!.writeSessions(tree.sessions.sorted { $0.key < $1.key }.map { (id: $0.key, timeoutMs: $0.value) })
        walk = FuzzySnapshotWalk()
    }

    mutating func writeSlice() {
        for entry in walk!.nextSlice(of: tree, nodesMax: 3) { try! writer!.writeNode(path: entry.path, node: entry.node) }
    }

    mutating func finishFuzzySnapshot() throws {
        while !walk!.isFinished { writeSlice() }
        _ = try writer!.finish(endZxid: tree.lastProcessedZxid)
        writer = nil
        walk = nil
    }

    /// An exact snapshot of the tree as it is (E = S).
    func exactSnapshot(level: Int32) throws {
        let last = records.last!.txn
        try SnapshotFiles.write(tree: tree, directory: snapshotDirectory, startZxid: last.zxid, startTimeMs: last.header.time, level: level)
    }

    // MARK: - The script

    /// Epoch 1: sessions, every create kind, setData/setACL, multis; a fuzzy snapshot while
    /// txns land; more txns; an exact snapshot; epoch 2: a new session, deletes, closes.
    static func healthy(snapshotDirectory: String) throws -> FixtureBuilder {
        var b = FixtureBuilder(snapshotDirectory: snapshotDirectory)
        b.txn(session1, .createSession(timeoutMs: 30000))
        b.txn(session2, .createSession(timeoutMs: 10000))
        b.create(session1, "/app", "config")
        b.create(session1, "/app/service-1", "v1")
        b.txn(session2, .create(CreateTxn(path: "/app/service-2", data: [0, 1, 2, 0xff], acl: ACL.openUnsafe, ephemeral: false,
                                          parentCVersion: b.parentCVersion("/app/service-2"))))
        b.txn(session1, .createContainer(CreateTxn(path: "/locks", data: nil, acl: ACL.openUnsafe, ephemeral: false,
                                                   parentCVersion: b.parentCVersion("/locks"))))
        b.create(session2, "/locks/lock-0000000000", "holder-2", ephemeral: true)
        b.txn(session1, .setData(path: "/app", data: Array("config-2".utf8), version: 1))
        b.txn(session1, .setACL(path: "/app/service-1", acl: [
            ACL(perms: .read, id: Id(scheme: "digest", id: "ops:x6Bc4uGeGNs8bPFYHnmnVDm8DrE=")), ACL(perms: [.read, .write], id: .anyone),
        ], version: 1))
        b.txn(session2, .createTTL(CreateTxn(path: "/ttl-node", data: Array("t".utf8), acl: ACL.openUnsafe, ephemeral: false,
                                             parentCVersion: b.parentCVersion("/ttl-node"), ttl: 60000)))
        b.txn(session1, .multi([
            .create(CreateTxn(path: "/batch", data: [], acl: ACL.openUnsafe, ephemeral: false, parentCVersion: b.parentCVersion("/batch"))),
            .create(CreateTxn(path: "/batch/a", data: Array("a".utf8), acl: ACL.openUnsafe, ephemeral: false, parentCVersion: 1)),
            .setData(path: "/app", data: Array("config-3".utf8), version: 2),
            .check(path: "/app", version: 2),
        ]))
        b.txn(session2, .multi([.error(.ok), .error(.nodeExists), .error(.runtimeInconsistency)]))
        b.txn(session2, .delete(path: "/app/service-2"))
        b.create(session1, "/app/service-3", "v3")
        try b.beginFuzzySnapshot(level: 1)
        b.txn(session1, .setData(path: "/app/service-1", data: Array("v1b".utf8), version: 1))
        b.create(session1, "/app/service-4", "v4")
        b.txn(session1, .delete(path: "/batch/a"))
        b.txn(session2, .setData(path: "/app/service-3", data: Array("v3b".utf8), version: 1))
        try b.finishFuzzySnapshot()
        b.txn(session3, .createSession(timeoutMs: 20000))
        b.create(session3, "/app/member-3", "host-3:2181", ephemeral: true)
        b.txn(session2, .closeSession(pathsToDelete: ["/locks/lock-0000000000"]))
        b.create(session1, "/app/naïve-✓", "héllo ✓")
        try b.exactSnapshot(level: 0)
        b.newEpoch()
        b.txn(session4, .createSession(timeoutMs: 40000))
        b.txn(session1, .setData(path: "/app", data: Array("config-4".utf8), version: 3))
        b.create(session4, "/app/service-5", String(repeating: "0123456789", count: 10))
        b.txn(session1, .deleteContainer(path: "/locks"))
        b.txn(session3, .closeSession(pathsToDelete: ["/app/member-3"]))
        b.txn(session4, .setData(path: "/app/service-1", data: nil, version: 2))
        b.create(session4, "/batch/b", "b")
        return b
    }

    // MARK: - Data directories

    /// The generator writes LMDB alone; `generate` then marks the log format 1 (no journal) —
    /// these are the format 1 goldens a later Paddock must still read and upgrade — except
    /// for "journaled", a format 2 log with records only in its journal.
    static let logConfiguration: LMDBConfiguration = {
        var configuration = LMDBConfiguration(journalBytes: 0)
        configuration.preallocationBytes = 0
        return configuration
    }()
    static let journalFixtureBytes = 16 << 10
    static let journaledRecords = 5

    /// Writes the version file, the snapshots (already in `snapshots/`) and the log.
    static func writeLog(_ records: [LoggedTxn], dataDirectory: String) throws {
        let log = try LMDBTransactionLog(directory: dataDirectory + "/log", configuration: logConfiguration)
        defer { log.close() }
        // Group commits of up to 8, as a server's batches would be.
        var index = 0
        while index < records.count {
            try log.append(Array(records[index..<min(index + 8, records.count)]))
            index += 8
        }
    }

    /// Every fixture, by name: what each one is for.
    static let fixtureNames = [
        "healthy", "purged", "damaged-log", "damaged-snapshot", "missing-record", "bad-digest", "uncovered", "empty", "journaled",
    ]

    /// Creates fixture `name` in `directory` (which must not exist).
    static func generate(_ name: String, in directory: String) throws {
        _ = try DataDirectory.open(dataDirectory: directory, createIfMissing: true, lock: false)
        let snapshots = directory + "/snapshots"
        let logDirectory = directory + "/log"
        if name == "empty" {
            LMDBTransactionLog.closeAfterCreating(logDirectory)
            markFormatOne(logDirectory)
            return
        }
        defer { if name != "journaled" { markFormatOne(logDirectory) } }
        let builder = try healthy(snapshotDirectory: snapshots)
        try writeLog(builder.records, dataDirectory: directory)
        let records = builder.records.map(\.txn.zxid)
        let snapshotFiles = SnapshotFiles.list(directory: snapshots)  // newest first
        switch name {
        case "healthy":
            break
        case "purged":
            // Retention keeping both snapshots: the log is purged through the older one's start.
            try purge(logDirectory, through: snapshotFiles.last!.zxid)
        case "damaged-log":
            // A flipped bit in a record after both snapshots: a bad tail.
            RawLMDB.overwrite(logDirectory, zxid: records[records.count - 3]) { flip($0, at: 40) }
        case "damaged-snapshot":
            // A flipped bit inside the newest snapshot's body: recovery falls back to the older one.
            try flipFileBit(snapshotFiles.first!.path, at: 200)
        case "missing-record":
            // A record between the two snapshots is gone: a gap in the chain.
            RawLMDB.delete(logDirectory, zxid: records[19])
        case "bad-digest":
            // Records that are intact (valid CRC chain) but whose digest disagrees with the replay.
            try forgeDigest(logDirectory, records: builder.records, at: builder.records.count - 2)
        case "journaled":
            // A server that stopped before folding its journal: the newest records are only in
            // the journal (one frame, lap 1), LMDB holds the rest.
            try moveTailToJournal(logDirectory, count: journaledRecords)
        case "uncovered":
            // The log purged through the newest snapshot, which is then damaged: the older one is
            // the newest valid snapshot, and the log no longer reaches back to it.
            try purge(logDirectory, through: snapshotFiles.first!.zxid)
            try flipFileBit(snapshotFiles.first!.path, at: 8)
        default:
            preconditionFailure("unknown fixture \(name)")
        }
    }

    static func markFormatOne(_ logDirectory: String) {
        RawLMDB.withWriteTransaction(logDirectory) { transaction, _, meta in
            RawLMDB.put(transaction, meta, Array("format".utf8), [0, 0, 0, 1])
        }
    }

    /// Takes the newest `count` records out of LMDB and writes them as the one frame of lap 1
    /// of a fresh journal, `meta/journal` naming that lap.
    static func moveTailToJournal(_ logDirectory: String, count: Int) throws {
        let all = try rawLog(logDirectory).records
        let moved = Array(all.suffix(count))
        RawLMDB.withWriteTransaction(logDirectory) { transaction, txns, meta in
            for record in moved { RawLMDB.delete(transaction, txns, RawLMDB.key(record.zxid)) }
            RawLMDB.put(transaction, meta, Array("journal".utf8), [0, 0, 0, 0, 0, 0, 0, 1])
        }
        let frame = JournalFrame.encode(sequence: 1, previousCRC: 0, entries: moved.map { (zxid: $0.zxid, bytes: $0.bytes) }).bytes
        let image = frame + [UInt8](repeating: 0, count: journalFixtureBytes - frame.count)
        try Data(image).write(to: URL(fileURLWithPath: logDirectory + "/" + FileJournalDevice.fileName))
    }

    static func purge(_ logDirectory: String, through zxid: Int64) throws {
        let log = try LMDBTransactionLog(directory: logDirectory, configuration: logConfiguration)
        defer { log.close() }
        try log.purge(through: zxid)
    }

    static func flip(_ bytes: [UInt8], at offset: Int) -> [UInt8] {
        var copy = bytes
        copy[offset % copy.count] ^= 0x04
        return copy
    }

    static func flipFileBit(_ path: String, at offset: Int) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[offset] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Rewrites the records from `index` on with a wrong digest at `index` and the CRC chain
    /// recomputed, so only a replay can tell.
    static func forgeDigest(_ logDirectory: String, records: [LoggedTxn], at index: Int) throws {
        let stored = try rawLog(logDirectory).records
        var crc = index == 0 ? UInt32(0) : LogRecord.storedCRCForTests(stored[index - 1].bytes)
        RawLMDB.withWriteTransaction(logDirectory) { transaction, txns, _ in
            for position in index..<records.count {
                let record = records[position]
                let digest = position == index ? record.digest &+ 1 : record.digest
                let encoded = LogRecord.encode(record.txn, digest: digest, previousCRC: crc)
                RawLMDB.put(transaction, txns, RawLMDB.key(record.txn.zxid), encoded.bytes)
                crc = encoded.crc
            }
        }
    }
}

extension LogRecord {
    /// The CRC a record stores at offset 8.
    static func storedCRCForTests(_ bytes: [UInt8]) -> UInt32 {
        UInt32(bytes[8]) << 24 | UInt32(bytes[9]) << 16 | UInt32(bytes[10]) << 8 | UInt32(bytes[11])
    }
}

extension LMDBTransactionLog {
    /// Creates an empty log (format and anchor written) and closes it.
    static func closeAfterCreating(_ directory: String) {
        let log = try! LMDBTransactionLog(directory: directory, configuration: FixtureBuilder.logConfiguration)
        log.close()
    }
}
