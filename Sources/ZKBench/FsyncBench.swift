#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLMDB
import ZKBase
import ZKFormat
import ZKStorage
import ZKWire

/// `paddock bench fsync`: how fast txns become durable, next to the physical limits measured in
/// the same run (STORAGE-NOTES.md section 2 rows (a), (b), (e)).
///
/// 1. raw: 1 KiB `write` + `fdatasync` appending to a file (storage-limits `fsync_append -m append`);
/// 2. raw LMDB: durable commits of B puts of 1 KiB (8-byte big-endian keys, MDB_APPEND) through
///    CLMDB directly (storage-limits `lmdb_commit -b B`), the physical limit of the log;
/// 3. Paddock: `LMDBTransactionLog.append` of B setData txns whose log records are 1 KiB
///    (LogRecord framing, CRC chain, LMDB), measured right after (2) at the same B;
/// 4. group commit: N writer threads each submit one txn and wait until it is durable; one
///    committer thread takes everything waiting into one `append` (the server's pattern), followed
///    by raw LMDB at the average batch size it reached.
///
/// Every point runs for `seconds` (or until `bytesCapPerPoint` were written) in its own fresh
/// directory under a scratch directory, deleted afterwards.
public enum FsyncBench {
    public struct Options: Sendable {
        public var directory: String?
        public var seconds: Double
        /// Each point is measured this many times (raw and Paddock back to back); the median is reported.
        public var rounds: Int
        public var batchSizes: [Int]
        public var writerCounts: [Int]
        /// Size of one raw write, one raw LMDB value and one Paddock log record.
        public var recordBytes: Int
        /// A point stops early once it wrote this many bytes of values (bounds the disk used).
        public var bytesCapPerPoint: Int

        public init(
            directory: String? = nil, seconds: Double = 1, rounds: Int = 3, batchSizes: [Int] = [1, 10, 100, 1000],
            writerCounts: [Int] = [1, 8, 32, 100], recordBytes: Int = 1024, bytesCapPerPoint: Int = 256 << 20
        ) {
            self.directory = directory
            self.seconds = seconds
            self.rounds = rounds
            self.batchSizes = batchSizes
            self.writerCounts = writerCounts
            self.recordBytes = recordBytes
            self.bytesCapPerPoint = bytesCapPerPoint
        }
    }

    /// Commits of one point: `commits` durable syncs carrying `records` records in `seconds`.
    public struct Commits: Sendable {
        public var batch: Int
        public var commits: Int
        public var records: Int
        public var seconds: Double
        /// Per commit (raw, LMDB, Paddock) or per txn from submit to durable (group commit).
        public var p50Microseconds: Double
        public var p99Microseconds: Double
        public var recordBytes: Int
        /// Time spent inside commits (group commit: the committer inside `append`); the rest of
        /// `seconds` the log stood idle, waiting for txns.
        public var commitSeconds: Double

        public var commitsPerSecond: Double { Double(commits) / seconds }
        public var recordsPerSecond: Double { Double(records) / seconds }
        public var megabytesPerSecond: Double { Double(records * recordBytes) / seconds / 1e6 }
        public var averageBatch: Double { commits == 0 ? 0 : Double(records) / Double(commits) }

        /// Fraction of the time the log was committing.
        public var busy: Double { commitSeconds / seconds }

        init(batch: Int, commits: Int, records: Int, seconds: Double, latencies: [UInt64], recordBytes: Int, commitSeconds: Double? = nil) {
            let sorted = latencies.sorted()
            self.commitSeconds = commitSeconds ?? Double(latencies.reduce(0, +)) / 1e9
            self.batch = batch
            self.commits = commits
            self.records = records
            self.seconds = seconds
            self.p50Microseconds = percentileMicroseconds(sorted, 50)
            self.p99Microseconds = percentileMicroseconds(sorted, 99)
            self.recordBytes = recordBytes
        }
    }

    public struct GroupCommitPoint: Sendable {
        public var writers: Int
        public var paddock: Commits
        /// Raw LMDB at the batch size the group commit reached on average (rounded).
        public var raw: Commits
        /// Paddock txns/s over raw LMDB puts/s at that batch size.
        public var ratio: Double { paddock.recordsPerSecond / raw.recordsPerSecond }
    }

