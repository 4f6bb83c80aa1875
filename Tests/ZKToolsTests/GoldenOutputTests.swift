import Foundation
import Testing
import ZKBase
import ZKFormat
import ZKStorage
import ZKTools

/// Expected output of every command on the checked-in fixtures, healthy and damaged
/// (Expected/*.txt; `REWRITE=1` regenerates them for review).
@Suite struct GoldenOutputTests {
    static let snapshot1 = "snapshot.000000010000000e"  // fuzzy, zlib: zxids 0x10000000e..0x100000012
    static let snapshot2 = "snapshot.0000000100000016"  // exact, uncompressed

    @Test(arguments: FixtureBuilder.fixtureNames)
    func status(fixture: String) throws {
        try withFixture(fixture) { directory in
            var transcript = ToolTranscript([(directory, "<DIR>")])
            transcript.run("paddock data status <DIR>") { () throws(ToolError) in try ToolRun.status(directory) }
            transcript.run("paddock data status <DIR> --json") { () throws(ToolError) in try ToolRun.status(directory, json: true) }
            try expectGolden("status-\(fixture)", transcript.text)
        }
    }

    @Test(arguments: FixtureBuilder.fixtureNames)
    func verify(fixture: String) throws {
        try withFixture(fixture) { directory in
            var transcript = ToolTranscript([(directory, "<DIR>")])
            transcript.run("paddock data verify <DIR>") { () throws(ToolError) in try ToolRun.verify(directory) }
            transcript.run("paddock data verify <DIR> --json") { () throws(ToolError) in try ToolRun.verify(directory, json: true) }
            try expectGolden("verify-\(fixture)", transcript.text)
        }
    }

    @Test(arguments: ["healthy", "damaged-log", "missing-record", "purged", "empty", "journaled"])
    func dump(fixture: String) throws {
        try withFixture(fixture) { directory in
            var transcript = ToolTranscript([(directory, "<DIR>")])
            transcript.run("paddock data dump <DIR>") { () throws(ToolError) in try ToolRun.dump(directory) }
            if fixture == "healthy" {
                transcript.run("paddock data dump <DIR> --from 0x10000000b --to 0x10000000e --json") { () throws(ToolError) in
                    try ToolRun.dump(directory, from: 0x1_0000_000b, to: 0x1_0000_000e, json: true)
                }
                transcript.run("paddock data dump <DIR> --from 0x200000006") { () throws(ToolError) in
                    try ToolRun.dump(directory, from: 0x2_0000_0006)
                }
            }
            try expectGolden("dump-\(fixture)", transcript.text)
        }
    }

    @Test func snapshotDump() throws {
        try withFixture("healthy") { directory in
            var transcript = ToolTranscript([(directory, "<DIR>")])
            let (fuzzy, exact) = (directory + "/snapshots/" + Self.snapshot1, directory + "/snapshots/" + Self.snapshot2)
            transcript.run("paddock snapshot dump <DIR>/snapshots/\(Self.snapshot1)") { () throws(ToolError) in try ToolRun.snapshotDump(fuzzy) }
            transcript.run("paddock snapshot dump <DIR>/snapshots/\(Self.snapshot2) --data") { () throws(ToolError) in
                try ToolRun.snapshotDump(exact, data: true)
            }
            transcript.run("paddock snapshot dump <DIR>/snapshots/\(Self.snapshot1) --data --json") { () throws(ToolError) in
                try ToolRun.snapshotDump(fuzzy, data: true, json: true)
            }
            try expectGolden("snapshot-dump-healthy", transcript.text)
        }
        try withFixture("damaged-snapshot") { directory in
            var transcript = ToolTranscript([(directory, "<DIR>")])
            let damaged = directory + "/snapshots/" + Self.snapshot2
            transcript.run("paddock snapshot dump <DIR>/snapshots/\(Self.snapshot2)") { () throws(ToolError) in try ToolRun.snapshotDump(damaged) }
            transcript.run("paddock snapshot dump <DIR>/snapshots/\(Self.snapshot2) --json") { () throws(ToolError) in
                try ToolRun.snapshotDump(damaged, json: true)
            }
            try expectGolden("snapshot-dump-damaged", transcript.text)
        }
    }

