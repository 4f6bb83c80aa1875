import Foundation
import Testing
import ZKBase
import ZKFormat
import ZKTree

@Suite struct SnapshotFileTests {
    @Test(arguments: [Int32(0), 1, 6, 9])
    func largeTreeRoundTrips(level: Int32) throws {
        let directory = try TemporaryDirectory()
        let tree = SampleTrees.large()
        let path = try SnapshotFiles.write(tree: tree, directory: directory.path, startZxid: tree.lastProcessedZxid, startTimeMs: 1234, level: level)
        #expect(path == directory.file(SnapshotFiles.name(zxid: tree.lastProcessedZxid)))
        #expect(directory.names == [SnapshotFiles.name(zxid: tree.lastProcessedZxid)])

        let loaded = try SnapshotFiles.load(path: path)
        expectSameTree(loaded.tree, tree)
        #expect(loaded.tree.lastProcessedZxid == tree.lastProcessedZxid)
        #expect(loaded.header == SnapshotHeader(
            formatVersion: 1, compression: level == 0 ? 0 : 1, level: UInt32(level),
            startZxid: tree.lastProcessedZxid, startTimeMs: 1234))
        #expect(loaded.trailer.nodeCount == UInt64(tree.nodeCount))
        #expect(loaded.trailer.sessionCount == UInt64(tree.sessions.count))
        #expect(loaded.trailer.endZxid == tree.lastProcessedZxid)
        #expect(loaded.trailer.digest == tree.digest)
        #expect(try SnapshotFiles.verify(path: path).get() == loaded.trailer)

        let fileBytes = try readFile(path)
        if level == 0 {
            // Uncompressed: header + stream + trailer, nothing else.
            #expect(UInt64(fileBytes.count) == 40 + loaded.trailer.streamBytes + 56)
        } else {
            #expect(UInt64(fileBytes.count) < loaded.trailer.streamBytes)
            #expect(fileBytes[40] == 0x78)  // zlib stream header (RFC 1950, 32 KiB window)
        }
    }

    /// The body is inflated on its own thread into a ring of 4 chunks of 1 MiB
    /// (PrefetchingBodySource): a stream several times the ring's size loads whole, and damage
    /// late in it, or a cut, still fails the load with an error (nothing hangs or is lost).
    @Test(arguments: [Int32(0), 1])
    func aStreamLongerThanThePrefetchRingRoundTripsAndItsDamageIsFound(level: Int32) throws {
        let directory = try TemporaryDirectory()
        var random = TestRandom(state: 99)
        var nodes = SampleTrees.baseNodes()
        var zxid: Int64 = 0x1_0000_0000
        nodes.append(NodeSpec(path: "/bulk", data: nil, zxid: zxid))
        for index in 0..<700 {
            zxid += 1
            nodes.append(NodeSpec(path: "/bulk/n\(index)", data: random.bytes(10_000), zxid: zxid))
        }
        let tree = SampleTrees.tree(nodes, sessions: [(0x77, 5000)], lastZxid: zxid)
        let path = try SnapshotFiles.write(tree: tree, directory: directory.path, startZxid: zxid, level: level)
        let loaded = try SnapshotFiles.load(path: path)
        expectSameTree(loaded.tree, tree)
        #expect(loaded.trailer.streamBytes > 6 * 1024 * 1024)

        let bytes = try readFile(path)
        for offset in [bytes.count / 2, bytes.count - 56 - 100] {
            var damaged = bytes
            damaged[offset] ^= 0x10
            let damagedPath = directory.file("flipped-\(offset)")
            try writeFile(damagedPath, damaged)
            #expect(throws: SnapshotError.self) { try SnapshotFiles.load(path: damagedPath) }
        }
        let cutPath = directory.file("cut")
        try writeFile(cutPath, Array(bytes[..<(bytes.count * 3 / 4)]))
        #expect(throws: SnapshotError.self) { try SnapshotFiles.load(path: cutPath) }
        // A reader dropped halfway stops its thread (the ring is full and the thread waits).
        let reader = try SnapshotReader(path: path)
        _ = try reader.readSessions()
        for _ in 0..<10 { _ = try reader.nextNode() }
    }

    @Test func sameTreeGivesSameBytes() throws {
        let one = try TemporaryDirectory()
        let two = try TemporaryDirectory()
        let tree = SampleTrees.large(seed: 3)
        let first = try SnapshotFiles.write(tree: tree, directory: one.path, startZxid: 10, level: 1)
        let second = try SnapshotFiles.write(tree: tree, directory: two.path, startZxid: 10, level: 1)
        #expect(try readFile(first) == readFile(second))
    }

    @Test func streamLayoutMatchesFormat() throws {
        // Uncompressed, the stream can be read by hand: sessions, root record, ..., terminator.
        let directory = try TemporaryDirectory()
        let tree = SampleTrees.tree([NodeSpec(path: "/", data: nil, acl: [], zxid: 0)], sessions: [(0x0102, 3000)], lastZxid: 4)
        let path = try SnapshotFiles.write(tree: tree, directory: directory.path, startZxid: 4, startTimeMs: 9, level: 0)
        let bytes = try readFile(path)
        let expectedHeader = "8950444b530d0a1a"
            + "00000001" + "00000000" + "00000000" + "00000000" + "0000000000000004" + "0000000000000009"
        #expect(Hex.encode(bytes[0..<40]) == expectedHeader)
        let stream = "00000001" + "0000000000000102" + "00000bb8"          // one session
            + "00000001" + "2f" + "ffffffff" + "00000000"                      // "/", null data, no ACL
            + "0000000000000000" + "0000000000000001" + "0000018bcfe56800"       // czxid, mzxid, ctime
            + "0000018bcfe569f4" + "00000000" + "00000000" + "ffffffff"        // mtime, version, cversion, aversion
            + "0000000000000000" + "0000000000000002"                          // ephemeralOwner, pzxid
            + "ffffffff"                                                       // terminator
        #expect(Hex.encode(bytes[40..<(bytes.count - 56)]) == stream)
        let trailer = Array(bytes.suffix(56))
        #expect(Array(trailer[0..<8]) == Array("PDKSEND".utf8) + [0])
        #expect(bigEndian(trailer, at: 8, as: UInt64.self) == 1)
        #expect(bigEndian(trailer, at: 16, as: UInt64.self) == 1)
        #expect(bigEndian(trailer, at: 24, as: UInt64.self) == UInt64(stream.count / 2))
        #expect(bigEndian(trailer, at: 32, as: Int64.self) == 4)
        #expect(bigEndian(trailer, at: 40, as: UInt64.self) == tree.digest)
        #expect(bigEndian(trailer, at: 48, as: UInt32.self) == referenceCRC32C(Hex.decode(stream), seed: 0))
        #expect(bigEndian(trailer, at: 52, as: UInt32.self) == referenceCRC32C(bytes.dropLast(4), seed: 0))
    }

    @Test(arguments: [Int32(0), 1])
    func everyTruncationFailsVerify(level: Int32) throws {
        let directory = try TemporaryDirectory()
        let path = try SnapshotFiles.write(tree: SampleTrees.small(), directory: directory.path, startZxid: 0x1_0000_000b, level: level)
        let bytes = try readFile(path)
        #expect(bytes.count > 1000 && bytes.count < 8192)
        let damagedPath = directory.file("damaged")
        try writeFile(damagedPath, bytes + [0])
        if case .success = SnapshotFiles.verify(path: damagedPath) { Issue.record("an appended byte passed verify") }
        // Shrink one file in place, longest first (rewriting a file per case is slow on ext4).
        let file = try PatchableFile(path: damagedPath)
        for length in (0..<bytes.count).reversed() {
            try file.truncate(to: length)
            if case .success = SnapshotFiles.verify(path: damagedPath) { Issue.record("truncated to \(length) bytes passed verify") }
        }
        #expect(throws: Never.self) { try SnapshotFiles.verify(path: path).get() }
    }

    @Test(arguments: [Int32(0), 1])
    func everyBitFlipFailsVerify(level: Int32) throws {
        let directory = try TemporaryDirectory()
        let name = SnapshotFiles.name(zxid: 0x1_0000_000b)
        let original = try SnapshotFiles.write(tree: SampleTrees.small(), directory: directory.path, startZxid: 0x1_0000_000b, level: level)
        let bytes = try readFile(original)
        // Checked under another name, so the file-name check is not what catches a flip; patched
        // in place, because rewriting a file per case is slow on ext4.
        let copyPath = directory.file("copy")
        try writeFile(copyPath, bytes)
        let file = try PatchableFile(path: copyPath)
        for offset in bytes.indices {
            // zlib: every bit (deflate has bits inflate ignores; only the file CRC sees them).
            // Uncompressed: the stream CRC sees any single flip, so one bit per byte, rotating.
            for bit in level == 0 ? [offset % 8] : Array(0..<8) {
                try file.write(bytes[offset] ^ (1 << bit), at: offset)
                if case .success = SnapshotFiles.verify(path: copyPath) {
                    Issue.record("flip at byte \(offset) bit \(bit) of \(bytes.count) passed verify")
                }
            }
            try file.write(bytes[offset], at: offset)
        }
        #expect(throws: Never.self) { try SnapshotFiles.verify(path: copyPath).get() }
        #expect(directory.names.contains(name))
    }

    @Test func headerErrorsAreNamed() throws {
        let directory = try TemporaryDirectory()
        let path = try SnapshotFiles.write(tree: SampleTrees.small(), directory: directory.path, startZxid: 0x1_0000_000b, level: 1)
        let bytes = try readFile(path)
        func kind(_ damaged: [UInt8], name: String = "x") throws -> SnapshotError.Kind? {
            let target = directory.file(name)
            try writeFile(target, damaged)
            if case .failure(let error) = SnapshotFiles.verify(path: target) { return error.kind }
            return nil
        }
        var badMagic = bytes
        badMagic[1] = UInt8(ascii: "Q")
        #expect(try kind(badMagic) == .badMagic)
        #expect(try kind(Array("hello".utf8)) == .truncated)
        #expect(try kind([0x89, 0x50, 0x44, 0x4B, 0x53, 0x0D, 0x0A, 0x1A, 0, 0]) == .truncated)
        var version2 = bytes
        version2[11] = 2
        #expect(try kind(version2) == .unknownVersion(2))
        var compression = bytes
        compression[15] = 7
        #expect(try kind(compression) == .corruptHeader("unknown compression 7"))
        var reserved = bytes
        reserved[23] = 1
        #expect(try kind(reserved) == .corruptHeader("reserved field is 1, not 0"))
        // A snapshot renamed to another zxid is rejected: recovery trusts the name for ordering.
        guard case .corruptHeader = try kind(bytes, name: SnapshotFiles.name(zxid: 0x1_0000_000c)) else {
            Issue.record("a file name with another zxid must be rejected")
            return
        }
        var endZxid = bytes
        endZxid[bytes.count - 24 + 7] ^= 1
        guard case .trailerMismatch = try kind(endZxid) else {
            Issue.record("the end zxid is protected by the file CRC")
            return
        }
        let message = SnapshotError(path: "/d/snapshot.1", kind: .truncated).description
        #expect(message.contains("/d/snapshot.1"))
        #expect(!message.contains("\n"))
    }

    @Test func loadRejectsNodesThatDoNotFormATree() throws {
        let directory = try TemporaryDirectory()
        func snapshot(_ paths: [String], zxid: Int64) throws -> String {
            let writer = try SnapshotWriter(directory: directory.path, startZxid: zxid, startTimeMs: 0, level: 1)
            try writer.writeSessions([])
            for path in paths { try writer.writeNode(path: path, node: DataNode(data: [1])) }
            return try writer.finish(endZxid: zxid).path
        }
        for (index, paths) in [["/", "/a/b"], ["/a"], ["/", "/a", "/a"], ["/", "/"], ["/", "a"], ["/", "/a/"]].enumerated() {
            let path = try snapshot(paths, zxid: Int64(index + 1))
            // The file itself is valid; only building a tree from it fails.
            #expect(throws: Never.self) { try SnapshotFiles.verify(path: path).get() }
            #expect {
                try SnapshotFiles.load(path: path)
            } throws: { error in
                guard let error = error as? SnapshotError, case .corruptStream = error.kind else { return false }
                return true
            }
        }
    }

    @Test func readerStepsAndTrailerAppearsOnlyAtTheEnd() throws {
        let directory = try TemporaryDirectory()
        let tree = SampleTrees.small()
        let path = try SnapshotFiles.write(tree: tree, directory: directory.path, startZxid: 0x1_0000_000b, level: 1)
        let reader = try SnapshotReader(path: path)
        #expect(reader.header.startZxid == 0x1_0000_000b)
        #expect(reader.trailer == nil)
        let sessions = try reader.readSessions()
        #expect(sessions.map(\.id) == [0x55, 0x66])
        #expect(sessions.map(\.timeoutMs) == [30_000, 10_000])
        var paths: [String] = []
        while let node = try reader.nextNode() {
            #expect(reader.trailer == nil)
            paths.append(node.path)
        }
        #expect(paths.first == "/")
        #expect(paths == paths.sorted())  // pre-order with sorted children is lexical for these names
        #expect(paths.count == tree.nodeCount)
        #expect(reader.trailer?.nodeCount == UInt64(tree.nodeCount))
        #expect(try reader.nextNode().map(\.path) == nil)
    }

    @Test func writerCleansUpItsTempFile() throws {
        let directory = try TemporaryDirectory()
        let writer = try SnapshotWriter(directory: directory.path, startZxid: 0x42, startTimeMs: 0)
        #expect(directory.names == [String(writer.temporaryPath.split(separator: "/").last!)])
        #expect(writer.temporaryPath.hasPrefix(directory.path + "/.snapshot.0000000000000042.") && writer.temporaryPath.hasSuffix(".tmp"))
        // Two writers of the same zxid (a SNAP stream cut off and sent again) have their own files.
        let second = try SnapshotWriter(directory: directory.path, startZxid: 0x42, startTimeMs: 0)
        #expect(second.temporaryPath != writer.temporaryPath)
        second.abandon()
        try writer.writeSessions([(id: 1, timeoutMs: 100)])
        try writer.writeNode(path: "/", node: DataNode())
        writer.abandon()
        writer.abandon()
        #expect(directory.names.isEmpty)

        do {
            let unfinished = try SnapshotWriter(directory: directory.path, startZxid: 0x43, startTimeMs: 0)
            try unfinished.writeSessions([])
            withExtendedLifetime(unfinished) { #expect(directory.names == [String(unfinished.temporaryPath.split(separator: "/").last!)]) }
        }
        #expect(directory.names.isEmpty)

        #expect(throws: SnapshotError.self) {
            try SnapshotWriter(directory: directory.file("missing"), startZxid: 1, startTimeMs: 0)
        }
    }

    @Test func fuzzyWindowIsRecorded() throws {
        let directory = try TemporaryDirectory()
        let writer = try SnapshotWriter(directory: directory.path, startZxid: 0x1_0000_0010, startTimeMs: 5, level: 6)
        try writer.writeSessions([])
        try writer.writeNode(path: "/", node: DataNode())
        let result = try writer.finish(endZxid: 0x1_0000_0020)
        #expect(result.trailer.endZxid == 0x1_0000_0020)
        #expect(directory.names == [SnapshotFiles.name(zxid: 0x1_0000_0010)])
        let loaded = try SnapshotFiles.load(path: result.path)
        #expect(loaded.trailer == result.trailer)
        #expect(loaded.header.level == 6)
        #expect(loaded.tree.lastProcessedZxid == 0x1_0000_0010)  // replay starts after S
    }
}