    public struct Report: Sendable {
        public var directory: String
        public var secondsPerPoint: Double
        public var rounds: Int
        public var recordBytes: Int
        public var loadBefore: [Double]
        public var loadAfter: [Double]
        public var rawSync: Commits
        public var rawLMDB: [Commits]
        public var paddockLog: [Commits]
        public var groupCommit: [GroupCommitPoint]

        /// Paddock txns/s over raw LMDB puts/s at the same batch size.
        public func logRatio(_ index: Int) -> Double { paddockLog[index].recordsPerSecond / rawLMDB[index].recordsPerSecond }
    }

    public static func run(_ options: Options, progress: BenchProgress = { _ in }) throws -> Report {
        guard options.seconds > 0 else { throw BenchError("--seconds must be positive") }
        guard options.rounds >= 1 else { throw BenchError("--rounds must be at least 1") }
        guard options.recordBytes >= 128 else { throw BenchError("records must be at least 128 bytes") }
        let scratch = try ScratchDirectory(base: options.directory)
        defer { scratch.remove() }
        let loadBefore = loadAverages()
        var point = 0
        func freshDirectory() throws -> String {
            point += 1
            return try scratch.subdirectory("p\(point)")
        }
        let template = try TxnTemplate(recordBytes: options.recordBytes)

        func measured(_ body: (String) throws -> Commits) throws -> Commits {
            let directory = try freshDirectory()
            defer { removeTree(directory) }
            return try body(directory)
        }
        let rounds = options.rounds

        progress("raw write+fdatasync, \(options.recordBytes) B appends, in \(scratch.path)")
        let rawSync = try median((0..<rounds).map { _ in try measured { try rawFdatasync(directory: $0, options: options) } })

        // Each round measures raw LMDB and Paddock back to back (alternating which goes first),
        // so both see the same machine; the round with the median ratio is reported.
        var rawLMDB: [Commits] = []
        var paddockLog: [Commits] = []
        for batch in options.batchSizes {
            progress("raw LMDB and Paddock LMDBTransactionLog.append, \(batch) records/commit, \(rounds) round(s)")
            var pairs: [(raw: Commits, paddock: Commits)] = []
            for round in 0..<rounds {
                let rawFirst = round % 2 == 0
                var raw: Commits?
                var paddock: Commits?
                for step in 0..<2 {
                    if (step == 0) == rawFirst {
                        raw = try measured { try measureRawLMDB(directory: $0, batch: batch, options: options) }
                    } else {
                        paddock = try measured { try measureLog(directory: $0, batch: batch, template: template, options: options) }
                    }
                }
                pairs.append((raw!, paddock!))
            }
            let chosen = medianPair(pairs)
            rawLMDB.append(chosen.raw)
            paddockLog.append(chosen.paddock)
        }

        var groupCommit: [GroupCommitPoint] = []
        for writers in options.writerCounts {
            var pairs: [(raw: Commits, paddock: Commits)] = []
            for round in 0..<rounds {
                progress("group commit, \(writers) writer thread(s), round \(round + 1) of \(rounds)")
                let paddock = try measured { try measureGroupCommit(directory: $0, writers: writers, template: template, options: options) }
                let batch = max(1, Int(paddock.averageBatch.rounded()))
                progress("raw LMDB, \(batch) puts/commit (the group commit's average batch)")
                let raw = try measured { try measureRawLMDB(directory: $0, batch: batch, options: options) }
                pairs.append((raw, paddock))
            }
            let chosen = medianPair(pairs)
            groupCommit.append(GroupCommitPoint(writers: writers, paddock: chosen.paddock, raw: chosen.raw))
        }
        return Report(
            directory: scratch.path, secondsPerPoint: options.seconds, rounds: options.rounds, recordBytes: options.recordBytes,
            loadBefore: loadBefore, loadAfter: loadAverages(), rawSync: rawSync, rawLMDB: rawLMDB,
            paddockLog: paddockLog, groupCommit: groupCommit)
    }

    /// The run with the median records/s.
    static func median(_ runs: [Commits]) -> Commits {
        runs.sorted { $0.recordsPerSecond < $1.recordsPerSecond }[runs.count / 2]
    }