    @Test func snapshotDiff() throws {
        try withFixture("healthy") { directory in
            try withTemporaryDirectory { out in
                var transcript = ToolTranscript([(directory, "<DIR>"), (out, "<OUT>")])
                let fuzzy = directory + "/snapshots/" + Self.snapshot1
                let exact = directory + "/snapshots/" + Self.snapshot2
                let dir = { (zxid: Int64?) in DiffSource.dataDirectory(path: directory, dataLogDirectory: nil, at: zxid) }
                transcript.run("paddock snapshot diff <DIR>/snapshots/\(Self.snapshot1) <DIR>") { () throws(ToolError) in
                    try ToolRun.diff(.snapshot(path: fuzzy), dir(nil))
                }
                transcript.run("paddock snapshot diff <DIR>/snapshots/\(Self.snapshot2) <DIR> --at 0x100000016") { () throws(ToolError) in
                    try ToolRun.diff(.snapshot(path: exact), dir(0x1_0000_0016))
                }
                transcript.run("paddock snapshot diff <DIR> <DIR> --at-a 0x100000010 --at-b 0x100000012 --json") { () throws(ToolError) in
                    try ToolRun.diff(dir(0x1_0000_0010), dir(0x1_0000_0012), json: true)
                }
                transcript.run("paddock snapshot diff <DIR> <DIR> --at-a 0x100000005 --byte-threshold 5 --node-threshold 3") {
                    () throws(ToolError) in
                    try ToolRun.diff(dir(0x1_0000_0005), dir(nil), options: DiffOptions(byteThreshold: 5, nodeThreshold: 3))
                }
                transcript.run("paddock data replay <DIR> --to 0x100000012 --out <OUT>/at12 --level 0") { () throws(ToolError) in
                    try ToolRun.replay(directory, to: 0x1_0000_0012, output: out + "/at12")
                }
                transcript.run("paddock snapshot diff <DIR>/snapshots/\(Self.snapshot1) <OUT>/at12") { () throws(ToolError) in
                    try ToolRun.diff(.snapshot(path: fuzzy), .snapshot(path: out + "/at12"))
                }
                transcript.run("paddock snapshot diff <DIR> <DIR> --at-b 0x300000001") {
                    () throws(ToolError) in
                    try ToolRun.diff(dir(0x1_0000_0005), dir(0x3_0000_0001))
                }
                try expectGolden("snapshot-diff", transcript.text)
            }
        }
    }

    @Test func replay() throws {
        try withFixture("healthy") { directory in
            try withTemporaryDirectory { out in
                var transcript = ToolTranscript([(directory, "<DIR>"), (out, "<OUT>")])
                for zxid: Int64 in [0x1_0000_0005, 0x1_0000_0013, 0x2_0000_0003] {
                    transcript.run("paddock data replay <DIR> --to \(ZxidMath.hex(zxid)) --out <OUT> --level 0") { () throws(ToolError) in
                        try ToolRun.replay(directory, to: zxid, output: out)
                    }
                }
                transcript.run("paddock data replay <DIR> --to 0x200000003 --out <OUT> --level 0 --json (exists already)") {
                    () throws(ToolError) in try ToolRun.replay(directory, to: 0x2_0000_0003, output: out, json: true)
                }
                transcript.run("paddock data replay <DIR> --to 0x300000001 --out <OUT>/late") { () throws(ToolError) in
                    try ToolRun.replay(directory, to: 0x3_0000_0001, output: out + "/late")
                }
                transcript.run("paddock data replay <DIR> --to 0x100000013 --out <DIR>/snapshots") { () throws(ToolError) in
                    try ToolRun.replay(directory, to: 0x1_0000_0013, output: directory + "/snapshots")
                }
                transcript.run("paddock snapshot dump <OUT>/snapshot.0000000100000005") { () throws(ToolError) in
                    try ToolRun.snapshotDump(out + "/snapshot.0000000100000005")
                }
                try expectGolden("replay-healthy", transcript.text)
            }
        }
        try withFixture("purged") { directory in
            var transcript = ToolTranscript([(directory, "<DIR>")])
            transcript.run("paddock data replay <DIR> --to 0x100000005 --out /tmp") { () throws(ToolError) in
                try ToolRun.replay(directory, to: 0x1_0000_0005, output: "/tmp")
            }
            try expectGolden("replay-purged", transcript.text)
        }
    }

