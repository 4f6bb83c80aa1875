import Foundation
import Testing
import ZKBase
import ZKFormat
import ZKPipeline
import ZKStorage
import ZKTree
import ZKWire

/// The fuzzy-snapshot proof (FORMAT.md sections 3 and 5): under random load driven through the
/// real pipeline core, a snapshot is started at a random point and walked in slices while txns
/// keep being applied; recovering from that snapshot plus the log (the server's Recovery code)
/// must give exactly the live tree — every node, stat, ACL, session — and its digest.
@Suite struct FuzzySnapshotRecoveryTests {
    typealias SeededGenerator = SplitMix64

    struct Load {
        var core: ServerCore
        var random: SeededGenerator
        var nowMs: Int64 = 1_700_000_000_000
        var xid: Int32 = 0
        let log = InMemoryTransactionLog()
        let connections: [ConnectionID] = [1, 2, 3]

        init(seed: UInt64) {
            core = ServerCore(
                configuration: CoreConfiguration(tickMs: 2000, extendedTypesEnabled: true), initialSessionId: 0x100)
            random = SeededGenerator(seed: seed)
            for id in connections {
                core.connectionOpened(id, address: "127.0.0.1")
                var outputs: [CoreOutput] = []
                core.connect(id, ConnectRequest(timeoutMs: 30_000), nowMs: nowMs, into: &outputs)
                commit(outputs)
            }
        }

        /// Logs every persisted txn (with its predicted digest) and applies it.
        mutating func commit(_ outputs: [CoreOutput]) {
            let records = outputs.compactMap { output -> LoggedTxn? in
                if case .persist(let txn, let digest) = output { return LoggedTxn(txn: txn, digest: digest) }
                return nil
            }
            guard let last = records.last else { return }
            try! log.append(records)
            var applied: [CoreOutput] = []
            core.committed(through: last.txn.zxid, into: &applied)
        }

        mutating func path() -> String {
            let depth = Int.random(in: 1...3, using: &random)
            return "/" + (0..<depth).map { _ in ["a", "b", "c", "d"].randomElement(using: &random)! }.joined(separator: "/")
        }