    /// The round with the median ratio of Paddock to raw records/s.
    static func medianPair(_ pairs: [(raw: Commits, paddock: Commits)]) -> (raw: Commits, paddock: Commits) {
        pairs.sorted { $0.paddock.recordsPerSecond / $0.raw.recordsPerSecond < $1.paddock.recordsPerSecond / $1.raw.recordsPerSecond }[pairs.count / 2]
    }

    // MARK: - 1. raw write + fdatasync

    static func rawFdatasync(directory: String, options: Options) throws -> Commits {
        let path = directory + "/append.log"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BenchError(errnoText("open", path)) }
        defer {
            close(fd)
            unlink(path)
        }
        var random = XorShift64Star(seed: 42)
        let record = (0..<options.recordBytes).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        var latencies: [UInt64] = []
        let start = monotonicNanoseconds()
        let deadline = start + UInt64(options.seconds * 1e9)
        var now = start
        try record.withUnsafeBytes { bytes in
            while now < deadline && latencies.count * options.recordBytes < options.bytesCapPerPoint {
                try writeAll(fd, bytes, path: path)
                guard fdatasync(fd) == 0 else { throw BenchError(errnoText("fdatasync", path)) }
                let done = monotonicNanoseconds()
                latencies.append(done - now)
                now = done
            }
        }
        return Commits(
            batch: 1, commits: latencies.count, records: latencies.count, seconds: Double(now - start) / 1e9,
            latencies: latencies, recordBytes: options.recordBytes)
    }

    // MARK: - 2. raw LMDB

    /// Durable commits of `batch` puts each through CLMDB: main database, MDB_NOTLS, default sync,
    /// 8-byte big-endian keys with MDB_APPEND (what storage-limits' lmdb_commit measures).
    static func measureRawLMDB(directory: String, batch: Int, options: Options) throws -> Commits {
        func check(_ code: Int32, _ what: String) throws {
            guard code == 0 else { throw BenchError("\(what) in \(directory): \(String(cString: mdb_strerror(code)))") }
        }
        var created: OpaquePointer?
        try check(mdb_env_create(&created), "mdb_env_create")
        guard let environment = created else { throw BenchError("mdb_env_create returned no environment") }
        defer { mdb_env_close(environment) }
        try check(mdb_env_set_mapsize(environment, 64 << 30), "mdb_env_set_mapsize")
        try check(mdb_env_open(environment, directory, UInt32(MDB_NOTLS), 0o644), "mdb_env_open")
        var transaction: OpaquePointer?
        var database = MDB_dbi()
        try check(mdb_txn_begin(environment, nil, 0, &transaction), "mdb_txn_begin")
        try check(mdb_dbi_open(transaction, nil, 0, &database), "mdb_dbi_open")
        try check(mdb_txn_commit(transaction), "mdb_txn_commit")

        let value = UnsafeMutableRawBufferPointer.allocate(byteCount: options.recordBytes, alignment: 8)
        let key = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
        defer {
            value.deallocate()
            key.deallocate()
        }
        var random = XorShift64Star(seed: 0x9e37_79b9_7f4a_7c15)
        for index in 0..<value.count { value[index] = UInt8(truncatingIfNeeded: random.next()) }
        var keyValue = MDB_val(mv_size: 8, mv_data: key.baseAddress)
        var dataValue = MDB_val(mv_size: value.count, mv_data: value.baseAddress)
        var latencies: [UInt64] = []
        var zxid: UInt64 = 0
        let start = monotonicNanoseconds()
        let deadline = start + UInt64(options.seconds * 1e9)
        var now = start
        while now < deadline && Int(zxid) * options.recordBytes < options.bytesCapPerPoint {
            try check(mdb_txn_begin(environment, nil, 0, &transaction), "mdb_txn_begin")
            for _ in 0..<batch {
                zxid += 1
                key.storeBytes(of: zxid.bigEndian, as: UInt64.self)
                let code = mdb_put(transaction, database, &keyValue, &dataValue, UInt32(MDB_APPEND))
                if code != 0 {
                    mdb_txn_abort(transaction)
                    try check(code, "mdb_put")
                }
            }
            try check(mdb_txn_commit(transaction), "mdb_txn_commit")
            let done = monotonicNanoseconds()
            latencies.append(done - now)
            now = done
        }
        return Commits(
            batch: batch, commits: latencies.count, records: latencies.count * batch, seconds: Double(now - start) / 1e9,
            latencies: latencies, recordBytes: options.recordBytes)
    }

    // MARK: - 3. Paddock's log

    /// setData txns whose log record (LogRecord framing + TxnHeader + SetDataTxn) is exactly
    /// `recordBytes` long; all share one data buffer, so building a batch copies no data.
    struct TxnTemplate: Sendable {
        let txn: Txn

        init(recordBytes: Int) throws {
            let path = "/app/service-00/member-0000000001"
            func txn(dataBytes: Int) -> Txn {
                Txn(
                    header: TxnHeader(clientId: 0x1_0000_0001, cxid: 1, zxid: ZxidMath.make(epoch: 1, counter: 1),
                                      time: 1_732_550_000_000, type: OpCode.setData.rawValue),
                    body: .setData(path: path, data: [UInt8](repeating: 0x61, count: dataBytes), version: 1))
            }
            let overhead = LogRecord.encode(txn(dataBytes: 0), digest: 0, previousCRC: 0).bytes.count
            guard recordBytes > overhead else { throw BenchError("records must be larger than \(overhead) bytes") }
            var random = XorShift64Star(seed: 7)
            var data = [UInt8]()
            data.reserveCapacity(recordBytes - overhead)
            while data.count < recordBytes - overhead { data.append(UInt8(0x20 + random.below(95))) }
            var built = txn(dataBytes: 0)
            built.body = .setData(path: path, data: data, version: 1)
            precondition(LogRecord.encode(built, digest: 0, previousCRC: 0).bytes.count == recordBytes)
            self.txn = built
        }

        func logged(counter: Int64, clientId: Int64 = 0x1_0000_0001) -> LoggedTxn {
            var copy = txn
            copy.header.zxid = ZxidMath.make(epoch: 1, counter: counter)
            copy.header.clientId = clientId
            copy.header.cxid = Int32(truncatingIfNeeded: counter)
            return LoggedTxn(txn: copy, digest: UInt64(counter))
        }
    }

    /// The log as the server opens it (default LMDBConfiguration), appends of `batch` txns each.
    static func measureLog(directory: String, batch: Int, template: TxnTemplate, options: Options) throws -> Commits {
        let log = try LMDBTransactionLog(directory: directory, configuration: LMDBConfiguration())
        defer { log.close() }
        var latencies: [UInt64] = []
        var counter: Int64 = 0
        var records: [LoggedTxn] = []
        records.reserveCapacity(batch)
        let start = monotonicNanoseconds()
        let deadline = start + UInt64(options.seconds * 1e9)
        var now = start
        while now < deadline && Int(counter) * options.recordBytes < options.bytesCapPerPoint {
            records.removeAll(keepingCapacity: true)
            for _ in 0..<batch {
                counter += 1
                records.append(template.logged(counter: counter))
            }
            try log.append(records)
            let done = monotonicNanoseconds()
            latencies.append(done - now)
            now = done
        }
        return Commits(
            batch: batch, commits: latencies.count, records: Int(counter), seconds: Double(now - start) / 1e9,
            latencies: latencies, recordBytes: options.recordBytes)
    }

    // MARK: - 4. Group commit

    /// What the writers and the committer share (guarded by `monitor`). Condition 0 wakes the
    /// committer, 1 the starting thread, 2 + w writer w: a commit wakes only the writers whose
    /// txns it carried, as a reply goes only to the connection that sent the request.
    final class GroupCommitState: @unchecked Sendable {
        let monitor: Monitor
        var waiting: [(txn: LoggedTxn, writer: Int)] = []
        var durable: [Bool]
        var submitted = 0
        var ready = 0
        var started = false
        var writersDone = 0
        var commits = 0
        var records = 0
        var failure: (any Error)?
        var latencies: [[UInt64]]
        var appendNanoseconds: UInt64 = 0

        init(writers: Int) {
            monitor = Monitor(conditions: writers + 2)
            durable = Array(repeating: false, count: writers)
            latencies = Array(repeating: [], count: writers)
        }

        static let committer = 0
        static let starter = 1
        static func writer(_ index: Int) -> Int { index + 2 }
    }

    static func measureGroupCommit(directory: String, writers: Int, template: TxnTemplate, options: Options) throws -> Commits {
        let log = try LMDBTransactionLog(directory: directory, configuration: LMDBConfiguration())
        defer { log.close() }
        let state = GroupCommitState(writers: writers)
        let monitor = state.monitor
        let secondsPerPoint = options.seconds
        let recordsCap = options.bytesCapPerPoint / options.recordBytes

        // The committer: everything waiting goes into one append (one LMDB txn, one sync), as
        // ServerNode.submitBatchIfIdle does; zxids are given in arrival order.
        let committer = OSThread {
            var counter: Int64 = 0
            var batch: [LoggedTxn] = []
            var owners: [Int] = []
            while true {
                monitor.lock()
                while state.waiting.isEmpty && state.writersDone < writers { monitor.wait(GroupCommitState.committer) }
                if state.waiting.isEmpty {
                    monitor.unlock()
                    return
                }
                batch.removeAll(keepingCapacity: true)
                owners.removeAll(keepingCapacity: true)
                for entry in state.waiting {
                    counter += 1
                    var txn = entry.txn
                    txn.txn.header.zxid = ZxidMath.make(epoch: 1, counter: counter)
                    batch.append(txn)
                    owners.append(entry.writer)
                }
                state.waiting.removeAll(keepingCapacity: true)
                monitor.unlock()
                var failure: (any Error)?
                let appendStarted = monotonicNanoseconds()
                do {
                    try log.append(batch)
                } catch {
                    failure = error
                }
                let appendTook = monotonicNanoseconds() - appendStarted
                monitor.withLock {
                    if let failure { state.failure = failure }
                    state.appendNanoseconds += appendTook
                    state.records += batch.count
                    state.commits += 1
                    for writer in owners {
                        state.durable[writer] = true
                        monitor.signal(GroupCommitState.writer(writer))
                    }
                }
            }
        }

        var threads: [OSThread] = []
        for writer in 0..<writers {
            threads.append(OSThread {
                let clientId = Int64(0x1_0000_0000) + Int64(writer)
                let condition = GroupCommitState.writer(writer)
                var mine: [UInt64] = []
                monitor.lock()
                state.ready += 1
                monitor.signal(GroupCommitState.starter)
                while !state.started { monitor.wait(condition) }
                monitor.unlock()
                let deadline = monotonicNanoseconds() + UInt64(secondsPerPoint * 1e9)
                var txnCount: Int64 = 0
                while true {
                    let begin = monotonicNanoseconds()
                    guard begin < deadline else { break }
                    txnCount += 1
                    let txn = template.logged(counter: txnCount, clientId: clientId)
                    monitor.lock()
                    if state.failure != nil || state.submitted >= recordsCap {
                        monitor.unlock()
                        break
                    }
                    state.submitted += 1
                    state.durable[writer] = false
                    state.waiting.append((txn, writer))
                    monitor.signal(GroupCommitState.committer)
                    while !state.durable[writer] { monitor.wait(condition) }
                    monitor.unlock()
                    mine.append(monotonicNanoseconds() - begin)
                }
                monitor.withLock {
                    state.latencies[writer] = mine
                    state.writersDone += 1
                    monitor.signal(GroupCommitState.committer)
                }
            })
        }
        let start: UInt64 = monitor.withLock {
            while state.ready < writers { monitor.wait(GroupCommitState.starter) }
            state.started = true
            for writer in 0..<writers { monitor.signal(GroupCommitState.writer(writer)) }
            return monotonicNanoseconds()
        }
        for thread in threads { thread.join() }
        let end = monotonicNanoseconds()
        committer.join()
        if let failure = state.failure { throw failure }
        return Commits(
            batch: writers, commits: state.commits, records: state.records, seconds: Double(end - start) / 1e9,
            latencies: state.latencies.flatMap { $0 }, recordBytes: options.recordBytes,
            commitSeconds: Double(state.appendNanoseconds) / 1e9)
    }
}