    @Test func truncate() throws {
        try withFixture("healthy") { directory in
            var transcript = ToolTranscript([(directory, "<DIR>")])
            transcript.run("paddock data truncate <DIR> --after 0x100000014 --yes") { () throws(ToolError) in
                let locked = try ToolDataDirectory.openForChange(directory)
                defer { locked.close() }
                let plan = try DataTruncate.plan(locked, after: 0x1_0000_0014, nowMs: fixedNowMs)
                return try changeOutput(planText: plan.text, nothingToDo: plan.isEmpty) { () throws(ToolError) in
                    try DataTruncate.apply(plan, locked, nowMs: fixedNowMs)
                }
            }
            transcript.run("paddock data truncate <DIR> --after 0x100000012 --yes --json") { () throws(ToolError) in
                let locked = try ToolDataDirectory.openForChange(directory)
                defer { locked.close() }
                let plan = try DataTruncate.plan(locked, after: 0x1_0000_0012, nowMs: fixedNowMs)
                return try changeJSON(planJSON: plan.json, nothingToDo: plan.isEmpty) { () throws(ToolError) in
                    try DataTruncate.apply(plan, locked, nowMs: fixedNowMs)
                }
            }
            transcript.run("paddock data truncate <DIR> --after 0x100000012 --yes (again: nothing to do)") { () throws(ToolError) in
                let locked = try ToolDataDirectory.openForChange(directory)
                defer { locked.close() }
                let plan = try DataTruncate.plan(locked, after: 0x1_0000_0012, nowMs: fixedNowMs)
                return try changeOutput(planText: plan.text, nothingToDo: plan.isEmpty) { () throws(ToolError) in
                    try DataTruncate.apply(plan, locked, nowMs: fixedNowMs)
                }
            }
            let backup = directory + "/backup/20231114T221320Z-truncate/" + Backup.recordsFileName
            transcript.run("paddock data dump <DIR>/backup/20231114T221320Z-truncate/removed-records.pdkr") { () throws(ToolError) in
                try ToolRun.dump(backup)
            }
            transcript.run("cat <DIR>/backup/20231114T221320Z-truncate/MANIFEST.txt") { () throws(ToolError) in
                (try String(decoding: ToolFilesForTests.read(directory + "/backup/20231114T221320Z-truncate/MANIFEST.txt"), as: UTF8.self)
                    .trimmingCharacters(in: .newlines), .healthy)
            }
            transcript.run("paddock data status <DIR>") { () throws(ToolError) in try ToolRun.status(directory) }
            transcript.run("paddock data verify <DIR>") { () throws(ToolError) in try ToolRun.verify(directory) }
            try expectGolden("truncate-healthy", transcript.text)
        }
        try withFixture("purged") { directory in
            var transcript = ToolTranscript([(directory, "<DIR>")])
            transcript.run("paddock data truncate <DIR> --after 0x100000005") { () throws(ToolError) in
                let locked = try ToolDataDirectory.openForChange(directory)
                defer { locked.close() }
                _ = try DataTruncate.plan(locked, after: 0x1_0000_0005, nowMs: fixedNowMs)
                return ("", .healthy)
            }
            try expectGolden("truncate-purged", transcript.text)
        }
    }

    @Test(arguments: ["damaged-log", "damaged-snapshot", "missing-record", "bad-digest", "uncovered", "healthy"])
    func repair(fixture: String) throws {
        try withFixture(fixture) { directory in
            var transcript = ToolTranscript([(directory, "<DIR>")])
            transcript.run("paddock data repair <DIR> --yes") { () throws(ToolError) in
                let locked = try ToolDataDirectory.openForChange(directory)
                defer { locked.close() }
                let plan = try DataRepair.plan(locked, nowMs: fixedNowMs)
                return try changeOutput(planText: plan.text, nothingToDo: plan.isEmpty || plan.refusal != nil, planStatus: plan.status) {
                    () throws(ToolError) in try DataRepair.apply(plan, locked, nowMs: fixedNowMs)
                }
            }
            transcript.run("paddock data verify <DIR>") { () throws(ToolError) in try ToolRun.verify(directory) }
            if fixture == "missing-record" {
                transcript.run("paddock data repair <DIR> --json --dry-run") { () throws(ToolError) in
                    let locked = try ToolDataDirectory.openForChange(directory)
                    defer { locked.close() }
                    let plan = try DataRepair.plan(locked, nowMs: fixedNowMs)
                    return try changeJSON(planJSON: plan.json, nothingToDo: true, planStatus: plan.status) { () throws(ToolError) in
                        preconditionFailure("dry run")
                    }
                }
                transcript.run("paddock data dump <DIR>/backup/20231114T221320Z-repair/removed-records.pdkr") { () throws(ToolError) in
                    try ToolRun.dump(directory + "/backup/20231114T221320Z-repair/" + Backup.recordsFileName)
                }
            }
            try expectGolden("repair-\(fixture)", transcript.text)
        }
    }