@Suite struct SnapshotFilesTests {
    @Test func names() {
        #expect(SnapshotFiles.name(zxid: 0x1_0000_00ab) == "snapshot.00000001000000ab")
        #expect(SnapshotFiles.zxid(fromName: "snapshot.00000001000000ab") == 0x1_0000_00ab)
        #expect(SnapshotFiles.zxid(fromName: SnapshotFiles.name(zxid: -1)) == -1)
        #expect(SnapshotFiles.zxid(fromName: SnapshotFiles.name(zxid: 0)) == 0)
        for name in [
            "snapshot.00000001000000AB", "snapshot.1000000ab", "snapshot.00000001000000ab.tmp",
            ".snapshot.00000001000000ab.tmp", "snapshot.0000000x000000ab", "snapshot.", "snapshot.+0000001000000ab",
            "log.00000001000000ab", "snapshot.000000001000000ab",
        ] {
            #expect(SnapshotFiles.zxid(fromName: name) == nil, "\(name)")
        }
    }

    @Test func listIsNewestFirstAndIgnoresOtherFiles() throws {
        let directory = try TemporaryDirectory()
        for name in [
            "snapshot.0000000000000005", "snapshot.00000001000000a0", "snapshot.0000000100000009",
            ".snapshot.00000002000000a0.tmp", "snapshot.00000002000000A0", "snapshot.0000000000000005.bak", "notes",
        ] {
            try writeFile(directory.file(name), [])
        }
        let listed = SnapshotFiles.list(directory: directory.path)
        #expect(listed.map(\.zxid) == [0x1_0000_00a0, 0x1_0000_0009, 5])
        #expect(listed.map(\.path) == [
            directory.file("snapshot.00000001000000a0"), directory.file("snapshot.0000000100000009"),
            directory.file("snapshot.0000000000000005"),
        ])
        #expect(SnapshotFiles.list(directory: directory.file("absent")).isEmpty)
    }
}
