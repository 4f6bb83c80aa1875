import Testing
import ZKBase
import ZKTree
import ZKWire

/// The compact node table behind DataTree (records, arena, index by parent and name) against a
/// plain dictionary of paths, over thousands of random creates, deletes, setData and setACL, with
/// the arena compacting as it goes.
@Suite struct NodeTableTests {
    /// What the reference model keeps per path.
    private struct ModelNode: Equatable {
        var data: [UInt8]?
        var acl: [ACL]
        var version: Int32 = 0
        var aversion: Int32 = 0
        var ephemeralOwner: Int64 = 0
    }

    private static let acls: [[ACL]] = [
        ACL.openUnsafe, ACL.readUnsafe,
        [ACL(perms: .all, id: Id(scheme: "digest", id: "u1:h1"))],
        [ACL(perms: .read, id: Id(scheme: "ip", id: "10.0.0.1")), ACL(perms: .all, id: Id(scheme: "world", id: "anyone"))],
    ]

    private static func randomData(_ random: inout SplitMix64) -> [UInt8]? {
        switch random.next() % 8 {
        case 0: return nil
        case 1: return []
        case 2: return (0..<Int(random.next() % 2000)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        default: return (0..<Int(random.next() % 150)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        }
    }

    private static func check(_ tree: DataTree, against model: [String: ModelNode], seed: UInt64, step: Int) {
        #expect(tree.nodeCount == model.count, "seed \(seed) step \(step): \(tree.nodeCount) nodes, model \(model.count)")
        var children: [String: [String]] = [:]
        for path in model.keys where path != "/" {
            children[PathValidation.parent(of: path), default: []].append(String(PathValidation.lastComponent(of: path)))
        }
        for (path, want) in model {
            guard let node = tree.node(path) else {
                Issue.record("seed \(seed) step \(step): \(path) missing")
                continue
            }
            let got = ModelNode(
                data: node.data, acl: node.acl, version: node.stat.version, aversion: node.stat.aversion,
                ephemeralOwner: node.stat.ephemeralOwner)
            #expect(got == want, "seed \(seed) step \(step): \(path)")
            let status = NodeStatus(acl: node.acl, stat: node.stat, dataCount: node.data?.count ?? 0, childCount: node.childCount)
            #expect(tree.status(path) == status, "seed \(seed) step \(step): \(path) status without data")
            let inPlace = tree.withData(path) { status, bytes in (status, bytes.map { Array($0) }) }
            #expect(inPlace?.0 == status && inPlace?.1 == node.data, "seed \(seed) step \(step): \(path) data in place")
            let names = (children[path] ?? []).sorted()
            #expect(node.childCount == names.count, "seed \(seed) step \(step): \(path) child count")
            #expect(tree.childNames(of: path)?.sorted() == names, "seed \(seed) step \(step): \(path) children")
        }
        #expect(tree.digest == tree.computeDigest(), "seed \(seed) step \(step): running digest")
    }

    @Test(arguments: [UInt64(1), 2, 3, 0x5eed])
    func randomOpsMatchADictionaryOfPaths(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var tree = DataTree()
        tree.arenaCompactionFloor = 512
        var model: [String: ModelNode] = [:]
        for (path, node) in tree.nodes {
            model[path] = ModelNode(data: node.data, acl: node.acl, aversion: node.stat.aversion)
        }
        let names = ["a", "b", "c", "d", "é", "long-name-\(String(repeating: "x", count: 200))", "n1", "n2", ""]
        var zxid: Int64 = 0
        let steps = 6000
        for step in 0..<steps {
            zxid += 1
            let paths = model.keys.filter { !$0.hasPrefix("/zookeeper") }.sorted()
            let target = paths[Int(random.next() % UInt64(paths.count))]
            switch random.next() % 10 {
            case 0..<4:
                // Ephemerals get no children (the server's prep refuses them).
                guard model[target]?.ephemeralOwner == 0 else { continue }
                // Empty names make paths such as "/a/" that validation would refuse; the tree
                // still keys them apart, as the dictionary did.
                let name = names[Int(random.next() % UInt64(names.count))] + (random.next() % 4 == 0 ? "\(step % 7)" : "")
                let path = PathValidation.join(target, name)
                let data = Self.randomData(&random)
                let acl = Self.acls[Int(random.next() % UInt64(Self.acls.count))]
                let ephemeral = random.next() % 5 == 0
                let body = TxnBody.create(CreateTxn(path: path, data: data ?? [], acl: acl, ephemeral: ephemeral, parentCVersion: -1, ttl: 0))
                let result = tree.apply(txn(zxid, body, session: 7))
                if model[path] != nil {
                    #expect(result.error == .nodeExists, "seed \(seed) step \(step): create \(path)")
                } else {
                    #expect(result.error == .ok, "seed \(seed) step \(step): create \(path)")
                    model[path] = ModelNode(data: data ?? [], acl: acl, ephemeralOwner: ephemeral ? 7 : 0)
                }
            case 4..<6:
                let leaf = !model.keys.contains { $0 != target && PathValidation.parent(of: $0) == target }
                guard leaf, target != "/" else {
                    _ = tree.apply(txn(zxid, .delete(path: target + "/missing")))
                    continue
                }
                #expect(tree.apply(txn(zxid, .delete(path: target))).error == .ok, "seed \(seed) step \(step): delete \(target)")
                model[target] = nil
            case 6..<9:
                let data = Self.randomData(&random)
                let version = (model[target]?.version ?? 0) + 1
                #expect(tree.apply(txn(zxid, .setData(path: target, data: data, version: version))).error == .ok)
                model[target]?.data = data
                model[target]?.version = version
            default:
                let acl = Self.acls[Int(random.next() % UInt64(Self.acls.count))]
                let version = (model[target]?.aversion ?? 0) + 1
                #expect(tree.apply(txn(zxid, .setACL(path: target, acl: acl, version: version))).error == .ok)
                model[target]?.acl = acl
                model[target]?.aversion = version
            }
            if step % 500 == 0 || step == steps - 1 {
                tree.checkInvariants()
                Self.check(tree, against: model, seed: seed, step: step)
            }
        }
        // Closing the session removes its ephemerals, as the model does.
        zxid += 1
        _ = tree.apply(txn(zxid, .closeSession(pathsToDelete: []), session: 7))
        for (path, node) in model where node.ephemeralOwner == 7 { model[path] = nil }
        tree.checkInvariants()
        Self.check(tree, against: model, seed: seed, step: steps)
        #expect(tree.arenaStatistics.compactions > 0, "seed \(seed): the arena never compacted")
        #expect(tree.internedACLCount <= Self.acls.count)
        // A copy is a value: changing it leaves the original as it was.
        var copy = tree
        zxid += 1
        _ = copy.apply(txn(zxid, .create(createTxn("/copy-only", parentCVersion: -1))))
        #expect(tree.node("/copy-only") == nil && copy.node("/copy-only") != nil)
        copy.checkInvariants()
        tree.checkInvariants()
    }

    @Test func compactionKeepsEveryNodeAndDropsTheGarbage() {
        var tree = DataTree()
        tree.arenaCompactionFloor = 1 << 30
        var zxid: Int64 = 0
        for index in 0..<200 {
            zxid += 1
            _ = tree.apply(txn(zxid, .create(createTxn("/n\(index)", String(repeating: "v", count: 50), parentCVersion: -1))))
        }
        let before = tree.nodes
        for round in 1...3 {
            for index in 0..<200 {
                zxid += 1
                _ = tree.apply(txn(zxid, .setData(path: "/n\(index)", data: Array(repeating: UInt8(round), count: 50 + round), version: Int32(round))))
            }
        }
        #expect(tree.arenaStatistics.garbageBytes > tree.arenaStatistics.liveBytes, "length changes leave the old entries behind")
        let live = tree.arenaStatistics.liveBytes
        tree.arenaCompactionFloor = 0
        // The next change that makes garbage compacts.
        zxid += 1
        _ = tree.apply(txn(zxid, .setData(path: "/n0", data: [1, 2], version: 4)))
        #expect(tree.arenaStatistics.compactions == 1)
        #expect(tree.arenaStatistics.garbageBytes == 0)
        #expect(tree.arenaStatistics.liveBytes < live)
        tree.checkInvariants()
        #expect(tree.nodeCount == before.count)
        #expect(tree.node("/n199")?.data == Array(repeating: 3, count: 53))
        #expect(tree.node("/n0")?.data == [1, 2])
    }

    /// The index hashes names 8 bytes at a time plus a tail: names of every length up to 40,
    /// under parents with ids that differ in one bit, each found as itself and nothing else.
    @Test func namesOfEveryLengthAreFoundUnderTheirOwnParent() {
        var tree = DataTree()
        var zxid: Int64 = 0
        for parent in ["/p", "/q"] {
            zxid += 1
            _ = tree.apply(txn(zxid, .create(createTxn(parent, parentCVersion: -1))))
            for length in 1...40 {
                zxid += 1
                let name = String((0..<length).map { Character(UnicodeScalar(UInt8(97 + $0 % 26))) })
                _ = tree.apply(txn(zxid, .create(createTxn("\(parent)/\(name)", "\(parent)\(length)", parentCVersion: -1))))
            }
        }
        for parent in ["/p", "/q"] {
            for length in 1...40 {
                let name = String((0..<length).map { Character(UnicodeScalar(UInt8(97 + $0 % 26))) })
                #expect(tree.node("\(parent)/\(name)")?.data == Array("\(parent)\(length)".utf8))
                #expect(tree.node("\(parent)/\(name)x") == nil || length < 40)
            }
        }
        #expect(tree.node("/r/a") == nil && tree.node("/p/") == nil)
        tree.checkInvariants()
    }

    @Test func aNodeRecordAndAChangesEntryAre44BytesEach() {
        #expect(DataTree.nodeRecordBytes == 44)
        #expect(DataTree.nodeChangesBytes == 44)
    }

    @Test func sameLengthSetDataRewritesInPlace() {
        var tree = DataTree()
        _ = tree.apply(txn(1, .create(createTxn("/a", "abc", parentCVersion: -1))))
        let arena = tree.arenaStatistics
        _ = tree.apply(txn(2, .setData(path: "/a", data: Array("xyz".utf8), version: 1)))
        #expect(tree.arenaStatistics == arena)
        #expect(tree.node("/a")?.data == Array("xyz".utf8))
        _ = tree.apply(txn(3, .setData(path: "/a", data: nil, version: 2)))
        #expect(tree.node("/a")?.data == nil, "null data stays distinct from empty data")
        _ = tree.apply(txn(4, .setData(path: "/a", data: [], version: 3)))
        #expect(tree.node("/a")?.data == [])
        tree.checkInvariants()
    }

    @Test func wideParentsAndPathsWithoutStoredKeys() {
        var tree = DataTree()
        var zxid: Int64 = 0
        zxid += 1
        _ = tree.apply(txn(zxid, .create(createTxn("/wide", parentCVersion: -1))))
        for index in 0..<5000 {
            zxid += 1
            _ = tree.apply(txn(zxid, .create(createTxn("/wide/c\(index)", "\(index)", parentCVersion: -1))))
        }
        #expect(tree.node("/wide")?.childCount == 5000)
        #expect(tree.childNames(of: "/wide")?.count == 5000)
        #expect(tree.node("/wide/c4321")?.data == Array("4321".utf8))
        #expect(tree.node("/wide/c5000") == nil && tree.node("/wide/") == nil && tree.node("wide") == nil)
        #expect(tree.node("")?.childCount == 2, "\"\" reads as the root")
        for index in stride(from: 0, to: 5000, by: 2) {
            zxid += 1
            _ = tree.apply(txn(zxid, .delete(path: "/wide/c\(index)")))
        }
        #expect(tree.node("/wide")?.childCount == 2500)
        #expect(tree.node("/wide/c4320") == nil && tree.node("/wide/c4321") != nil)
        tree.checkInvariants()
        #expect(tree.descendantCount(of: "/") == 2504)
        #expect(tree.approximateDataSize == tree.nodes.reduce(0) { $0 + $1.key.utf8.count + ($1.value.data?.count ?? 0) })
    }
}
