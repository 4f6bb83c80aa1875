import Benchmark
import ZKBase
import ZKTree
import ZKWire

/// The tree a benchmark mutates, with the 1,000 txns one iteration applies (one per scaled
/// iteration) and the txns that undo them outside the measurement, so the tree stays the same size.
final class TreeState: @unchecked Sendable {
    var tree: DataTree
    let measured: [Txn]
    let undo: [Txn]

    init(tree: DataTree, measured: [Txn], undo: [Txn]) {
        precondition(measured.count == BenchmarkScalingFactor.kilo.rawValue, "one txn per scaled iteration")
        self.tree = tree
        self.measured = measured
        self.undo = undo
    }
}

/// `DataTree.apply` per txn type on a prepared tree of 10,000 znodes (`/app/service-S/member-N`,
/// 100 per service), 128-byte values, no watches set. Each apply also keeps the running tree
/// digest (nodeDigest of the node before and after) and builds the TxnResult.
func treeBenchmarks() {
    let znodes = 10_000
    let fanout = 100
    let services = (znodes - 5) / (fanout + 1)  // full services: 4 built-in nodes, /app, then service + 100 members each
    let count = BenchmarkScalingFactor.kilo.rawValue
    // Named like the existing members (17-byte names, so not small inline Strings).
    func newPath(_ index: Int) -> String { "/app/service-\(index % services)/member-" + String(2_000_000_000 + index) }
    func existingPath(_ index: Int) -> String {
        Fixture.memberPath(service: index % services, member: (index % services) * fanout + index % fanout)
    }
    func create(_ index: Int) -> TxnBody {
        .create(CreateTxn(path: newPath(index), data: Fixture.value128, acl: ACL.openUnsafe, ephemeral: false, parentCVersion: -1))
    }
    func txn(_ body: TxnBody, _ index: Int) -> Txn {
        Txn(header: Fixture.header(body.opCode, zxid: 100_000 + Int64(index)), body: body)
    }
    let creates = (0..<count).map { txn(create($0), $0) }
    let deletes = (0..<count).map { txn(.delete(path: newPath($0)), $0) }

    let cases: [(String, () -> TreeState)] = [
        ("create", { TreeState(tree: Fixture.tree(znodes: znodes, fanout: fanout), measured: creates, undo: deletes) }),
        ("delete", {
            // The creates run before the measurement (as the undo of the previous iteration does).
            var tree = Fixture.tree(znodes: znodes, fanout: fanout)
            for txn in creates { _ = tree.apply(txn) }
            return TreeState(tree: tree, measured: deletes, undo: creates)
        }),
        ("setData", {
            let sets = (0..<count).map { txn(.setData(path: existingPath($0), data: Fixture.value128, version: 1), $0) }
            return TreeState(tree: Fixture.tree(znodes: znodes, fanout: fanout), measured: sets, undo: [])
        }),
        ("multi(check,create,setData)", {
            let multis = (0..<count).map { index in
                txn(.multi([
                    .check(path: "/app/service-\(index % services)", version: 0),
                    create(index),
                    .setData(path: existingPath(index), data: Fixture.value128, version: 1),
                ]), index)
            }
            return TreeState(tree: Fixture.tree(znodes: znodes, fanout: fanout), measured: multis, undo: deletes)
        }),
    ]
    for (name, makeState) in cases {
        Benchmark("Tree apply \(name)", configuration: BenchConfiguration.micro) { benchmark, state in
            benchmark.startMeasurement()
            for txn in state.measured { blackHole(state.tree.apply(txn)) }
            benchmark.stopMeasurement()
            for txn in state.undo { _ = state.tree.apply(txn) }
        } setup: {
            makeState()
        }
    }

    // The digest: what apply adds per changed node (nodeDigest) against recomputing it all.
    var stat = StatPersisted()
    stat.czxid = Fixture.zxid(10)
    stat.mzxid = Fixture.zxid(900)
    stat.pzxid = Fixture.zxid(10)
    stat.ctime = Fixture.time
    stat.mtime = Fixture.time
    stat.version = 3
    let node = DataNode(data: Fixture.value128, acl: ACL.openUnsafe, stat: stat)
    Benchmark("Digest nodeDigest (one node, 128 B value)", configuration: BenchConfiguration.micro) { benchmark in
        var node = node
        for index in benchmark.scaledIterations {
            node.stat.mzxid = Int64(index)  // a different input each call, so nothing is hoisted
            blackHole(DataTree.nodeDigest(path: Fixture.path, node: node))
        }
    }
    Benchmark("Digest computeDigest (100k nodes)", configuration: BenchConfiguration.single(iterations: 20)) { benchmark, tree in
        blackHole(tree.computeDigest())
    } setup: {
        Fixture.tree(znodes: 100_000)
    }
}
