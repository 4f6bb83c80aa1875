import CLMDB
import Foundation
import Testing
import ZKBase
import ZKFormat
import ZKStorage
import ZKTree
import ZKWire
@testable import ZKTools

@Suite struct ZooKeeperImportTests {
    @Test(arguments: ZooKeeperFixture.allCases)
    func apacheDataDirectoryGivesTheTreeTheClientRead(_ fixture: ZooKeeperFixture) throws {
        let expected = try fixture.expected()
        let (tree, report) = try ZooKeeperImport.load(zookeeperDirectory: fixture.directory)
        #expect(zooKeeperDifferences(tree, expected) == [])
        #expect(report.lastZxid == expected.lastZxid && tree.lastProcessedZxid == expected.lastZxid)
        #expect(tree.sessions[expected.liveSession] != nil, "the live session and its timeout are kept")
        #expect(tree.ephemerals[expected.liveSession]?.count ?? 0 > 0)
        #expect(report.snapshotUsed == ZooKeeperFiles.snapshots(in: fixture.versionDirectory).first?.path)
        #expect(report.skippedSnapshots.isEmpty && report.logNotes.isEmpty)
        #expect(report.txnsReplayed > 0 && report.txnsSkipped > 0)
        // Every txn after the snapshot carries ZooKeeper's digest, and replay matched each one.
        #expect(report.digestsChecked >= report.txnsReplayed)
        // ZooKeeper's digest keys the root as "", Paddock's as "/": the two sums differ by that term.
        #expect(report.digest == ZooKeeperDigest.treeDigest(tree) && report.digest != tree.digest)
    }

    @Test func eachOlderSnapshotPlusTheLogsGivesTheSameTree() throws {
        let fixture = ZooKeeperFixture.plain
        let expected = try fixture.expected()
        let snapshots = ZooKeeperFiles.snapshots(in: fixture.versionDirectory)
        try zooKeeperTemporaryDirectory { directory in
            try copyZooKeeperFixture(fixture, to: directory)
            // Remove the newest snapshot each round: replay covers the difference from the logs.
            for (index, snapshot) in snapshots.enumerated() {
                let (tree, report) = try ZooKeeperImport.load(zookeeperDirectory: directory)
                #expect(zooKeeperDifferences(tree, expected) == [], "from \(snapshot.path)")
                #expect(report.snapshotZxid == snapshot.zxid)
                if index + 1 < snapshots.count {
                    try FileManager.default.removeItem(atPath: directory + "/version-2/" + (snapshot.path.split(separator: "/").last.map(String.init) ?? ""))
                }
            }
        }
    }

    @Test func corruptNewestSnapshotFallsBackToAnOlderOne() throws {
        let fixture = ZooKeeperFixture.plain
        try zooKeeperTemporaryDirectory { directory in
            try copyZooKeeperFixture(fixture, to: directory)
            let newest = try #require(ZooKeeperFiles.snapshots(in: directory + "/version-2").first)
            try zooKeeperEditFile(newest.path) { bytes in bytes[bytes.count / 2] ^= 0x40 }
            let (tree, report) = try ZooKeeperImport.load(zookeeperDirectory: directory)
            #expect(zooKeeperDifferences(tree, try fixture.expected()) == [])
            #expect(report.skippedSnapshots.map(\.path) == [newest.path])
            #expect(report.snapshotZxid < newest.zxid)
        }
    }

    @Test func partialLastTxnEndsTheLogAsInZooKeeper() throws {
        let fixture = ZooKeeperFixture.gzip
        let expected = try fixture.expected()
        try zooKeeperTemporaryDirectory { directory in
            try copyZooKeeperFixture(fixture, to: directory)
            let last = try #require(ZooKeeperFiles.logs(in: directory + "/version-2").last)
            let entries = try zooKeeperLogEntries(last.path)
            let final = try #require(entries.last)
            #expect(final.txn.zxid == expected.lastZxid)
            // Cut inside the last entry (its bytes start 12 after its offset).
            try zooKeeperEditFile(last.path) { bytes in bytes = Array(bytes.prefix(Int(final.offset) + 20)) }
            let (tree, report) = try ZooKeeperImport.load(zookeeperDirectory: directory)
            #expect(report.lastZxid == expected.lastZxid - 1 && tree.lastProcessedZxid == expected.lastZxid - 1)
            #expect(report.logNotes.count == 1 && report.logNotes[0].contains("partial txn at offset \(final.offset)"))
        }
    }