    /// The tools that rebuild from or change the log see the records a server left only in its
    /// journal (fixture "journaled": the healthy fixture with its last records unfolded): replay
    /// to the newest zxid and export to ZooKeeper give what they give for the healthy fixture,
    /// and truncate inside the journal's records removes exactly those after the point.
    @Test func replayExportAndTruncateSeeTheJournalsRecords() throws {
        let zxids = try withFixture("healthy") { directory in try rawLog(directory + "/log").records.map(\.zxid) }
        let journalOnly = Array(zxids.suffix(FixtureBuilder.journaledRecords))
        #expect(journalOnly.count == FixtureBuilder.journaledRecords)
        func rebuilt(_ fixture: String) throws -> (replayed: String, exported: Int64, txns: Int) {
            try withFixture(fixture) { directory in
                try withTemporaryDirectory { out in
                    _ = try ToolRun.replay(directory, to: zxids.last!, output: out)
                    let snapshot = SnapshotFiles.list(directory: out).first!.path
                    let dumped = try ToolRun.snapshotDump(snapshot, data: true).0.replacingOccurrences(of: out, with: "<OUT>")
                    let report = try ZooKeeperExport.run(ZooKeeperExportOptions(dataDirectory: directory, zookeeperDirectory: out + "/zk"))
                    return (dumped, try ZooKeeperSnapshotReader.read(path: report.snapshot.path).digest?.zxid ?? 0, report.txnsReplayed)
                }
            }
        }
        let healthy = try rebuilt("healthy"), journaled = try rebuilt("journaled")
        #expect(journaled.replayed == healthy.replayed && !healthy.replayed.isEmpty)
        #expect(journaled.exported == zxids.last! && healthy.exported == zxids.last!)
        #expect(journaled.txns == healthy.txns && journaled.txns > 0)
        try withFixture("journaled") { directory in
            let point = journalOnly[1]
            let locked = try ToolDataDirectory.openForChange(directory)
            let plan = try DataTruncate.plan(locked, after: point, nowMs: fixedNowMs)
            _ = try DataTruncate.apply(plan, locked, nowMs: fixedNowMs)
            locked.close()
            #expect(try rawLog(directory + "/log").records.map(\.zxid) == Array(zxids.prefix { $0 <= point }))
            let reader = try RecordsFileReader(path: directory + "/backup/20231114T221320Z-truncate/" + Backup.recordsFileName)
            var removed: [Int64] = []
            while let record = try reader.next() { removed.append(record.zxid) }
            #expect(removed == Array(journalOnly.dropFirst(2)))
        }
    }

