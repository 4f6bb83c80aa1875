import Foundation
import Testing
import ZKBase
import ZKTree
import ZKWire
@testable import ZKTools

/// Fixtures captured from Apache ZooKeeper 3.8 (tests/migration/capture_zk_fixtures.py), read
/// from the source tree.
enum ZooKeeperFixture: String, CaseIterable, Sendable {
    case plain = "apache-3.8-plain"
    case gzip = "apache-3.8-gz"
    case snappy = "apache-3.8-snappy"

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/zookeeper").path

    var directory: String { Self.root + "/" + rawValue }
    var versionDirectory: String { directory + "/version-2" }

    /// expected.json: what a client read from Apache before it stopped.
    struct Expected: Decodable {
        struct Node: Decodable {
            var data: String?
            var acl: [[ACLField]]
            var stat: [Int64]
            var children: [String]
        }

        enum ACLField: Decodable, Equatable {
            case number(Int32)
            case text(String)

            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let number = try? container.decode(Int32.self) {
                    self = .number(number)
                } else {
                    self = .text(try container.decode(String.self))
                }
            }
        }

        var lastZxid: Int64
        var liveSession: Int64
        var nodes: [String: Node]
    }

    func expected() throws -> Expected {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/expected.json"))
        return try JSONDecoder().decode(Expected.self, from: data)
    }
}

/// A fresh directory under /tmp, removed afterwards whatever happens.
@discardableResult
func zooKeeperTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    var template = Array("/tmp/paddock-zk-XXXXXX".utf8CString)
    guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
        throw POSIXError(.EIO)
    }
    let path = String(cString: created)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// Copies a fixture's version-2 into `directory`/version-2.
func copyZooKeeperFixture(_ fixture: ZooKeeperFixture, to directory: String) throws {
    try FileManager.default.copyItem(atPath: fixture.versionDirectory, toPath: directory + "/version-2")
}

/// An ensemble member's ZooKeeper dataDir: a fixture's version-2 with both epoch files, and myid.
func zooKeeperMemberDirectory(_ path: String, _ fixture: ZooKeeperFixture, accepted: Int64, current: Int64, myid: Int) throws -> String {
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    try copyZooKeeperFixture(fixture, to: path)
    try String(accepted).write(toFile: path + "/version-2/acceptedEpoch", atomically: true, encoding: .utf8)
    try String(current).write(toFile: path + "/version-2/currentEpoch", atomically: true, encoding: .utf8)
    try "\(myid)\n".write(toFile: path + "/myid", atomically: true, encoding: .utf8)
    return path
}

/// Compares a tree with what the client read; returns the differences (empty when equal).
func zooKeeperDifferences(_ tree: DataTree, _ expected: ZooKeeperFixture.Expected) -> [String] {
    var problems: [String] = []
    if tree.nodeCount != expected.nodes.count {
        problems.append("tree has \(tree.nodeCount) nodes, the client read \(expected.nodes.count)")
    }
    for (path, want) in expected.nodes.sorted(by: { $0.key < $1.key }) {
        guard let node = tree.node(path) else {
            problems.append("\(path): missing")
            continue
        }
        let wantData = want.data.flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) }
        // The wire sends a null buffer for null data; an empty one is "" in the JSON.
        if node.data != wantData && !(node.data == nil && want.data == nil) {
            problems.append("\(path): data \(String(describing: node.data)) != \(String(describing: wantData))")
        }
        let acl = node.acl.map { [ZooKeeperFixture.Expected.ACLField.number($0.perms.rawValue), .text($0.id.scheme), .text($0.id.id)] }
        if acl.sorted(by: { "\($0)" < "\($1)" }) != want.acl.sorted(by: { "\($0)" < "\($1)" }) {
            problems.append("\(path): acl \(acl) != \(want.acl)")
        }
        let s = node.fullStat
        let stat: [Int64] = [s.czxid, s.mzxid, s.ctime, s.mtime, Int64(s.version), Int64(s.cversion), Int64(s.aversion),
                             s.ephemeralOwner, Int64(s.dataLength), Int64(s.numChildren), s.pzxid]
        if stat != want.stat { problems.append("\(path): stat \(stat) != \(want.stat)") }
        if (tree.childNames(of: path) ?? []).sorted() != want.children.sorted() { problems.append("\(path): children differ") }
    }
    return problems
}

/// Byte surgery on a file.
func zooKeeperEditFile(_ path: String, _ edit: (inout [UInt8]) -> Void) throws {
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    edit(&bytes)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Offsets of the entries of a ZooKeeper log (from the reader itself).
func zooKeeperLogEntries(_ path: String) throws -> [ZooKeeperLogEntry] {
    let reader = try ZooKeeperTxnLogReader(path: path)
    var entries: [ZooKeeperLogEntry] = []
    while let entry = try reader.next() { entries.append(entry) }
    return entries
}

/// A small tree with every kind of node, built through txns as the server would.
func zooKeeperSampleTree() -> DataTree {
    var tree = DataTree()
    let digestACL = [ACL(perms: .all, id: Id(scheme: "digest", id: "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="))]
    let mixedACL = digestACL + [ACL(perms: .read, id: .anyone), ACL(perms: Perms(rawValue: 3), id: Id(scheme: "ip", id: "10.0.0.0/8"))]
    var zxid: Int64 = 0
    func next(_ body: TxnBody, session: Int64 = 0) -> Txn {
        zxid += 1
        return Txn(header: TxnHeader(clientId: session, cxid: Int32(zxid), zxid: zxid, time: 1_700_000_000_000 + zxid,
                                     type: body.opCode.rawValue), body: body)
    }
    let session: Int64 = 0x0100_0000_ABCD_0001
    let txns: [Txn] = [
        next(.createSession(timeoutMs: 30000), session: session),
        next(.create(CreateTxn(path: "/app", data: Array("app".utf8), acl: ACL.openUnsafe, ephemeral: false, parentCVersion: -1))),
        next(.create(CreateTxn(path: "/app/a", data: nil, acl: digestACL, ephemeral: false, parentCVersion: -1))),
        next(.create(CreateTxn(path: "/app/b", data: Array(repeating: 7, count: 300), acl: mixedACL, ephemeral: false, parentCVersion: -1))),
        next(.create(CreateTxn(path: "/app/eph", data: [], acl: ACL.openUnsafe, ephemeral: true, parentCVersion: -1)), session: session),
        next(.createContainer(CreateTxn(path: "/box", data: Array("c".utf8), acl: ACL.openUnsafe, ephemeral: false, parentCVersion: -1))),
        next(.createTTL(CreateTxn(path: "/box/ttl", data: Array("t".utf8), acl: ACL.readUnsafe, ephemeral: false, parentCVersion: -1, ttl: 60000))),
        next(.setData(path: "/app/b", data: Array("v2".utf8), version: 1)),
        next(.setACL(path: "/app", acl: mixedACL, version: 1)),
        next(.create(CreateTxn(path: "/gone", data: [], acl: ACL.openUnsafe, ephemeral: false, parentCVersion: -1))),
        next(.delete(path: "/gone")),
        next(.create(CreateTxn(path: "/unicode-\u{1F600}-ключ", data: Array("é".utf8), acl: ACL.openUnsafe, ephemeral: false, parentCVersion: -1))),
    ]
    for txn in txns { _ = tree.apply(txn) }
    return tree
}

/// Every node of two trees is the same (data, ACL, persisted stat, children), and the sessions.
func zooKeeperSameTree(_ left: DataTree, _ right: DataTree) -> Bool {
    left.nodes == right.nodes && left.sessions == right.sessions
}