    @Test func badChecksumInALogStopsTheImportNamingFileAndOffset() throws {
        let fixture = ZooKeeperFixture.snappy
        try zooKeeperTemporaryDirectory { directory in
            try copyZooKeeperFixture(fixture, to: directory)
            // The log read after the newest snapshot with the most entries.
            let version = directory + "/version-2"
            let newest = try #require(ZooKeeperFiles.snapshots(in: version).first)
            let needed = try ZooKeeperFiles.logsNeeded(ZooKeeperFiles.logs(in: version), after: newest.zxid)
                .map { ($0, try zooKeeperLogEntries($0.path)) }
            let (last, entries) = try #require(needed.max { $0.1.count < $1.1.count })
            #expect(entries.count >= 3)
            let victim = entries[entries.count / 2]
            // A byte of the txn's time field: still decodable, only the Adler32 can tell.
            try zooKeeperEditFile(last.path) { bytes in bytes[Int(victim.offset) + 12 + 20 + 7] ^= 0x01 }
            let error = #expect(throws: ZooKeeperMigrationError.self) { try ZooKeeperImport.load(zookeeperDirectory: directory) }
            #expect(error?.kind == .corrupt && error?.exitCode == 1)
            #expect(error?.message.hasPrefix("\(last.path): Adler32 mismatch (CRC check failed)") == true)
            #expect(error?.message.hasSuffix("at offset \(victim.offset)") == true)
        }
    }

    @Test func missingLogFileIsAGapNotASilentlyShorterTree() throws {
        let fixture = ZooKeeperFixture.plain
        try zooKeeperTemporaryDirectory { directory in
            try copyZooKeeperFixture(fixture, to: directory)
            let version = directory + "/version-2"
            let snapshot = try #require(ZooKeeperFiles.snapshots(in: version).first)
            // Keep only the newest snapshot; drop the log that holds the txns right after it.
            let needed = ZooKeeperFiles.logsNeeded(ZooKeeperFiles.logs(in: version), after: snapshot.zxid)
            #expect(needed.count >= 2)
            try FileManager.default.removeItem(atPath: needed[0].path)
            let error = #expect(throws: ZooKeeperMigrationError.self) { try ZooKeeperImport.load(zookeeperDirectory: directory) }
            #expect(error?.kind == .inconsistent && error?.message.contains("does not follow") == true)
        }
    }

    @Test func digestMismatchIsCaughtUnlessDisabled() throws {
        // A hand-built directory: a snapshot at zxid 2, then a log whose txn claims a wrong digest.
        try zooKeeperTemporaryDirectory { directory in
            var tree = DataTree()
            let session: Int64 = 0x77
            func txn(_ zxid: Int64, _ body: TxnBody) -> Txn {
                Txn(header: TxnHeader(clientId: session, cxid: 1, zxid: zxid, time: 1000 + zxid, type: body.opCode.rawValue), body: body)
            }
            let first = [txn(1, .createSession(timeoutMs: 5000)),
                         txn(2, .create(CreateTxn(path: "/a", data: [1], acl: ACL.openUnsafe, ephemeral: false, parentCVersion: -1)))]
            for item in first { _ = tree.apply(item) }
            _ = try ZooKeeperSnapshotWriter.write(tree: tree, zxid: 2, directory: directory)
            let writer = ZooKeeperTxnLogWriter(path: directory + "/log.1")
            for item in first { writer.append(item) }
            let third = txn(3, .setData(path: "/a", data: [2], version: 1))
            var after = tree
            _ = after.apply(third)
            writer.append(third, digest: ZooKeeperTxnDigest(version: 2, value: ZooKeeperDigest.treeDigest(after) &+ 1))
            try writer.finish()
            let error = #expect(throws: ZooKeeperMigrationError.self) { try ZooKeeperImport.load(zookeeperDirectory: directory) }
            #expect(error?.kind == .inconsistent && error?.message.contains("digest") == true)
            let (loaded, report) = try ZooKeeperImport.load(zookeeperDirectory: directory, checkDigests: false)
            #expect(report.lastZxid == 3 && loaded.node("/a")?.data == [2])
            #expect(report.txnsSkipped == 2 && report.txnsReplayed == 1)
        }
    }

