import ArgumentParser
import Foundation
import ZKBench

/// `paddock bench fsync` and `paddock bench snapshot`: storage throughput next to the physical
/// limits measured in the same run. The work is in ZKBench; this only parses and prints.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure storage throughput next to this machine's physical limits (benchmarks, not tests).",
        subcommands: [BenchFsyncCommand.self, BenchSnapshotCommand.self, BenchLoadCommand.self, BenchClientCommand.self])
}

struct BenchFsyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsync",
        abstract: "Raw fdatasync rate, raw LMDB durable commits by batch size, Paddock's log append and group commit by writers.")

    @Option(name: .long, help: "Directory on the disk to measure; a temporary directory is made in it and removed (default ./bench-data, else $TMPDIR).")
    var dir: String?

    @Option(name: .long, help: "Seconds per measurement point.")
    var seconds: Double = 1

    @Option(name: .long, help: "Rounds per point (raw and Paddock back to back, alternating order); the median round is reported.")
    var rounds = 3

    @Option(name: .long, help: "Batch sizes (records per commit) for raw LMDB and the Paddock log, comma-separated; empty for none.")
    var batches = "1,10,100,1000"

    @Option(name: .long, help: "Writer thread counts for group commit, comma-separated; empty for none.")
    var writers = "1,8,32,100"

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard seconds > 0 && seconds <= 600 else { throw ValidationError("--seconds must be in (0, 600]") }
        guard rounds >= 1 && rounds <= 100 else { throw ValidationError("--rounds must be in 1...100") }
    }

    func run() throws {
        let report: FsyncBench.Report
        do {
            let options = FsyncBench.Options(
                directory: dir, seconds: seconds, rounds: rounds, batchSizes: try BenchParsing.counts(batches),
                writerCounts: try BenchParsing.counts(writers))
            report = try FsyncBench.run(options, progress: benchProgress)
        } catch {
            FileHandle.standardError.write(Data("paddock bench fsync: \(error)\n".utf8))
            throw ExitCode(1)
        }
        say(json ? report.json.rendered : report.table)
    }
}

struct BenchSnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Snapshot write and load throughput of a realistic tree, next to zlib's own throughput on the same bytes.")

    @Option(name: .long, help: "Tree sizes in znodes, comma-separated (100k and 1M accepted).")
    var znodes = "100000,1000000"

    @Option(name: .customLong("value-bytes"), help: "Znode value size range in bytes, uniform (A..B).")
    var valueBytes = "100..1000"

    @Option(name: .long, help: "zlib level of the snapshot (0 = uncompressed).")
    var level: Int32 = 1

    @Option(name: .long, help: "At most this many children per service node.")
    var fanout = 100

    @Option(name: .long, help: "Seed of the generated tree.")
    var seed: UInt64 = 12345

    @Option(name: .long, help: "Directory on the disk to measure; a temporary directory is made in it and removed (default ./bench-data, else $TMPDIR).")
    var dir: String?

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    func run() throws {
        let report: SnapshotBench.Report
        do {
            let options = SnapshotBench.Options(
                znodeCounts: try BenchParsing.counts(znodes), valueBytes: try BenchParsing.byteRange(valueBytes),
                level: level, directory: dir, fanout: fanout, seed: seed)
            report = try SnapshotBench.run(options, progress: benchProgress)
        } catch {
            FileHandle.standardError.write(Data("paddock bench snapshot: \(error)\n".utf8))
            throw ExitCode(1)
        }
        say(json ? report.json.rendered : report.table)
    }
}

/// Progress goes to stderr, so stdout holds only the table or the JSON.
@Sendable func benchProgress(_ line: String) {
    FileHandle.standardError.write(Data("paddock bench: \(line)\n".utf8))
}
