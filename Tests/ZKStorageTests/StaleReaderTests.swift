import CLMDB
import Foundation
import Glibc
import Testing
import ZKBase
@testable import ZKStorage

/// A tool killed in the middle of reading a live log leaves its LMDB reader slot behind; the
/// slot pins an old snapshot, so LMDB could never reuse the pages freed since. The log's writer
/// must clear such slots while it runs, not only at open: a real child process
/// (`paddock debug hold-reader`) holds a read transaction on the live log and is SIGKILLed, and
/// the log, still taking writes, must count the slot as cleared (what mntr reports as
/// `zk_paddock_stale_readers_cleared`). Bounded waits, no fixed sleeps.
@Suite struct StaleReaderTests {
    /// The `paddock` executable built next to this test binary.
    static var paddockBinary: String? {
        guard let resolved = realpath("/proc/self/exe", nil) else { return nil }
        defer { free(resolved) }
        var directory = URL(fileURLWithPath: String(cString: resolved)).deletingLastPathComponent()
        // `swift test` runs <bin>/PaddockPackageTests.xctest (a file on Linux); go up out of a bundle if there is one.
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("paddock").path
            if access(candidate, X_OK) == 0 { return candidate }
            directory.deleteLastPathComponent()
        }
        return nil
    }

    /// Waits (bounded) for a line on `descriptor`; nil on timeout or end of file.
    static func firstLine(_ descriptor: Int32, timeoutMs: Int32) -> String? {
        var bytes: [UInt8] = []
        let deadline = Recovery.monotonicMs() + Int64(timeoutMs)
        while true {
            let left = deadline - Recovery.monotonicMs()
            guard left > 0 else { return nil }
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, Int32(left)) > 0 else { continue }
            var byte: UInt8 = 0
            guard read(descriptor, &byte, 1) == 1 else { return nil }
            if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
    }

    @Test func aReaderKilledMidReadIsClearedWhileTheLogRuns() throws {
        let binary = try #require(Self.paddockBinary, "the paddock executable is not next to the test binary (swift build first)")
        try withTemporaryDirectory { dataDirectory in
            let directory = try DataDirectory.open(dataDirectory: dataDirectory, createIfMissing: true, lock: true)
            defer { directory.release() }
            let log = try LMDBTransactionLog(directory: directory.logDirectory, configuration: LMDBConfiguration(mapSizeBytesInitial: 1 << 20))
            defer { log.close() }
            var next: Int64 = 1
            func write() throws {
                try log.append(makeRecords(next...next + 9, payloadBytes: 200))
                next += 10
                try log.fold()
            }
            for _ in 0..<20 { try write() }
            #expect(log.environment.staleReadersCleared == 0)

            // A reader of the live log in another process, killed while it holds its read transaction.
            let reader = Process()
            reader.executableURL = URL(fileURLWithPath: binary)
            reader.arguments = ["debug", "hold-reader", dataDirectory, "--seconds", "120"]
            let output = Pipe()
            reader.standardOutput = output
            reader.standardError = FileHandle.nullDevice
            try reader.run()
            let line = Self.firstLine(output.fileHandleForReading.fileDescriptor, timeoutMs: 60_000)
            kill(reader.processIdentifier, SIGKILL)
            reader.waitUntilExit()
            try #require(line == "holding", "the reader did not start holding its read transaction (got \(line ?? "nothing"))")
            #expect(reader.terminationReason == .uncaughtSignal && reader.terminationStatus == SIGKILL)
            // LMDB's reader table still lists the dead process's slot: nothing clears it but a check.
            #expect(Self.readerSlots(log.environment).contains(reader.processIdentifier))

            // The writer checks for dead readers at most once a second while it commits.
            let deadline = Recovery.monotonicMs() + 30_000
            var writes = 0
            while log.environment.staleReadersCleared < 1 && Recovery.monotonicMs() < deadline {
                try write()
                writes += 1
            }
            #expect(log.environment.staleReadersCleared == 1, "the dead reader's slot was not cleared within 30 s of writes (\(writes) writes)")
            #expect(!Self.readerSlots(log.environment).contains(reader.processIdentifier))
        }
    }

    /// The pids in LMDB's reader table (mdb_reader_list).
    static func readerSlots(_ environment: LMDBEnvironment) -> [Int32] {
        final class Lines { var text = "" }
        let lines = Lines()
        _ = mdb_reader_list(environment.environment, { message, context in
            let lines = Unmanaged<Lines>.fromOpaque(context!).takeUnretainedValue()
            lines.text += String(cString: message!)
            return 0
        }, Unmanaged.passUnretained(lines).toOpaque())
        // "    pid     thread     txnid" then one line per slot in use ("pid thread txnid").
        return lines.text.split(separator: "\n").compactMap { Int32($0.split(separator: " ").first ?? "") }
    }
}