    @Test func noSnapshotReplaysTheLogsFromAnEmptyTree() throws {
        let fixture = ZooKeeperFixture.plain
        try zooKeeperTemporaryDirectory { directory in
            try copyZooKeeperFixture(fixture, to: directory)
            for snapshot in ZooKeeperFiles.snapshots(in: directory + "/version-2") {
                try FileManager.default.removeItem(atPath: snapshot.path)
            }
            let (tree, report) = try ZooKeeperImport.load(zookeeperDirectory: directory)
            #expect(zooKeeperDifferences(tree, try fixture.expected()) == [])
            #expect(report.snapshotUsed == nil && report.txnsSkipped == 0)
        }
    }

    @Test func runWritesADataDirectoryThatRecoversAndContinues() throws {
        let fixture = ZooKeeperFixture.plain
        let expected = try fixture.expected()
        try zooKeeperTemporaryDirectory { root in
            let target = root + "/paddock"
            let report = try ZooKeeperImport.run(ZooKeeperImportOptions(zookeeperDirectory: fixture.directory, dataDirectory: target))
            // The snapshot holds what ZooKeeper's own tree held (through its snapshot's digest
            // zxid); the txns after it stay log records, which a leader could still truncate.
            #expect(report.committedZxid > 0 && report.committedZxid < expected.lastZxid)
            #expect(report.txnsLogged > 0)
            #expect(report.paddockSnapshot == target + "/snapshots/" + SnapshotFiles.name(zxid: report.committedZxid))
            // What the server runs at startup.
            let directory = try DataDirectory.open(dataDirectory: target, createIfMissing: false, lock: true)
            defer { directory.release() }
            let log = try LMDBTransactionLog(directory: directory.logDirectory)
            defer { log.close() }
            #expect(log.lastZxid == expected.lastZxid)
            #expect(try log.records(after: report.committedZxid, limit: 100_000).count == report.txnsLogged)
            let (tree, recovery) = try Recovery.recover(snapshotDirectory: directory.snapshotDirectory, log: log)
            #expect(zooKeeperDifferences(tree, expected) == [])
            #expect(recovery.txnsReplayed == report.txnsLogged && recovery.lastZxid == expected.lastZxid)
            // An ensemble member starts from the committed tree and leaves the rest to ZAB.
            let (committed, memberRecovery) = try Recovery.recover(snapshotDirectory: directory.snapshotDirectory, log: log, replayWholeLog: false)
            #expect(memberRecovery.lastZxid == report.committedZxid && committed.lastProcessedZxid == report.committedZxid)
            #expect(tree.sessions[expected.liveSession] != nil)
            // The next txn is last + 1; anything else is refused.
            let next = Txn(header: TxnHeader(clientId: 1, cxid: 1, zxid: expected.lastZxid + 1, time: 1, type: OpCode.setData.rawValue),
                           body: .setData(path: "/app", data: [9], version: 1))
            var skipping = next
            skipping.header.zxid += 1
            #expect(throws: LogError.self) { try log.append([LoggedTxn(txn: skipping, digest: 0)]) }
            try log.append([LoggedTxn(txn: next, digest: 0)])
            #expect(log.lastZxid == expected.lastZxid + 1)
            let records = try log.records(after: expected.lastZxid, limit: 10)
            #expect(records.map(\.txn) == [next])
        }
    }

