import Benchmark
import ZKFormat
import ZKTree

/// A 10,000-znode tree (values 100...1000 B, ~5.5 MB of stream) and a scratch directory.
final class SnapshotState: @unchecked Sendable {
    let directory: ScratchDirectory
    let tree: DataTree
    let path: String

    init() throws {
        directory = try ScratchDirectory("snapshot")
        tree = Fixture.tree(znodes: 10_000)
        path = try SnapshotFiles.write(tree: tree, directory: directory.path, startZxid: tree.lastProcessedZxid)
    }
}

/// `SnapshotFiles.write` (SnapshotWriter at the default zlib level 1: sessions, every node in
/// pre-order, trailer, fsync, rename, directory fsync; each iteration replaces the same file) and
/// `SnapshotFiles.load` of that file (inflate, CRC and digest checks, building the tree).
func snapshotBenchmarks() {
    let configuration = BenchConfiguration.single(iterations: 100, seconds: 3, extraMetrics: [.peakMemoryResident])
    let writeHolder = Holder<SnapshotState>()
    Benchmark("Snapshot write (10k nodes, zlib L1)", configuration: configuration) { benchmark in
        guard let state = writeHolder.value else { return }
        blackHole(try SnapshotFiles.write(tree: state.tree, directory: state.directory.path, startZxid: state.tree.lastProcessedZxid))
    } setup: {
        writeHolder.value = try SnapshotState()
    } teardown: {
        writeHolder.value?.directory.remove()
        writeHolder.value = nil
    }
    let loadHolder = Holder<SnapshotState>()
    Benchmark("Snapshot load (10k nodes)", configuration: configuration) { benchmark in
        guard let state = loadHolder.value else { return }
        blackHole(try SnapshotFiles.load(path: state.path))
    } setup: {
        loadHolder.value = try SnapshotState()
    } teardown: {
        loadHolder.value?.directory.remove()
        loadHolder.value = nil
    }
}