        mutating func step() {
            xid += 1
            nowMs += 7
            let connection = connections.randomElement(using: &random)!
            let data = (0..<Int.random(in: 0...40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            let body: RequestBody
            switch Int.random(in: 0..<10, using: &random) {
            case 0...3:
                let flags = [0, 0, 1, 2, 3, 4].randomElement(using: &random)!
                body = .create(opCode: .create2, CreateRequest(path: path(), data: data, acl: ACL.openUnsafe, flags: Int32(flags)))
            case 4...5:
                body = .setData(path: path(), data: Bool.random(using: &random) ? data : nil, version: -1)
            case 6...7:
                body = .delete(path: path(), version: -1)
            case 8:
                body = .multi([
                    .create(opCode: .create, CreateRequest(path: path(), data: data, acl: ACL.openUnsafe, flags: 0)),
                    .setData(path: path(), data: data, version: -1),
                    .delete(path: path(), version: -1),
                ])
            default:
                body = .setACL(path: path(), acl: [ACL(perms: .all, id: .anyone)], version: -1)
            }
            var outputs: [CoreOutput] = []
            core.receive(connection, ClientRequest(xid: xid, opCodeRaw: opCodeRaw(body), body: body), nowMs: nowMs, into: &outputs)
            commit(outputs)
        }

        /// A create or setACL with an ACL list drawn from 31 (permission subsets of world:anyone).
        mutating func stepWithNewACL() {
            xid += 1
            nowMs += 7
            let acl = [ACL(perms: Perms(rawValue: Int32.random(in: 1...31, using: &random)), id: .anyone)]
            let body: RequestBody = Bool.random(using: &random)
                ? .create(opCode: .create2, CreateRequest(path: path(), data: [1], acl: acl, flags: 0))
                : .setACL(path: path(), acl: acl, version: -1)
            var outputs: [CoreOutput] = []
            core.receive(connections.randomElement(using: &random)!, ClientRequest(xid: xid, opCodeRaw: opCodeRaw(body), body: body),
                         nowMs: nowMs, into: &outputs)
            commit(outputs)
        }

        func opCodeRaw(_ body: RequestBody) -> Int32 {
            switch body {
            case .create(let opCode, _): return opCode.rawValue
            case .setData: return OpCode.setData.rawValue
            case .delete: return OpCode.delete.rawValue
            case .multi: return OpCode.multi.rawValue
            default: return OpCode.setACL.rawValue
            }
        }

        /// Closes one session (its ephemerals go) and opens it again, to exercise closeSession in the window.
        mutating func cycleSession() {
            let connection = connections.randomElement(using: &random)!
            xid += 1
            var outputs: [CoreOutput] = []
            core.receive(connection, ClientRequest(xid: xid, opCodeRaw: OpCode.closeSession.rawValue, body: .closeSession), nowMs: nowMs, into: &outputs)
            commit(outputs)
            core.connectionClosed(connection)
            core.connectionOpened(connection, address: "127.0.0.1")
            outputs = []
            core.connect(connection, ConnectRequest(timeoutMs: 30_000), nowMs: nowMs, into: &outputs)
            commit(outputs)
        }
    }

    @Test(arguments: Array(UInt64(1)...UInt64(24)))
    func snapshotPlusReplayEqualsTheLiveTree(seed: UInt64) throws {
        var load = Load(seed: seed)
        for _ in 0..<Int.random(in: 50...400, using: &load.random) { load.step() }

        let directory = NSTemporaryDirectory() + "paddock-fuzzy-\(seed)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let startZxid = load.core.lastProcessedZxid
        let writer = try SnapshotWriter(directory: directory, startZxid: startZxid, startTimeMs: load.nowMs)
        try writer.writeSessions(load.core.tree.sessions.sorted { $0.key < $1.key }.map { (id: $0.key, timeoutMs: $0.value) })
        var walk = FuzzySnapshotWalk()
        let sliceNodes = Int.random(in: 1...8, using: &load.random)
        while !walk.isFinished {
            for entry in walk.nextSlice(of: load.core.tree, nodesMax: sliceNodes) {
                try writer.writeNode(path: entry.path, node: entry.node)
            }
            // Txns keep landing between slices: this is what makes the snapshot fuzzy.
            for _ in 0..<Int.random(in: 0...6, using: &load.random) { load.step() }
            if Int.random(in: 0..<40, using: &load.random) == 0 { load.cycleSession() }
        }
        _ = try writer.finish(endZxid: load.core.lastProcessedZxid)
        for _ in 0..<Int.random(in: 0...100, using: &load.random) { load.step() }

        let (recovered, report) = try Recovery.recover(snapshotDirectory: directory, log: load.log)
        let live = load.core.tree
        #expect(report.snapshotStartZxid == startZxid)
        #expect(report.lastZxid == live.lastProcessedZxid)
        #expect(recovered.digest == live.digest, "seed \(seed): digest after snapshot + replay differs from the live tree")
        #expect(recovered.digest == recovered.computeDigest())
        #expect(recovered.staleCachedDigests().isEmpty, "seed \(seed): recovered nodes with a stale cached digest")
        #expect(live.staleCachedDigests().isEmpty, "seed \(seed): live nodes with a stale cached digest")
        #expect(recovered.nodes == live.nodes, "seed \(seed): nodes differ")
        #expect(recovered.sessions == live.sessions, "seed \(seed): sessions differ")
        #expect(recovered.ephemerals.mapValues { Set($0.elements) } == live.ephemerals.mapValues { Set($0.elements) })
        #expect(recovered.containers == live.containers)
        #expect(load.core.digestMismatchCount == 0, "prep and apply disagreed on a digest")
    }
}
