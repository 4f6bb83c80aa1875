import Foundation
import Testing
import ZKBase
@testable import ZKStorage

@Suite struct LMDBEnvironmentTests {
    @Test func mapGrowsTransparentlyFromATinyStart() throws {
        try withTemporaryDirectory { path in
            let configuration = LMDBConfiguration(mapSizeBytesInitial: 1 << 20)
            let log = try LMDBTransactionLog(directory: path, configuration: configuration)
            defer { log.close() }
            #expect(log.environment.mapSizeBytes == 1 << 20)
            // ~8 MiB of records, in batches of 200 (each batch alone is bigger than a quarter of the map).
            for start in stride(from: Int64(1), through: 5801, by: 200) {
                try log.append(makeRecords(start...(start + 199), payloadBytes: 1000))
            }
            // What the journal still holds goes into LMDB (the checkpointer would, later).
            try log.fold()
            let statistics = try log.statistics
            #expect(statistics.recordCount == 6000)
            #expect(statistics.mapSizeBytes >= 8 << 20 && statistics.fileSizeBytes > 6 << 20)
            #expect(try readAll(log).count == 6000)
            #expect(log.verify().isEmpty)
        }
    }

    /// LMDB refuses to remap while a write transaction is open (EINVAL, map untouched): that
    /// must not leave the environment marked unusable, and a resize between writes works. (A
    /// maintenance shrink once raced the checkpointer's fold this way and disabled the log.)
    @Test func aRemapRefusedUnderAnOpenWriteTransactionLeavesTheLogWorking() throws {
        try withTemporaryDirectory { path in
            let log = try LMDBTransactionLog(directory: path, configuration: LMDBConfiguration(mapSizeBytesInitial: 1 << 20))
            defer { log.close() }
            try log.append(makeRecords(1...10, payloadBytes: 1000))
            let environment = log.environment
            var refused: LogError?
            try environment.withWriteTransaction(growingUpTo: 4 << 20) { _ throws(LogError) in
                do throws(LogError) {
                    try environment.resize(to: 2 << 20)
                } catch {
                    refused = error
                }
            }
            #expect(refused?.code == EINVAL)
            try log.append(makeRecords(11...20, payloadBytes: 1000))
            try environment.resizeBetweenWrites(to: 2 << 20)
            #expect(environment.mapSizeBytes == 2 << 20)
            try log.append(makeRecords(21...30, payloadBytes: 1000))
            try log.fold()
            #expect(try readAll(log).count == 30)
        }
    }

    @Test func mapGrowthWaitsForReadTransactionsOfOtherThreads() throws {
        try withTemporaryDirectory { path in
            let log = try LMDBTransactionLog(directory: path, configuration: LMDBConfiguration(mapSizeBytesInitial: 256 << 10))
            defer { log.close() }
            try log.append(makeRecords(1...10, payloadBytes: 1000))
            let mapBefore = log.environment.mapSizeBytes
            let opened = DispatchSemaphore(value: 0)
            let finished = DispatchSemaphore(value: 0)
            let readerEnd = Failures()
            Thread.detachNewThread {
                defer { finished.signal() }
                do {
                    try log.environment.withReadTransaction { _ throws(LogError) in
                        opened.signal()
                        usleep(300_000)
                        readerEnd.add("\(DispatchTime.now().uptimeNanoseconds)")
                    }
                } catch {
                    readerEnd.add("failed: \(error)")
                }
            }
            opened.wait()
            // Needs a bigger map: the remap must wait until the reader above has ended.
            try log.append(makeRecords(11...1010, payloadBytes: 1000))
            let appendEnd = DispatchTime.now().uptimeNanoseconds
            finished.wait()
            #expect(log.environment.mapSizeBytes > mapBefore)
            let readerEndNanoseconds = UInt64(readerEnd.messages.first ?? "") ?? .max
            #expect(readerEndNanoseconds <= appendEnd, "\(readerEnd.messages)")
            #expect(try readAll(log).count == 1010)
        }
    }