// MARK: - Output

extension FsyncBench.Report {
    public var table: String {
        var rows: [[String]] = []
        func row(_ name: String, _ batch: String, _ commits: FsyncBench.Commits, limit: Double?, ratio: Double?, busy: Bool = false) -> [String] {
            [name, batch, formatted(commits.commitsPerSecond), formatted(commits.recordsPerSecond), formatted(commits.megabytesPerSecond, 1),
             formatted(commits.p50Microseconds), formatted(commits.p99Microseconds),
             limit.map { formatted($0) } ?? "", ratio.map(percent) ?? "", busy ? percent(commits.busy) : ""]
        }
        rows.append(row("raw write+fdatasync (append)", "1", rawSync, limit: nil, ratio: nil))
        for (index, raw) in rawLMDB.enumerated() {
            rows.append(row("raw LMDB durable commit", String(raw.batch), raw, limit: nil, ratio: nil))
            let log = paddockLog[index]
            rows.append(row("Paddock log append", String(log.batch), log, limit: raw.recordsPerSecond, ratio: logRatio(index)))
        }
        for point in groupCommit {
            rows.append(row("group commit, \(point.writers) writer\(point.writers == 1 ? "" : "s")", formatted(point.paddock.averageBatch, 1),
                            point.paddock, limit: point.raw.recordsPerSecond, ratio: point.ratio, busy: true))
        }
        let header = ["", "batch", "commits/s", "txns/s", "MB/s", "p50 us", "p99 us", "raw LMDB txns/s", "ratio", "log busy"]
        return """
            paddock bench fsync: \(recordBytes) B records, \(formatted(secondsPerPoint, 1)) s per point, median of \(rounds) round(s), scratch \(directory)
            load average before: \(loadText(loadBefore)); after: \(loadText(loadAfter))
            \(renderTable(header: header, rows: rows))
            txns/s = records (raw puts, Paddock txns) per second. Latency: per commit; for group commit, per txn
            from submit to durable. raw LMDB txns/s = puts/s of raw LMDB at the same batch (group commit: at
            its average batch, rounded, measured right after). log busy = share of the time the committer
            spent inside append (the rest it waited for writers). Target: group commit >= 80 % of raw LMDB.
            """
    }

