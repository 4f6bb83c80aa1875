import Foundation
import ZKBase
import ZKTree
import ZKWire

/// Deterministic inputs shared by the benchmarks.
enum Fixture {
    static let epoch: Int64 = 1
    static let time: Int64 = 1_732_550_000_000
    static let sessionId: Int64 = 0x1_0000_0001
    /// A typical member path (34 bytes, so not a small inline String).
    static let path = "/app/service-7/member-0000001234"
    static let value128 = value(bytes: 128, seed: 1)
    static let value1K = value(bytes: 1024, seed: 2)

    static func zxid(_ counter: Int64) -> Int64 { ZxidMath.make(epoch: epoch, counter: counter) }

    static func header(_ type: OpCode, zxid counter: Int64 = 1_000) -> TxnHeader {
        TxnHeader(clientId: sessionId, cxid: 42, zxid: zxid(counter), time: time, type: type.rawValue)
    }

    static func memberPath(service: Int, member: Int) -> String {
        let digits = String(member)
        return "/app/service-\(service)/member-" + String(repeating: "0", count: max(0, 10 - digits.count)) + digits
    }

    /// JSON-ish bytes of exactly `bytes` length from a small vocabulary (compresses about 3x with zlib L1).
    static func value(bytes: Int, seed: UInt64) -> [UInt8] {
        var random = XorShift(seed: seed)
        let words = ["alpha", "bravo", "charlie", "delta", "echo", "leader", "follower", "observer", "zone-a", "zone-b"]
        let keys = ["host", "port", "session", "updated", "tags", "role", "owner", "version"]
        var out: [UInt8] = Array("{".utf8)
        while out.count < bytes {
            out += Array("\"\(keys[random.below(keys.count)])\":".utf8)
            switch random.below(4) {
            case 0: out += Array("\"10.\(random.below(8)).\(random.below(256)).\(random.below(256))\",".utf8)
            case 1: out += Array("\(random.below(65_536)),".utf8)
            case 2: out += Array("\"session-0x\(String(random.next() & 0xffff_ffff, radix: 16))\",".utf8)
            default: out += Array("[\"\(words[random.below(words.count)])\",\"\(words[random.below(words.count)])\"],".utf8)
            }
        }
        out.removeLast(out.count - bytes + 1)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// `/app/service-S/member-N` nodes, `fanout` members per service, values of 100...1000 bytes
    /// (average ~550), built with `createNode` as replay would. Also `sessions` live sessions.
    static func tree(znodes: Int, fanout: Int = 100, seed: UInt64 = 12_345) -> DataTree {
        var random = XorShift(seed: seed)
        var tree = DataTree()
        var ignored: [WatchNotification] = []
        for index in 0..<max(1, znodes / 1000) { tree.loadSession(id: sessionId + Int64(index), timeoutMs: 30_000) }
        var counter: Int64 = 0
        func create(_ path: String, _ data: [UInt8]) {
            counter += 1
            tree.createNode(
                path, data: data, acl: ACL.openUnsafe, ephemeralOwner: 0, parentCVersion: -1,
                zxid: zxid(counter), time: time + counter, notifications: &ignored)
        }
        create("/app", [])
        var member = 0
        while tree.nodeCount < znodes {
            if member % fanout == 0 { create("/app/service-\(member / fanout)", []) }
            create(memberPath(service: member / fanout, member: member), value(bytes: 100 + random.below(901), seed: random.next()))
            member += 1
        }
        tree.finishLoading(lastProcessedZxid: zxid(counter))
        return tree
    }
}

/// xorshift64*: deterministic data from a seed.
struct XorShift {
    var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9e37_79b9_7f4a_7c15 : seed }
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 2_685_821_657_736_338_717
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// A fresh directory under $TMPDIR (else /tmp), removed with everything in it by `remove()`.
final class ScratchDirectory: @unchecked Sendable {
    let path: String

    init(_ label: String) throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        path = base + "/paddock-zkbench-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// State made by a benchmark's setup hook and released by its teardown hook. Hooks and
/// iterations run one after another, never at the same time.
final class Holder<Value>: @unchecked Sendable {
    var value: Value?
}
