import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import ZKBase
import ZKTree
import ZKWire

import ZKFormat

/// A fresh temporary directory, removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("paddock-format-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    var names: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
}

/// SplitMix64: deterministic test data, independent of the process's hashing seed.
struct TestRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) } }
}

enum Hex {
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func decode(_ text: some StringProtocol) -> [UInt8] {
        let digits = text.filter { $0.isHexDigit }.map { UInt8(String($0), radix: 16)! }
        precondition(digits.count % 2 == 0, "odd number of hex digits")
        return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }
}

/// A node to load, with its stat filled in from a few numbers.
struct NodeSpec {
    var path: String
    var data: [UInt8]?
    var acl: [ACL] = ACL.openUnsafe
    var owner: Int64 = 0
    var zxid: Int64 = 1

    var stat: StatPersisted {
        var stat = StatPersisted()
        stat.czxid = zxid
        stat.mzxid = zxid &+ 1
        stat.ctime = 1_700_000_000_000 &+ zxid
        stat.mtime = 1_700_000_000_500 &+ zxid
        stat.version = Int32(truncatingIfNeeded: zxid % 7)
        stat.cversion = Int32(truncatingIfNeeded: zxid % 5)
        stat.aversion = Int32(truncatingIfNeeded: zxid % 3) - 1
        stat.ephemeralOwner = owner
        stat.pzxid = zxid &+ 2
        return stat
    }
}

enum SampleTrees {
    static let digestACL = [ACL(perms: .all, id: Id(scheme: "digest", id: "bob:G4hYDsOgQHPiy2ze+nCB45qSJng="))]
    static let mixedACL = digestACL + [ACL(perms: [.read, .write], id: Id(scheme: "ip", id: "10.0.0.0/8"))]

    /// Builds a tree through the loading API so every stat field and owner kind can be chosen.
    static func tree(_ nodes: [NodeSpec], sessions: [(Int64, Int32)], lastZxid: Int64) -> DataTree {
        var tree = DataTree.emptyForLoading()
        for (id, timeout) in sessions { tree.loadSession(id: id, timeoutMs: timeout) }
        for node in nodes { tree.loadNode(path: node.path, data: node.data, acl: node.acl, stat: node.stat) }
        tree.finishLoading(lastProcessedZxid: lastZxid)
        return tree
    }

    static func baseNodes() -> [NodeSpec] {
        [
            NodeSpec(path: "/", data: [], zxid: 0),
            NodeSpec(path: "/zookeeper", data: [], zxid: 0),
            NodeSpec(path: "/zookeeper/config", data: Array("server.1=a:2888:3888".utf8), acl: ACL.readUnsafe, zxid: 0),
            NodeSpec(path: "/zookeeper/quota", data: [], zxid: 0),
        ]
    }

    /// A few hundred nodes: null, empty, small and one > 256 KiB data; ephemerals of live
    /// sessions, containers, TTL nodes, several ACLs, deep paths, non-ASCII names.
    static func large(seed: UInt64 = 42) -> DataTree {
        var random = TestRandom(state: seed)
        let sessions: [(Int64, Int32)] = (0..<12).map { (index: Int) -> (Int64, Int32) in
            let id: Int64 = 0x0100_0000_0000_0000 + Int64(index) * 7919
            return (id, Int32(4000 + index * 1000))
        }
        var nodes = baseNodes()
        var zxid: Int64 = 0x1_0000_0000
        func next() -> Int64 {
            zxid += 1
            return zxid
        }
        nodes.append(NodeSpec(path: "/app", data: nil, zxid: next()))
        for service in 0..<6 {
            let servicePath = "/app/service-\(service)"
            nodes.append(NodeSpec(path: servicePath, data: Array("{\"service\":\(service)}".utf8), acl: mixedACL, zxid: next()))
            for member in 0..<50 {
                let kind = member % 5
                let data: [UInt8]? = kind == 0 ? nil : kind == 1 ? [] : random.bytes(Int.random(in: 1...900, using: &random))
                let owner: Int64 = member % 4 == 0 ? sessions[member % sessions.count].0 : 0
                let acl = member % 3 == 0 ? digestACL : member % 3 == 1 ? ACL.openUnsafe : mixedACL
                nodes.append(NodeSpec(path: servicePath + "/member-" + String(format: "%010d", member), data: data, acl: acl, owner: owner, zxid: next()))
            }
        }
        nodes.append(NodeSpec(path: "/big", data: random.bytes(600 * 1024 + 17), zxid: next()))
        nodes.append(NodeSpec(path: "/containers", data: [], owner: EphemeralOwner.container, zxid: next()))
        nodes.append(NodeSpec(path: "/containers/ttl", data: [1], owner: EphemeralOwner.ttl(60_000), zxid: next()))
        var deep = ""
        for level in 0..<30 {
            deep += "/d\(level)"
            nodes.append(NodeSpec(path: deep, data: [UInt8(level)], zxid: next()))
        }
        nodes.append(NodeSpec(path: "/unicode", data: Array("é".utf8), zxid: next()))
        nodes.append(NodeSpec(path: "/unicode/ünï-çødé", data: Array("名前".utf8), zxid: next()))
        nodes.append(NodeSpec(path: "/unicode/astral-😀", data: nil, acl: [ACL(perms: .read, id: Id(scheme: "x", id: "🦀"))], zxid: next()))
        nodes.append(NodeSpec(path: "/no-acl", data: [9], acl: [], zxid: next()))
        return tree(nodes, sessions: sessions, lastZxid: zxid)
    }