    public var json: JSONValue {
        func commits(_ value: FsyncBench.Commits) -> [(String, JSONValue)] {
            [("batch", .integer(value.batch)), ("commits", .integer(value.commits)), ("records", .integer(value.records)),
             ("seconds", .number(value.seconds)), ("commits_per_s", .number(value.commitsPerSecond)),
             ("records_per_s", .number(value.recordsPerSecond)), ("mb_per_s", .number(value.megabytesPerSecond)),
             ("p50_us", .number(value.p50Microseconds)), ("p99_us", .number(value.p99Microseconds))]
        }
        return .object([
            ("command", .string("fsync")),
            ("directory", .string(directory)),
            ("seconds_per_point", .number(secondsPerPoint)),
            ("rounds", .integer(rounds)),
            ("record_bytes", .integer(recordBytes)),
            ("load_average_before", .array(loadBefore.map { .number($0) })),
            ("load_average_after", .array(loadAfter.map { .number($0) })),
            ("raw_fdatasync", .object(commits(rawSync))),
            ("raw_lmdb", .array(rawLMDB.map { .object(commits($0)) })),
            ("paddock_log", .array(paddockLog.indices.map { index in
                .object(commits(paddockLog[index]) + [
                    ("raw_lmdb_records_per_s", .number(rawLMDB[index].recordsPerSecond)),
                    ("ratio", .number(logRatio(index))),
                ])
            })),
            ("group_commit", .array(groupCommit.map { point in
                .object([("writers", .integer(point.writers))] + commits(point.paddock).filter { $0.0 != "batch" } + [
                    ("average_batch", .number(point.paddock.averageBatch)),
                    ("log_busy", .number(point.paddock.busy)),
                    ("raw_lmdb_batch", .integer(point.raw.batch)),
                    ("raw_lmdb_records_per_s", .number(point.raw.recordsPerSecond)),
                    ("raw_lmdb_commits_per_s", .number(point.raw.commitsPerSecond)),
                    ("ratio", .number(point.ratio)),
                ])
            })),
        ])
    }
}