    /// A member's ZAB state travels with its tree: both epochs and `myid`; importing into
    /// ZooKeeper's own dataDir (`inPlace`, what the server does when started on it) keeps
    /// ZooKeeper's files beside Paddock's; epochs that contradict the log are refused.
    @Test func runCarriesTheEpochsAndMyid() throws {
        let fixture = ZooKeeperFixture.plain
        let expected = try fixture.expected()
        try zooKeeperTemporaryDirectory { root in
            let zookeeper = try zooKeeperMemberDirectory(root + "/zk", fixture, accepted: 7, current: 6, myid: 3)

            let target = root + "/paddock"
            let report = try ZooKeeperImport.run(ZooKeeperImportOptions(zookeeperDirectory: zookeeper, dataDirectory: target))
            #expect(report.acceptedEpoch == 7 && report.currentEpoch == 6)
            #expect(try ZabEpochFiles.read(directory: target + "/snapshots", name: "acceptedEpoch") == 7)
            #expect(try ZabEpochFiles.read(directory: target + "/snapshots", name: "currentEpoch") == 6)
            #expect(report.myidCopied == target + "/myid")
            #expect(try String(contentsOfFile: target + "/myid", encoding: .utf8) == "3\n")

            // In place: the dataDir holds myid and version-2 already; both stay.
            let inPlace = try ZooKeeperImport.run({
                var options = ZooKeeperImportOptions(zookeeperDirectory: zookeeper, dataDirectory: zookeeper)
                options.inPlace = true
                return options
            }())
            #expect(inPlace.lastZxid == expected.lastZxid && inPlace.myidCopied == nil)
            #expect(try ZabEpochFiles.read(directory: zookeeper + "/snapshots", name: "acceptedEpoch") == 7)
            #expect(FileManager.default.fileExists(atPath: zookeeper + "/version-2/acceptedEpoch"))
            #expect(throws: ZooKeeperMigrationError.self) {
                try ZooKeeperImport.run(ZooKeeperImportOptions(zookeeperDirectory: zookeeper, dataDirectory: zookeeper))
            }

            // A current epoch past the accepted one is no state a member can have been in.
            try "1".write(toFile: zookeeper + "/version-2/acceptedEpoch", atomically: true, encoding: .utf8)
            try "2".write(toFile: zookeeper + "/version-2/currentEpoch", atomically: true, encoding: .utf8)
            let error = #expect(throws: ZooKeeperMigrationError.self) {
                try ZooKeeperImport.run(ZooKeeperImportOptions(zookeeperDirectory: zookeeper, dataDirectory: root + "/again"))
            }
            #expect(error?.message.contains("currentEpoch 2, acceptedEpoch 1") == true)
        }
    }

    /// A member's data directory goes back to ZooKeeper with the same split: its committed tree
    /// as the snapshot, the txns after it as a ZooKeeper log (ZooKeeper cannot truncate below a
    /// snapshot), its epochs and myid; in place, over ZooKeeper's stale files (moved aside).
    @Test func memberExportCarriesTheLogTailEpochsAndMyid() throws {
        let fixture = ZooKeeperFixture.plain
        let expected = try fixture.expected()
        try zooKeeperTemporaryDirectory { root in
            let zookeeper = try zooKeeperMemberDirectory(root + "/zk", fixture, accepted: 5, current: 4, myid: 2)
            var importOptions = ZooKeeperImportOptions(zookeeperDirectory: zookeeper, dataDirectory: zookeeper)
            importOptions.inPlace = true
            let imported = try ZooKeeperImport.run(importOptions)
            #expect(imported.txnsLogged > 0)

            // Into a fresh directory.
            let fresh = root + "/back"
            let report = try ZooKeeperExport.run(ZooKeeperExportOptions(dataDirectory: zookeeper, zookeeperDirectory: fresh))
            #expect(report.snapshot.zxid == imported.committedZxid)
            #expect(report.txnsInLog == imported.txnsLogged)
            #expect(report.acceptedEpoch == 5 && report.currentEpoch == 4)
            #expect(report.myidCopied == fresh + "/myid")
            let logFile = try #require(report.logFile)
            #expect(try zooKeeperLogEntries(logFile).count == imported.txnsLogged)
            #expect(try ZabEpochFiles.read(directory: fresh + "/version-2", name: "acceptedEpoch") == 5)
            let (tree, reread) = try ZooKeeperImport.load(zookeeperDirectory: fresh)
            #expect(zooKeeperDifferences(tree, expected) == [])
            #expect(reread.digestsChecked > imported.txnsLogged)

            // In place: ZooKeeper's own files are moved aside, not replayed over the export.
            let inPlace = try ZooKeeperExport.run(ZooKeeperExportOptions(dataDirectory: zookeeper, zookeeperDirectory: zookeeper, force: true))
            #expect(inPlace.movedAside.contains("acceptedEpoch") && inPlace.movedAside.contains { $0.hasPrefix("log.") })
            #expect(inPlace.myidCopied == nil)
            let (again, _) = try ZooKeeperImport.load(zookeeperDirectory: zookeeper)
            #expect(zooKeeperDifferences(again, expected) == [])
            // The directory is ZooKeeper's now: Paddock's files are aside, and taking it over
            // again imports ZooKeeper's files rather than resuming the stale Paddock history.
            let aside = try #require(inPlace.paddockFilesMovedTo)
            #expect(!FileManager.default.fileExists(atPath: zookeeper + "/paddock-version"))
            #expect(FileManager.default.fileExists(atPath: aside + "/paddock-version"))
            #expect(FileManager.default.fileExists(atPath: aside + "/log"))
            let reimported = try ZooKeeperImport.run(importOptions)
            #expect(reimported.lastZxid == expected.lastZxid && reimported.acceptedEpoch == 5)
        }
    }

    @Test func runRefusesANonEmptyTargetUnlessForced() throws {
        let fixture = ZooKeeperFixture.gzip
        try zooKeeperTemporaryDirectory { root in
            let target = root + "/paddock"
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            try Data("x".utf8).write(to: URL(fileURLWithPath: target + "/stray"))
            var error = #expect(throws: ZooKeeperMigrationError.self) {
                try ZooKeeperImport.run(ZooKeeperImportOptions(zookeeperDirectory: fixture.directory, dataDirectory: target))
            }
            #expect(error?.kind == .usage && error?.exitCode == 2 && error?.message.contains("not empty") == true)
            // --force takes a Paddock data directory only, never someone else's files.
            error = #expect(throws: ZooKeeperMigrationError.self) {
                try ZooKeeperImport.run(ZooKeeperImportOptions(zookeeperDirectory: fixture.directory, dataDirectory: target, force: true))
            }
            #expect(error?.kind == .usage)
            try FileManager.default.removeItem(atPath: target + "/stray")
            // An empty existing directory is fine; importing again needs --force, which replaces.
            _ = try ZooKeeperImport.run(ZooKeeperImportOptions(zookeeperDirectory: ZooKeeperFixture.plain.directory, dataDirectory: target))
            #expect(throws: ZooKeeperMigrationError.self) {
                try ZooKeeperImport.run(ZooKeeperImportOptions(zookeeperDirectory: fixture.directory, dataDirectory: target))
            }
            let report = try ZooKeeperImport.run(ZooKeeperImportOptions(zookeeperDirectory: fixture.directory, dataDirectory: target, force: true))
            let directory = try DataDirectory.open(dataDirectory: target, createIfMissing: false, lock: true)
            defer { directory.release() }
            #expect(SnapshotFiles.list(directory: directory.snapshotDirectory).map(\.path) == [report.paddockSnapshot])
            let log = try LMDBTransactionLog(directory: directory.logDirectory)
            defer { log.close() }
            let (tree, _) = try Recovery.recover(snapshotDirectory: directory.snapshotDirectory, log: log)
            #expect(zooKeeperDifferences(tree, try fixture.expected()) == [])
        }
    }

    @Test func runTakesTheDataDirectoryLock() throws {
        try zooKeeperTemporaryDirectory { root in
            let target = root + "/paddock"
            let held = try DataDirectory.open(dataDirectory: target, createIfMissing: true, lock: true)
            defer { held.release() }
            let error = #expect(throws: ZooKeeperMigrationError.self) {
                try ZooKeeperImport.run(ZooKeeperImportOptions(zookeeperDirectory: ZooKeeperFixture.plain.directory, dataDirectory: target, force: true))
            }
            #expect(error?.message.contains("locked") == true)
        }
    }

    @Test func anchorIsRefusedOnALogWithRecords() throws {
        try zooKeeperTemporaryDirectory { root in
            let log = try LMDBTransactionLog(directory: root, configuration: LMDBConfiguration(mapSizeBytesInitial: 1 << 20))
            defer { log.close() }
            try log.anchorEmptyLog(after: 0x500)
            try log.anchorEmptyLog(after: 0x500)  // idempotent
            #expect(throws: LogError.self) { try log.anchorEmptyLog(after: 0x600) }
            let txn = Txn(header: TxnHeader(clientId: 1, cxid: 1, zxid: 0x501, time: 1, type: OpCode.setData.rawValue),
                          body: .setData(path: "/x", data: [1], version: 1))
            try log.append([LoggedTxn(txn: txn, digest: 0)])
            #expect(throws: LogError.self) { try log.anchorEmptyLog(after: 0x501) }
        }
    }

    @Test func exportWritesASnapshotThatReadsBackToTheRecoveredTree() throws {
        let fixture = ZooKeeperFixture.snappy
        let expected = try fixture.expected()
        try zooKeeperTemporaryDirectory { root in
            let target = root + "/paddock"
            _ = try ZooKeeperImport.run(ZooKeeperImportOptions(zookeeperDirectory: fixture.directory, dataDirectory: target))
            for gzip in [false, true] {
                let zookeeper = root + "/zk-\(gzip)"
                let report = try ZooKeeperExport.run(ZooKeeperExportOptions(
                    dataDirectory: target, zookeeperDirectory: zookeeper, compression: gzip ? .gzip : .none))
                #expect(report.snapshot.path == zookeeper + "/version-2/" + ZooKeeperFiles.snapshotName(zxid: expected.lastZxid, compression: gzip ? .gzip : .none))
                let read = try ZooKeeperSnapshotReader.read(path: report.snapshot.path)
                #expect(zooKeeperDifferences(read.tree, expected) == [])
                #expect(read.tree.sessions[expected.liveSession] != nil)
                #expect(read.digest?.zxid == expected.lastZxid && read.digest?.value == report.snapshot.digest)
                // And it imports back to the same tree.
                let (again, _) = try ZooKeeperImport.load(zookeeperDirectory: zookeeper)
                #expect(zooKeeperDifferences(again, expected) == [])
                // A second export refuses to mix with the first, unless forced (moved aside).
                #expect(throws: ZooKeeperMigrationError.self) {
                    try ZooKeeperExport.run(ZooKeeperExportOptions(dataDirectory: target, zookeeperDirectory: zookeeper))
                }
                let forced = try ZooKeeperExport.run(ZooKeeperExportOptions(dataDirectory: target, zookeeperDirectory: zookeeper, force: true))
                #expect(forced.movedAside.count == 1 && forced.movedTo != nil)
            }
        }
    }

    @Test func exportOfAMissingDirectoryIsAUsageError() throws {
        try zooKeeperTemporaryDirectory { root in
            let error = #expect(throws: ZooKeeperMigrationError.self) {
                try ZooKeeperExport.run(ZooKeeperExportOptions(dataDirectory: root + "/none", zookeeperDirectory: root + "/zk"))
            }
            #expect(error?.exitCode == 2)
        }
    }
}