    @Test func mapGrowsWhileOtherThreadsRead() throws {
        try withTemporaryDirectory { path in
            let log = try LMDBTransactionLog(directory: path, configuration: LMDBConfiguration(mapSizeBytesInitial: 1 << 20))
            defer { log.close() }
            try log.append(makeRecords(1...50, payloadBytes: 1000))
            let stop = NSLock()
            nonisolated(unsafe) var stopped = false
            let readers = (0..<2).map { _ in
                let done = DispatchSemaphore(value: 0)
                let failures = Failures()
                Thread.detachNewThread {
                    defer { done.signal() }
                    while !stop.withLock({ stopped }) {
                        do {
                            let records = try log.records(after: 0, limit: 50)
                            if records.count != 50 { failures.add("read \(records.count) records") }
                        } catch {
                            failures.add("\(error)")
                        }
                    }
                }
                return (done, failures)
            }
            for start in stride(from: Int64(51), through: 5951, by: 50) {
                try log.append(makeRecords(start...(start + 49), payloadBytes: 1000))
            }
            // Appends go to the journal; LMDB (and its map) grows as they are folded in, which
            // the checkpointer does in the background: fold the rest now, readers still reading.
            try log.fold()
            stop.withLock { stopped = true }
            for (done, failures) in readers {
                done.wait()
                #expect(failures.messages.isEmpty, "\(failures.messages.prefix(3))")
            }
            #expect(log.environment.mapSizeBytes >= 8 << 20)
            #expect(log.verify().isEmpty)
        }
    }

