import Foundation
import Testing
import ZKBase
import ZKTree
import ZKWire
@testable import ZKTools

@Suite struct ZooKeeperSnapshotTests {
    @Test(arguments: ZooKeeperFixture.allCases)
    func everySnapshotApacheWroteDeserializesWithItsSealsAndDigest(_ fixture: ZooKeeperFixture) throws {
        let files = ZooKeeperFiles.snapshots(in: fixture.versionDirectory)
        #expect(files.count >= 5)
        for file in files {
            let snapshot = try ZooKeeperSnapshotReader.read(file)
            #expect(snapshot.formatVersion == 2 && snapshot.dbid == -1)
            #expect(snapshot.tree.node("/zookeeper/config") != nil)
            let digest = try #require(snapshot.digest, "3.8 writes the digest part: \(file.path)")
            #expect(digest.version == 2 && digest.zxid >= file.zxid)
            #expect(snapshot.lastProcessedZxid == nil)
            if file.zxid == 0 {
                // The first snapshot, of the empty tree, carries the empty digest (zxid 0, value 0).
                #expect(digest.zxid == 0 && digest.value == 0)
            }
        }
    }

    @Test func writerOutputReadsBackToTheSameTree() throws {
        let tree = zooKeeperSampleTree()
        for compression in [ZooKeeperFiles.Compression.none, .gzip] {
            try zooKeeperTemporaryDirectory { directory in
                let report = try ZooKeeperSnapshotWriter.write(
                    tree: tree, zxid: tree.lastProcessedZxid, directory: directory, compression: compression)
                #expect(report.path == directory + "/" + ZooKeeperFiles.snapshotName(zxid: tree.lastProcessedZxid, compression: compression))
                #expect(report.nodeCount == tree.nodeCount && report.sessionCount == 1)
                #expect(report.aclCount == 4)  // open, read-only, digest, mixed
                #expect(report.digest == ZooKeeperDigest.treeDigest(tree))
                let read = try ZooKeeperSnapshotReader.read(path: report.path)
                #expect(zooKeeperSameTree(read.tree, tree))
                #expect(read.tree.lastProcessedZxid == tree.lastProcessedZxid)
                #expect(read.digest == ZooKeeperSnapshotDigest(zxid: tree.lastProcessedZxid, version: 2, value: ZooKeeperDigest.treeDigest(read.tree)))
                #expect(read.tree.containers == tree.containers && read.tree.ttlNodes == tree.ttlNodes)
                #expect(read.tree.ephemerals.mapValues { $0.elements } == tree.ephemerals.mapValues { $0.elements })
                if compression == .none {
                    // What FileSnap's quick validity check looks at: ZKSN first, int 1 + "/" last.
                    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: report.path)))
                    #expect(Array(bytes[0..<4]) == Array("ZKSN".utf8))
                    #expect(Array(bytes.suffix(5)) == [0, 0, 0, 1, 0x2F])
                }
            }
        }
    }

    @Test func sameTreeGivesTheSameBytes() throws {
        let tree = zooKeeperSampleTree()
        try zooKeeperTemporaryDirectory { directory in
            let first = try ZooKeeperSnapshotWriter.write(tree: tree, zxid: 12, directory: directory, name: "a")
            let second = try ZooKeeperSnapshotWriter.write(tree: tree, zxid: 12, directory: directory, name: "b")
            #expect(try Data(contentsOf: URL(fileURLWithPath: first.path)) == Data(contentsOf: URL(fileURLWithPath: second.path)))
        }
    }

    @Test func snapshotWithoutDigestAndWith39ZxidPartsRead() throws {
        let tree = zooKeeperSampleTree()
        try zooKeeperTemporaryDirectory { directory in
            for includeDigest in [false, true] {
                let path = directory + "/snapshot.c\(includeDigest ? "" : ".gz")"
                let stream = try ZooKeeperOutputStream(path: path, gzip: !includeDigest)
                _ = try ZooKeeperSnapshotWriter.write(tree: tree, zxid: 12, to: stream, includeDigest: includeDigest)
                // ZooKeeper 3.9: lastProcessedZxid and its own seal after the rest.
                try stream.writeLong(12)
                try ZooKeeperSnapshotWriter.seal(stream)
                try stream.finish()
                let read = try ZooKeeperSnapshotReader.read(path: path)
                #expect(read.lastProcessedZxid == 12)
                #expect((read.digest != nil) == includeDigest)
                #expect(zooKeeperSameTree(read.tree, tree))
            }
            // No trailer at all (ZooKeeper before 3.6, or digests off).
            let bare = directory + "/snapshot.d"
            let stream = try ZooKeeperOutputStream(path: bare, gzip: false)
            _ = try ZooKeeperSnapshotWriter.write(tree: tree, zxid: 13, to: stream, includeDigest: false)
            try stream.finish()
            let read = try ZooKeeperSnapshotReader.read(path: bare)
            #expect(read.digest == nil && read.lastProcessedZxid == nil)
        }
    }

    @Test func flippedByteFailsTheSealAndNamesTheOffset() throws {
        try zooKeeperTemporaryDirectory { directory in
            let report = try ZooKeeperSnapshotWriter.write(tree: zooKeeperSampleTree(), zxid: 12, directory: directory)
            // A byte of the big data buffer: the structure still parses, only the seal can tell.
            try zooKeeperEditFile(report.path) { bytes in
                let index = bytes.firstIndex(of: 7)!
                bytes[index] = 8
            }
            let error = #expect(throws: ZooKeeperMigrationError.self) { try ZooKeeperSnapshotReader.read(path: report.path) }
            #expect(error?.kind == .corrupt && error?.exitCode == 1)
            #expect(error?.message.contains("seal") == true && error?.message.contains("offset") == true)
        }
    }

    @Test func truncatedSnapshotIsCorruptNotACrash() throws {
        try zooKeeperTemporaryDirectory { directory in
            let report = try ZooKeeperSnapshotWriter.write(tree: zooKeeperSampleTree(), zxid: 12, directory: directory)
            let size = try Data(contentsOf: URL(fileURLWithPath: report.path)).count
            for cut in stride(from: 1, to: size, by: 7) {
                try zooKeeperEditFile(report.path) { bytes in bytes = Array(bytes.prefix(cut)) }
                if cut < size - 33 {
                    #expect(throws: ZooKeeperMigrationError.self) { try ZooKeeperSnapshotReader.read(path: report.path) }
                }
                // Restore for the next cut.
                _ = try ZooKeeperSnapshotWriter.write(tree: zooKeeperSampleTree(), zxid: 12, directory: directory)
            }
        }
    }

    @Test func aclIdMissingFromTheCacheIsCorrupt() throws {
        // Header, no sessions, an empty ACL cache, the root with ACL id 5: ZOOKEEPER-4846's shape.
        try zooKeeperTemporaryDirectory { directory in
            let path = directory + "/snapshot.1"
            let stream = try ZooKeeperOutputStream(path: path, gzip: false)
            try stream.writeInt(ZooKeeperSnapshotReader.magic)
            try stream.writeInt(2)
            try stream.writeLong(-1)
            try stream.writeInt(0)
            try stream.writeInt(0)
            try stream.writeString("")
            try stream.writeBuffer([])
            try stream.writeLong(5)
            try ZooKeeperSnapshotWriter.writeStat(StatPersisted(), to: stream)
            try stream.writeString("/")
            try ZooKeeperSnapshotWriter.seal(stream)
            try stream.finish()
            let error = #expect(throws: ZooKeeperMigrationError.self) { try ZooKeeperSnapshotReader.read(path: path) }
            #expect(error?.message.contains("ZOOKEEPER-4846") == true)
        }
    }

    @Test func fileNamesFollowZooKeeper() {
        #expect(ZooKeeperFiles.parseSnapshotName("snapshot.1a2b")! == (0x1a2b, .none))
        #expect(ZooKeeperFiles.parseSnapshotName("snapshot.1A2B.gz")! == (0x1a2b, .gzip))
        #expect(ZooKeeperFiles.parseSnapshotName("snapshot.0.snappy")! == (0, .snappy))
        #expect(ZooKeeperFiles.parseSnapshotName("snapshot.1a.tmp") == nil)
        #expect(ZooKeeperFiles.parseSnapshotName(".snapshot.1a.tmp") == nil)
        #expect(ZooKeeperFiles.parseSnapshotName("snapshot.xyz") == nil)
        #expect(ZooKeeperFiles.parseLogName("log.100000001") == 0x1_0000_0001)
        #expect(ZooKeeperFiles.parseLogName("log.1.gz") == nil)
        #expect(ZooKeeperFiles.snapshotName(zxid: 0x2a, compression: .gzip) == "snapshot.2a.gz")
        let logs = [1, 0x20, 0x40].map { ZooKeeperFiles.LogFile(path: "log.\($0)", zxid: Int64($0)) }
        #expect(ZooKeeperFiles.logsNeeded(logs, after: 0x30).map(\.zxid) == [0x20, 0x40])
        #expect(ZooKeeperFiles.logsNeeded(logs, after: 0x20).map(\.zxid) == [0x20, 0x40])
        #expect(ZooKeeperFiles.logsNeeded(logs, after: 0).map(\.zxid) == [1, 0x20, 0x40])
    }

    @Test func snappyBlocksDecodeAndBadOnesAreRefused() throws {
        // "abc" literal, then a 1-byte-offset copy of 9 bytes at offset 3 (overlapping).
        #expect(try Snappy.decompress([12, 0x08, 0x61, 0x62, 0x63, 0x15, 0x03][...]) == Array("abcabcabcabc".utf8))
        // A 2-byte-offset copy; a literal with a 1-byte length.
        let long = [UInt8](repeating: 0x41, count: 70)
        #expect(try Snappy.decompress([70 + 10, 60 << 2, 69] + long[...] + [0x26, 70, 0]) == long + Array(long[0..<10]))
        #expect(throws: SnappyError.self) { try Snappy.decompress([12, 0x08, 0x61, 0x62, 0x63, 0x15, 0x04][...]) }  // offset past start
        #expect(throws: SnappyError.self) { try Snappy.decompress([13, 0x08, 0x61, 0x62, 0x63, 0x15, 0x03][...]) }  // short
        #expect(throws: SnappyError.self) { try Snappy.decompress([3, 0x10, 0x61][...]) }  // literal overruns
    }
}