    /// A journal whose first frame is damaged while a later one is valid: not a torn tail. The
    /// log refuses to open; repair keeps the frames before the damage and backs the journal up.
    @Test func repairDamagedJournal() throws {
        try withFixture("journaled") { directory in
            let logDirectory = directory + "/log"
            let tail = Array(try rawLog(logDirectory).records.suffix(FixtureBuilder.journaledRecords))
            let first = JournalFrame.encode(sequence: 1, previousCRC: 0, entries: tail[0..<2].map { (zxid: $0.zxid, bytes: $0.bytes) })
            let second = JournalFrame.encode(sequence: 2, previousCRC: first.crc, entries: tail[2...].map { (zxid: $0.zxid, bytes: $0.bytes) })
            var image = first.bytes + second.bytes
            image += [UInt8](repeating: 0, count: FixtureBuilder.journalFixtureBytes - image.count)
            image[100] ^= 0x20
            try Data(image).write(to: URL(fileURLWithPath: logDirectory + "/" + FileJournalDevice.fileName))
            var transcript = ToolTranscript([(directory, "<DIR>")])
            transcript.run("paddock data status <DIR>") { () throws(ToolError) in try ToolRun.status(directory) }
            transcript.run("paddock data repair <DIR> --yes") { () throws(ToolError) in
                do throws(ToolError) {
                    let locked = try ToolDataDirectory.openForChange(directory)
                    locked.close()
                    preconditionFailure("a damaged journal must keep the log from opening")
                } catch where JournalSalvagePlan.applies(to: error) {
                    let salvage = try JournalSalvagePlan.plan(directory, dataLogDirectory: nil, nowMs: fixedNowMs)
                    return try changeOutput(planText: salvage.text, nothingToDo: false, planStatus: .problems) { () throws(ToolError) in
                        try salvage.apply(dataLogDirectory: nil, nowMs: fixedNowMs)
                    }
                }
            }
            transcript.run("paddock data status <DIR>") { () throws(ToolError) in try ToolRun.status(directory) }
            transcript.run("paddock data verify <DIR>") { () throws(ToolError) in try ToolRun.verify(directory) }
            #expect(FileManager.default.fileExists(atPath: directory + "/backup/20231114T221320Z-repair/" + FileJournalDevice.fileName))
            try expectGolden("repair-damaged-journal", transcript.text)
        }
    }

    @Test func purgeAndCompact() throws {
        try withFixture("healthy") { directory in
            var transcript = ToolTranscript([(directory, "<DIR>")])
            for (keep, backup) in [(3, true), (1, true)] {
                transcript.run("paddock data purge <DIR> --keep \(keep) --yes") { () throws(ToolError) in
                    let locked = try ToolDataDirectory.openForChange(directory)
                    defer { locked.close() }
                    let plan = try DataPurge.plan(locked, keep: keep, backup: backup, nowMs: fixedNowMs)
                    return try changeOutput(planText: plan.text, nothingToDo: plan.isEmpty) { () throws(ToolError) in
                        try DataPurge.apply(plan, locked, nowMs: fixedNowMs)
                    }
                }
            }
            transcript.run("paddock data compact <DIR> --yes") { () throws(ToolError) in
                let locked = try ToolDataDirectory.openForChange(directory)
                defer { locked.close() }
                let plan = try DataCompact.plan(locked, nowMs: fixedNowMs)
                return try changeOutput(planText: plan.text, nothingToDo: false) { () throws(ToolError) in
                    try DataCompact.apply(plan, locked, nowMs: fixedNowMs)
                }
            }
            transcript.run("paddock data status <DIR>") { () throws(ToolError) in try ToolRun.status(directory) }
            transcript.run("paddock data verify <DIR>") { () throws(ToolError) in try ToolRun.verify(directory) }
            transcript.run("paddock data dump <DIR>/backup/20231114T221320Z-purge-2/removed-records.pdkr --from 0x100000014") {
                () throws(ToolError) in try ToolRun.dump(directory + "/backup/20231114T221320Z-purge-2/" + Backup.recordsFileName, from: 0x1_0000_0014)
            }
            try expectGolden("purge-compact-healthy", transcript.text)
        }
        try withFixture("purged") { directory in
            var transcript = ToolTranscript([(directory, "<DIR>")])
            transcript.run("paddock data purge <DIR> --keep 1 --no-backup --yes --json") { () throws(ToolError) in
                let locked = try ToolDataDirectory.openForChange(directory)
                defer { locked.close() }
                let plan = try DataPurge.plan(locked, keep: 1, backup: false, nowMs: fixedNowMs)
                return try changeJSON(planJSON: plan.json, nothingToDo: plan.isEmpty) { () throws(ToolError) in
                    try DataPurge.apply(plan, locked, nowMs: fixedNowMs)
                }
            }
            transcript.run("paddock data status <DIR>") { () throws(ToolError) in try ToolRun.status(directory) }
            try expectGolden("purge-purged", transcript.text)
        }
    }
}

extension ToolFilesForTests {
    static func read(_ path: String) throws(ToolError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw .io("cannot read \(path)") }
        return [UInt8](data)
    }
}