    final class Failures: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [String] = []
        func add(_ message: String) { lock.withLock { stored.append(message) } }
        var messages: [String] { lock.withLock { stored } }
    }

    @Test func quotaReachedReturnsFullKeepsEarlierRecordsAndLiftsWithABiggerQuota() throws {
        try withTemporaryDirectory { path in
            let quota = LMDBConfiguration(mapSizeBytesInitial: 256 << 10, mapSizeBytesMax: 2 << 20)
            let log = try LMDBTransactionLog(directory: path, configuration: quota)
            var next: Int64 = 1
            var full: LogError?
            while full == nil && next < 100_000 {
                do throws(LogError) {
                    try log.append(makeRecords(next...(next + 19), payloadBytes: 1000))
                    next += 20
                } catch {
                    full = error
                }
            }
            let appended = next - 1
            #expect(full?.kind == .full, "\(String(describing: full))")
            #expect(full.map { "\($0)" }?.contains("mapSizeBytesMax") == true)
            #expect(appended > 500 && log.lastZxid == zxid(appended))
            #expect(log.environment.mapSizeBytes <= 2 << 20)
            // Nothing of the refused batch is visible, everything before it reads and verifies.
            #expect(logged(try readAll(log)) == makeRecords(1...appended, payloadBytes: 1000))
            #expect(log.verify().isEmpty)
            // Still full: the next append fails the same way and damages nothing.
            #expect(throws: LogError.self) { try log.append(makeRecords((appended + 1)...(appended + 20), payloadBytes: 1000)) }
            log.close()

            let raised = LMDBConfiguration(mapSizeBytesInitial: 256 << 10, mapSizeBytesMax: 64 << 20)
            let reopened = try LMDBTransactionLog(directory: path, configuration: raised)
            defer { reopened.close() }
            #expect(reopened.lastZxid == zxid(appended))
            try reopened.append(makeRecords((appended + 1)...(appended + 2000), payloadBytes: 1000))
            #expect(try readAll(reopened).count == Int(appended) + 2000)
            #expect(reopened.verify().isEmpty)
        }
    }

    @Test func aFullLogCanStillPurgeAndThenAppendAgain() throws {
        try withTemporaryDirectory { path in
            let quota = LMDBConfiguration(mapSizeBytesInitial: 256 << 10, mapSizeBytesMax: 2 << 20)
            let log = try LMDBTransactionLog(directory: path, configuration: quota)
            defer { log.close() }
            var next: Int64 = 1
            while true {
                do throws(LogError) {
                    try log.append(makeRecords(next...(next + 19), payloadBytes: 1000))
                    next += 20
                } catch {
                    #expect(error.kind == .full)
                    break
                }
            }
            try log.purge(through: zxid(next - 1 - 100))  // keep the newest 100
            #expect(log.environment.mapSizeBytes <= (2 << 20) + quota.maintenanceHeadroomBytes)
            // The freed pages take the next appends without growing past the quota.
            for _ in 0..<20 {
                try log.append(makeRecords(next...(next + 19), payloadBytes: 1000))
                next += 20
            }
            #expect(try readAll(log, after: log.firstZxid! - 1).count == 100 + 400)
            #expect(log.verify().isEmpty)
        }
    }

    @Test func readOnlyEnvironmentReadsAndRefusesToOpenAMissingLog() throws {
        try withTemporaryDirectory { path in
            let writer = try LMDBTransactionLog(directory: path, configuration: smallMap)
            try writer.append(makeRecords(1...10))
            writer.close()
            let reader = try LMDBTransactionLog(directory: path, configuration: LMDBConfiguration(readOnly: true))
            #expect(logged(try readAll(reader)) == makeRecords(1...10))
            #expect(reader.verify().isEmpty)
            reader.close()
        }
        try withTemporaryDirectory { path in
            #expect(throws: LogError.self) { try LMDBTransactionLog(directory: path, configuration: LMDBConfiguration(readOnly: true)) }
        }
    }

    @Test func missingDirectoryIsAClearIOError() throws {
        let error = #expect(throws: LogError.self) { try LMDBEnvironment(path: "/tmp/paddock-does-not-exist/log") }
        guard case .io(let message)? = error?.kind else {
            Issue.record("expected .io, got \(String(describing: error))")
            return
        }
        #expect(message.contains("mdb_env_open") && message.contains("No such file or directory"))
    }

    /// Resident KiB of this process's mapping of `file` (/proc/self/smaps), nil when not mapped.
    private static func residentKiB(ofMapping file: String) -> Int? {
        guard let resolved = LMDBEnvironment.resolvedPath(file) else { return nil }
        var inMapping = false
        for line in LMDBEnvironment.procFileLines("/proc/self/smaps") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), fields.count >= 5 {
                inMapping = fields.count >= 6 && fields[5...].joined(separator: " ") == resolved
            } else if inMapping, fields.first == "Rss:", fields.count >= 2 {
                return Int(fields[1])
            }
        }
        return nil
    }

    @Test func logPagesReadThroughTheMapLeaveTheProcessRSSAsTheLogGrows() throws {
        try withTemporaryDirectory { path in
            let log = try LMDBTransactionLog(directory: path, configuration: LMDBConfiguration(mapSizeBytesInitial: 128 << 20))
            defer { log.close() }
            let dataFile = path + "/data.mdb"
            var next: Int64 = 1
            func appendMegabytes(_ megabytes: Int) throws {
                for _ in 0..<megabytes {
                    try log.append(makeRecords(next...(next + 999), payloadBytes: 1000))
                    next += 1000
                }
            }
            try appendMegabytes(20)
            #expect(try readAll(log).count == 20_000)  // every page of the log read through the map
            let mapping = try #require(LMDBEnvironment.sharedMapping(ofFile: dataFile), "data.mdb must be mapped")
            #expect(mapping.1 == log.environment.mapSizeBytes)
            let residentAfterRead = try #require(Self.residentKiB(ofMapping: dataFile))
            #expect(residentAfterRead > 16 << 10, "reading 20 MB through the map makes it resident (\(residentAfterRead) KiB)")
            // 10 MB more crosses the 8 MiB release step at least once.
            try appendMegabytes(10)
            let residentAfterGrowth = try #require(Self.residentKiB(ofMapping: dataFile))
            #expect(residentAfterGrowth < residentAfterRead / 2,
                    "resident map pages after growth \(residentAfterGrowth) KiB, after reading \(residentAfterRead) KiB")
            #expect(try readAll(log).count == 30_000, "released pages read back from the page cache")
            #expect(log.verify().isEmpty)
        }
    }
}
