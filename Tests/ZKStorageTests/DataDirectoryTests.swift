import Foundation
import Testing
import ZKStorage

@Suite struct DataDirectoryTests {
    @Test func createsTheLayoutAndRemovesLeftoverTemporarySnapshots() throws {
        try withTemporaryDirectory { root in
            let dataDirectory = root + "/data"
            let logRoot = root + "/txnlog"
            let directory = try DataDirectory.open(dataDirectory: dataDirectory, dataLogDirectory: logRoot, createIfMissing: true, lock: true)
            #expect(try String(contentsOfFile: dataDirectory + "/paddock-version", encoding: .utf8) == "paddock-data-format 1\n")
            #expect(try String(contentsOfFile: dataDirectory + "/paddock.lock", encoding: .utf8) == "\(getpid())\n")
            #expect(directory.snapshotDirectory == dataDirectory + "/snapshots")
            #expect(directory.logDirectory == logRoot + "/log")
            #expect(FileManager.default.fileExists(atPath: directory.logDirectory))
            let leftover = directory.snapshotDirectory + "/.snapshot.0000000100000005.tmp"
            let kept = directory.snapshotDirectory + "/snapshot.0000000100000005"
            #expect(FileManager.default.createFile(atPath: leftover, contents: Data([1])))
            #expect(FileManager.default.createFile(atPath: kept, contents: Data([1])))
            directory.release()

            let again = try DataDirectory.open(dataDirectory: dataDirectory, dataLogDirectory: logRoot, createIfMissing: false, lock: true)
            defer { again.release() }
            #expect(!FileManager.default.fileExists(atPath: leftover))
            #expect(FileManager.default.fileExists(atPath: kept))
            // The LMDB log opens in the directory it names.
            let log = try LMDBTransactionLog(directory: again.logDirectory, configuration: smallMap)
            try log.append(makeRecords(1...3))
            log.close()
        }
    }

    @Test func secondOpenIsRefusedWhileTheLockIsHeld() throws {
        try withTemporaryDirectory { root in
            let first = try DataDirectory.open(dataDirectory: root, createIfMissing: true, lock: true)
            // Same process, separate open file description: flock conflicts.
            let error = #expect(throws: DataDirectoryError.self) {
                try DataDirectory.open(dataDirectory: root, createIfMissing: true, lock: true)
            }
            #expect(error?.kind == .locked(pid: getpid()))
            #expect(error.map { "\($0)" }?.contains("locked by process \(getpid())") == true)
            // Another process cannot take it either.
            #expect(try runFlock(root + "/paddock.lock") == 1)
            // A read-only open does not need the lock.
            let reader = try DataDirectory.open(dataDirectory: root, createIfMissing: false, lock: false)
            #expect(!reader.isLocked)
            first.release()
            #expect(try runFlock(root + "/paddock.lock") == 0)
            let second = try DataDirectory.open(dataDirectory: root, createIfMissing: false, lock: true)
            #expect(second.isLocked)
            second.release()
        }
    }

    @Test func newerFormatIsRefusedNamingTheVersion() throws {
        try withTemporaryDirectory { root in
            try "paddock-data-format 99\n".write(toFile: root + "/paddock-version", atomically: true, encoding: .utf8)
            let error = #expect(throws: DataDirectoryError.self) {
                try DataDirectory.open(dataDirectory: root, createIfMissing: true, lock: true)
            }
            #expect(error?.kind == .unsupportedVersion("paddock-data-format 99"))
            #expect(error.map { "\($0)" }?.contains("99") == true)
            // The refused open released its lock.
            #expect(try runFlock(root + "/paddock.lock") == 0)
        }
    }

    @Test func foreignOrMissingDirectoriesAreRefused() throws {
        try withTemporaryDirectory { root in
            try FileManager.default.createDirectory(atPath: root + "/version-2", withIntermediateDirectories: false)
            let foreign = #expect(throws: DataDirectoryError.self) {
                try DataDirectory.open(dataDirectory: root, createIfMissing: true, lock: true)
            }
            #expect(foreign?.kind == .notADataDirectory(found: ["version-2"]))
            let missing = #expect(throws: DataDirectoryError.self) {
                try DataDirectory.open(dataDirectory: root + "/absent", createIfMissing: false, lock: false)
            }
            #expect(missing?.kind == .missing)
        }
    }

    @Test func directoryHoldingOnlyMyidIsNew() throws {
        try withTemporaryDirectory { root in
            try "2\n".write(toFile: root + "/myid", atomically: true, encoding: .utf8)
            let directory = try DataDirectory.open(dataDirectory: root, createIfMissing: true, lock: true)
            _ = directory
            #expect(FileManager.default.fileExists(atPath: root + "/paddock-version"))
            #expect(try String(contentsOfFile: root + "/myid", encoding: .utf8) == "2\n")
        }
    }

    /// Exit status of `flock -n <path> true` in a child process: 0 = it got the lock, 1 = held.
    func runFlock(_ path: String) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        process.arguments = ["-n", path, "true"]
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
