import Foundation
import Testing
import ZKBase
import ZKFormat
import ZKStorage
import ZKTools
import ZKWire

@Suite struct ToolFormatTests {
    @Test func timesAreUTC() {
        #expect(ToolFormat.time(ms: 0) == "1970-01-01T00:00:00.000Z")
        #expect(ToolFormat.time(ms: 1_700_000_000_007) == "2023-11-14T22:13:20.007Z")
        #expect(ToolFormat.time(ms: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
        #expect(ToolFormat.time(ms: -1) == "1969-12-31T23:59:59.999Z")
        #expect(ToolFormat.compactTime(ms: 1_700_000_000_007) == "20231114T221320Z")
    }

    @Test func dataIsTextOrHexAndElided() {
        #expect(ToolFormat.data(nil) == "null")
        #expect(ToolFormat.data([]) == "\"\"")
        #expect(ToolFormat.data(Array("a\"b\n".utf8)) == "\"a\\\"b\\n\"")
        #expect(ToolFormat.data([0, 1, 0xff]) == "0x0001ff")
        #expect(ToolFormat.data(Array(repeating: 0x61, count: 70), limit: 4) == "\"aaaa\"...(70 bytes)")
        // Cut inside a two-byte character: still shown as text.
        #expect(ToolFormat.data(Array("ééé".utf8), limit: 3) == "\"é\"...(6 bytes)")
    }

    @Test func base64MatchesFoundation() {
        for length in 0..<10 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(ToolFormat.base64(bytes) == Data(bytes).base64EncodedString())
        }
    }

    @Test func jsonEscapesAndKeepsOrder() {
        let value = JSONValue.fields(("b", .int(1)), ("a", .array([.string("x\u{1}\"\\"), .null, .bool(true)])))
        #expect(value.compact == #"{"b":1,"a":["x\u0001\"\\",null,true]}"#)
        #expect(JSONValue.object([]).pretty == "{}")
    }

    @Test func aclAndOwners() {
        #expect(ToolFormat.acl(ACL.openUnsafe) == "world:anyone=cdrwa")
        #expect(ToolFormat.acl([ACL(perms: [.read, .admin], id: Id(scheme: "ip", id: "10.0.0.1"))]) == "ip:10.0.0.1=ra")
        #expect(ToolFormat.owner(EphemeralOwner.container) == "container")
        #expect(ToolFormat.owner(EphemeralOwner.ttl(5000)) == "ttl:5000ms")
        #expect(ToolFormat.owner(0x1234) == "0x1234")
    }
}

@Suite struct RecordsFileTests {
    func records() -> [RawLogRecord] {
        var crc: UInt32 = 0x1234
        return (1...5).map { counter in
            let zxid = ZxidMath.make(epoch: 3, counter: Int64(counter))
            let txn = Txn(header: TxnHeader(clientId: 7, cxid: 1, zxid: zxid, time: 1000, type: OpCode.delete.rawValue),
                          body: .delete(path: "/d\(counter)"))
            let encoded = LogRecord.encode(txn, digest: 99, previousCRC: crc)
            crc = encoded.crc
            return RawLogRecord(zxid: zxid, bytes: encoded.bytes)
        }
    }

    func write(_ path: String) throws {
        let writer = try RecordsFileWriter(path: path, previous: LogChainLink(zxid: ZxidMath.make(epoch: 2, counter: 9), crc: 0x1234))
        for record in records() { try writer.append(record) }
        try writer.finish()
    }

    @Test func roundTripsAndChains() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/r.pdkr"
            try write(path)
            let reader = try RecordsFileReader(path: path)
            var read: [RawLogRecord] = []
            while let record = try reader.next() { read.append(record) }
            #expect(read == records())
            #expect(reader.problem == nil)
            var lines: [DumpedRecord] = []
            let summary = try LogDump.dumpRecordsFile(path, from: nil, to: nil) { lines.append($0) }
            #expect(summary.status == .healthy && lines.count == 5 && lines.allSatisfy { $0.problem == nil })
        }
    }

    /// Every flipped bit and every truncation of a records file is reported by `dump`.
    @Test func damageIsReported() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/r.pdkr"
            try write(path)
            let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            var missed: [String] = []
            for offset in 0..<good.count {
                for change in ["flip", "cut"] {
                    var bytes = good
                    if change == "flip" { bytes[offset] ^= 0x10 } else { bytes = Array(good.prefix(offset)) }
                    try Data(bytes).write(to: URL(fileURLWithPath: path))
                    let summary = try? LogDump.dumpRecordsFile(path, from: nil, to: nil) { _ in }
                    if let summary, summary.status == .healthy { missed.append("\(change) at \(offset)") }
                }
            }
            #expect(missed.isEmpty, "undetected: \(missed)")
        }
    }
}