    /// A few KiB: for corruption at every offset.
    static func small() -> DataTree {
        var nodes = baseNodes()
        nodes.append(NodeSpec(path: "/a", data: Array("hello".utf8), zxid: 0x1_0000_0001))
        nodes.append(NodeSpec(path: "/a/b", data: nil, acl: mixedACL, zxid: 0x1_0000_0002))
        nodes.append(NodeSpec(path: "/a/c", data: [], owner: 0x55, zxid: 0x1_0000_0003))
        var random = TestRandom(state: 7)
        for index in 0..<8 {
            nodes.append(NodeSpec(path: "/a/b/n\(index)", data: random.bytes(200), zxid: 0x1_0000_0004 + Int64(index)))
        }
        return tree(nodes, sessions: [(0x55, 30_000), (0x66, 10_000)], lastZxid: 0x1_0000_000b)
    }
}

/// Node-by-node equality of two trees, with a message naming the first difference.
func expectSameTree(_ loaded: DataTree, _ original: DataTree, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(loaded.nodeCount == original.nodeCount, sourceLocation: sourceLocation)
    for path in original.nodes.keys.sorted() {
        #expect(loaded.node(path) == original.node(path), "node \(path)", sourceLocation: sourceLocation)
    }
    #expect(loaded.sessions == original.sessions, sourceLocation: sourceLocation)
    #expect(loaded.digest == original.digest, sourceLocation: sourceLocation)
    #expect(loaded.digest == loaded.computeDigest(), sourceLocation: sourceLocation)
    #expect(loaded.staleCachedDigests().isEmpty, "nodes with a stale cached digest", sourceLocation: sourceLocation)
    #expect(loaded.containers == original.containers, sourceLocation: sourceLocation)
    #expect(loaded.ttlNodes == original.ttlNodes, sourceLocation: sourceLocation)
    #expect(loaded.ephemeralCount == original.ephemeralCount, sourceLocation: sourceLocation)
    for (owner, paths) in original.ephemerals {
        let loadedPaths = loaded.ephemerals[owner]
        #expect(loadedPaths?.count == paths.count, "ephemerals of \(owner)", sourceLocation: sourceLocation)
        for path in original.nodes.keys where paths.contains(path) {
            #expect(loadedPaths?.contains(path) == true, "ephemeral \(path)", sourceLocation: sourceLocation)
        }
    }
}

func readFile(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// One file changed in place: a byte overwritten or the end cut off, without rewriting it.
final class PatchableFile {
    private let fd: Int32

    init(path: String) throws {
        fd = open(path, O_RDWR)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
    }

    deinit { close(fd) }

    func write(_ byte: UInt8, at offset: Int) throws {
        var value = byte
        guard pwrite(fd, &value, 1, off_t(offset)) == 1 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
    }

    func truncate(to length: Int) throws {
        guard ftruncate(fd, off_t(length)) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
    }
}
