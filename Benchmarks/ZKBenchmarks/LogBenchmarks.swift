import Benchmark
import ZKBase
import ZKFormat
import ZKStorage
import ZKWire

/// One log record (FORMAT.md section 2) around a setData txn with a 1 KiB value, as `bench fsync` uses.
func logRecordBenchmarks() {
    let txn = Txn(header: Fixture.header(.setData), body: .setData(path: Fixture.path, data: Fixture.value1K, version: 4))
    let previousCRC: UInt32 = 0x1234_5678
    let record = LogRecord.encode(txn, digest: 0xfeed_beef_cafe, previousCRC: previousCRC).bytes
    Benchmark("LogRecord encode (setData 1 KiB)", configuration: BenchConfiguration.micro) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(LogRecord.encode(txn, digest: 0xfeed_beef_cafe, previousCRC: previousCRC)) }
    }
    Benchmark("LogRecord decode (setData 1 KiB, CRC checked)", configuration: BenchConfiguration.micro) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try LogRecord.decode(zxid: txn.zxid, bytes: record, previousCRC: previousCRC)) }
    }
}

/// An open LMDB log in a scratch directory and one batch of records whose zxids are moved on
/// before each append (outside the measurement, without allocating).
final class LogState: @unchecked Sendable {
    let directory: ScratchDirectory
    let log: LMDBTransactionLog
    var batch: [LoggedTxn]
    var nextCounter: Int64 = 1

    init(forceSync: Bool, batchSize: Int) throws {
        directory = try ScratchDirectory("log")
        log = try LMDBTransactionLog(directory: directory.path, configuration: LMDBConfiguration(forceSync: forceSync))
        batch = (0..<batchSize).map { _ in
            LoggedTxn(
                txn: Txn(header: Fixture.header(.setData), body: .setData(path: Fixture.path, data: Fixture.value1K, version: 4)),
                digest: 0xfeed_beef_cafe)
        }
    }

    func renumber() {
        for index in batch.indices {
            batch[index].txn.header.zxid = Fixture.zxid(nextCounter)
            nextCounter += 1
        }
    }

    func close() {
        log.close()
        directory.remove()
    }
}

/// `LMDBTransactionLog.append` of one batch of 1 KiB setData txns = one LMDB write transaction
/// (LogRecord encoding, CRC chain, MDB_APPEND puts, commit), with and without fsync
/// (forceSync=no opens MDB_NOSYNC). Figures are per append call; divide by the batch for per txn.
/// The log grows by at most ~100 MB per benchmark in $TMPDIR (else /tmp) and is removed after.
func logAppendBenchmarks() {
    for forceSync in [false, true] {
        for (batchSize, iterations) in [(1, 10_000), (100, 1_000), (1_000, 100)] {
            let name = "Log append batch \(batchSize), forceSync \(forceSync ? "yes" : "no")"
            let holder = Holder<LogState>()
            Benchmark(name, configuration: BenchConfiguration.single(iterations: iterations)) { benchmark in
                guard let state = holder.value else { return }
                state.renumber()
                benchmark.startMeasurement()
                try state.log.append(state.batch)
                benchmark.stopMeasurement()
            } setup: {
                holder.value = try LogState(forceSync: forceSync, batchSize: batchSize)
            } teardown: {
                holder.value?.close()
                holder.value = nil
            }
        }
    }
}