@Suite struct ToolDataDirectoryTests {
    @Test func changesRefuseWhileLockedReadsDoNot() throws {
        try withFixture("healthy") { directory in
            let server = try DataDirectory.open(dataDirectory: directory, createIfMissing: false, lock: true)
            defer { server.release() }
            do throws(ToolError) {
                _ = try ToolDataDirectory.openForChange(directory)
                Issue.record("opened a locked data directory for a change")
            } catch {
                #expect(error.kind == .locked(pid: getpid()))
                #expect(error.message.contains("Stop the server first"))
            }
            let readOnly = try ToolDataDirectory.openReadOnly(directory)
            defer { readOnly.close() }
            #expect(try DataVerify.verify(readOnly).status == .healthy)
        }
    }

    @Test func notADataDirectoryIsAUsageError() throws {
        try withTemporaryDirectory { directory in
            _ = FileManager.default.createFile(atPath: directory + "/something", contents: Data())
            #expect(throws: ToolError.self) { try ToolDataDirectory.openReadOnly(directory) }
            #expect(throws: ToolError.self) { try ToolDataDirectory.openReadOnly(directory + "/missing") }
        }
    }

    /// A truncate declined (plan only) changes nothing; the plan names every record it would remove.
    @Test func planningChangesNothing() throws {
        try withFixture("healthy") { directory in
            let before = try rawLog(directory + "/log").records
            let locked = try ToolDataDirectory.openForChange(directory)
            let plan = try DataTruncate.plan(locked, after: 0x1_0000_0003, nowMs: fixedNowMs)
            locked.close()
            #expect(plan.removed == RecordRange(count: 26, first: 0x1_0000_0004, last: 0x2_0000_0007))
            #expect(try rawLog(directory + "/log").records == before)
            #expect(!FileManager.default.fileExists(atPath: directory + "/backup"))
        }
    }

    /// The state `replay` rebuilds at a snapshot's own zxid equals that (exact) snapshot, and a
    /// truncate followed by startup recovery gives the state replay computes for that zxid.
    @Test func replayAgreesWithSnapshotsAndRecovery() throws {
        try withFixture("healthy") { directory in
            try withTemporaryDirectory { out in
                let readOnly = try ToolDataDirectory.openReadOnly(directory)
                let replayed = try DataReplay.replay(readOnly, to: 0x1_0000_0016, output: out + "/at16", level: 0).get()
                let at13 = try DataReplay.replay(readOnly, to: 0x1_0000_0013, output: out + "/at13", level: 1).get()
                readOnly.close()
                let exact = try SnapshotFiles.load(path: directory + "/snapshots/snapshot.0000000100000016")
                let rebuilt = try SnapshotFiles.load(path: replayed.output)
                #expect(rebuilt.tree.nodes == exact.tree.nodes && rebuilt.tree.sessions == exact.tree.sessions)
                let locked = try ToolDataDirectory.openForChange(directory)
                _ = try DataTruncate.apply(try DataTruncate.plan(locked, after: 0x1_0000_0013, nowMs: fixedNowMs), locked, nowMs: fixedNowMs)
                locked.close()
                let report = try startupRecovery(directory)
                #expect(report.lastZxid == 0x1_0000_0013)
                let log = try LMDBTransactionLog(directory: directory + "/log", configuration: LMDBConfiguration(readOnly: true))
                defer { log.close() }
                let tree = try Recovery.recover(snapshotDirectory: directory + "/snapshots", log: log).0
                let rebuilt13 = try SnapshotFiles.load(path: at13.output)
                #expect(tree.digest == at13.digest && tree.nodes == rebuilt13.tree.nodes)
            }
        }
    }
}
