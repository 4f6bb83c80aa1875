import Foundation
import Testing
import ZKBase
import ZKFormat
import ZKTree

/// Not a test: measures snapshot write/load speed and size per zlib level on ~100k realistic
/// znodes, and prints them (nothing is asserted about time). Run it in release:
///
///     PADDOCK_SNAPSHOT_BENCHMARK=1 swift test -c release --filter SnapshotBenchmark
///
/// Figures behind `SnapshotWriter.defaultLevel` are in its doc comment.
@Suite struct SnapshotBenchmark {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["PADDOCK_SNAPSHOT_BENCHMARK"] == "1"))
    func levels() throws {
        let tree = Self.realisticTree(services: 100, membersPerService: 1000)
        let directory = try TemporaryDirectory()
        print("snapshot benchmark: \(tree.nodeCount) nodes, \(tree.approximateDataSize / 1_000_000) MB of paths+data")
        for level in [Int32(0), 1, 6, 9] {
            var writes: [Double] = []
            var loads: [Double] = []
            var verifies: [Double] = []
            var streamBytes: UInt64 = 0
            var fileBytes = 0
            for round in 0..<3 {
                let zxid = Int64(level) * 10 + Int64(round) + 1
                let clock = ContinuousClock()
                var path = ""
                writes.append(try Self.seconds(clock.measure {
                    path = try SnapshotFiles.write(tree: tree, directory: directory.path, startZxid: zxid, level: level)
                }))
                loads.append(try Self.seconds(clock.measure { _ = try SnapshotFiles.load(path: path) }))
                verifies.append(Self.seconds(clock.measure { _ = SnapshotFiles.verify(path: path) }))
                streamBytes = try SnapshotFiles.verify(path: path).get().streamBytes
                fileBytes = try readFile(path).count
                try FileManager.default.removeItem(atPath: path)
            }
            let megabytes = Double(streamBytes) / 1_000_000
            print(String(
                format: "level %d: stream %.1f MB, file %.1f MB, ratio %.2f; write %.0f MB/s, load %.0f MB/s, verify %.0f MB/s (median of 3)",
                level, megabytes, Double(fileBytes) / 1_000_000, Double(streamBytes) / Double(fileBytes),
                megabytes / Self.median(writes), megabytes / Self.median(loads), megabytes / Self.median(verifies)))
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    /// Paths `/app/service-N/member-%010d`, JSON-like values of 100-1000 bytes from a small
    /// vocabulary with random IPs, ports, session ids and timestamps (as STORAGE-NOTES.md (f)).
    static func realisticTree(services: Int, membersPerService: Int) -> DataTree {
        var random = TestRandom(state: 2026)
        var tree = DataTree.emptyForLoading()
        let vocabulary = ["region", "zone", "status", "healthy", "draining", "weight", "version", "build", "owner",
                          "endpoint", "protocol", "grpc", "http", "leader", "replica", "shard", "capacity", "tags"]
        var zxid: Int64 = 0x1_0000_0000
        func load(_ path: String, _ data: [UInt8], owner: Int64 = 0) {
            zxid += 1
            tree.loadNode(path: path, data: data, acl: ACL.openUnsafe, stat: NodeSpec(path: path, data: data, owner: owner, zxid: zxid).stat)
        }
        for base in SampleTrees.baseNodes() { load(base.path, base.data ?? []) }
        load("/app", [])
        for service in 0..<services {
            let servicePath = "/app/service-\(service)"
            load(servicePath, Array("{\"service\":\"service-\(service)\",\"members\":\(membersPerService)}".utf8))
            for member in 0..<membersPerService {
                let target = Int.random(in: 100...1000, using: &random)
                var json = "{\"host\":\"10.\(random.next() % 256).\(random.next() % 256).\(random.next() % 256)\","
                json += "\"port\":\(20000 + random.next() % 40000),\"session\":\"0x\(String(random.next(), radix: 16))\","
                json += "\"since\":\(1_700_000_000_000 + Int(random.next() % 100_000_000))"
                while json.utf8.count < target - 30 {
                    let key = vocabulary[Int(random.next() % UInt64(vocabulary.count))]
                    let value = vocabulary[Int(random.next() % UInt64(vocabulary.count))]
                    json += ",\"\(key)\":\"\(value)-\(random.next() % 100)\""
                }
                json += "}"
                let owner: Int64 = member % 3 == 0 ? 0x0100_0000_0000_0000 + Int64(member) : 0
                load(servicePath + "/member-" + String(format: "%010d", member), Array(json.utf8), owner: owner)
            }
        }
        for member in stride(from: 0, to: membersPerService, by: 3) { tree.loadSession(id: 0x0100_0000_0000_0000 + Int64(member), timeoutMs: 30_000) }
        tree.finishLoading(lastProcessedZxid: zxid)
        return tree
    }
}
