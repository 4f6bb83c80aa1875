import CLMDB
import Foundation
import Testing
import ZKBase
import ZKFormat
import ZKStorage
import ZKTools

/// Where the checked-in fixtures and expected outputs live (read from the source tree).
enum ToolsTestPaths {
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
    static let fixtures = testsDirectory + "/Fixtures"
    static let expected = testsDirectory + "/Expected"

    /// `REWRITE=1` regenerates the expected outputs instead of comparing with them.
    static var rewrite: Bool { ProcessInfo.processInfo.environment["REWRITE"] == "1" }
    /// `REWRITE_FIXTURES=1` regenerates the fixture data directories.
    static var rewriteFixtures: Bool { ProcessInfo.processInfo.environment["REWRITE_FIXTURES"] == "1" }
}

/// A fresh directory under /tmp, removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    var template = Array("/tmp/paddock-tools-XXXXXX".utf8CString)
    guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else { throw POSIXError(.EIO) }
    let path = String(cString: created)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// Copies a checked-in fixture to `destination` (tools open LMDB, which writes lock.mdb; the
/// checked-in copy stays untouched). Empty subdirectories git does not keep are recreated.
func copyFixture(_ name: String, to destination: String) throws {
    let source = ToolsTestPaths.fixtures + "/" + name
    try FileManager.default.copyItem(atPath: source, toPath: destination)
    for sub in ["snapshots", "log"] {
        try FileManager.default.createDirectory(atPath: destination + "/" + sub, withIntermediateDirectories: true)
    }
}

/// Runs `body` on a temp copy of a fixture.
func withFixture<T>(_ name: String, _ body: (String) throws -> T) throws -> T {
    try withTemporaryDirectory { root in
        let directory = root + "/" + name
        try copyFixture(name, to: directory)
        return try body(directory)
    }
}

/// Compares `actual` with Expected/<name>.txt (or writes it with REWRITE=1).
func expectGolden(_ name: String, _ actual: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let path = ToolsTestPaths.expected + "/" + name + ".txt"
    let text = actual.hasSuffix("\n") ? actual : actual + "\n"
    if ToolsTestPaths.rewrite {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return
    }
    guard let expected = try? String(contentsOfFile: path, encoding: .utf8) else {
        Issue.record("missing expected output \(path); run with REWRITE=1 to create it", sourceLocation: sourceLocation)
        return
    }
    if expected != text {
        let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let actualLines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let index = zip(expectedLines, actualLines).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            ?? min(expectedLines.count, actualLines.count)
        let want = index < expectedLines.count ? String(expectedLines[index]) : "<end>"
        let got = index < actualLines.count ? String(actualLines[index]) : "<end>"
        Issue.record(
            "output differs from \(name).txt at line \(index + 1):\n  expected: \(want)\n  actual:   \(got)\n(REWRITE=1 regenerates)",
            sourceLocation: sourceLocation)
    }
}

/// Replaces a temp path with a stable placeholder.
func normalized(_ text: String, _ directory: String, as placeholder: String = "<DIR>") -> String {
    text.replacingOccurrences(of: directory, with: placeholder)
}

/// Edits an LMDB environment straight through LMDB, as damage would look to Paddock. Nothing
/// else may have it open in this process.
enum RawLMDB {
    static func withWriteTransaction(_ path: String, _ body: (OpaquePointer, MDB_dbi, MDB_dbi) -> Void) {
        var environment: OpaquePointer?
        precondition(mdb_env_create(&environment) == 0)
        defer { mdb_env_close(environment) }
        precondition(mdb_env_set_maxdbs(environment, 4) == 0)
        precondition(mdb_env_set_mapsize(environment, 64 << 20) == 0)
        let opened = mdb_env_open(environment, path, UInt32(MDB_NOTLS), 0o644)
        precondition(opened == 0, String(cString: mdb_strerror(opened)))
        var transaction: OpaquePointer?
        precondition(mdb_txn_begin(environment, nil, 0, &transaction) == 0)
        var txns: MDB_dbi = 0
        var meta: MDB_dbi = 0
        precondition(mdb_dbi_open(transaction, "txns", 0, &txns) == 0)
        precondition(mdb_dbi_open(transaction, "meta", 0, &meta) == 0)
        body(transaction!, txns, meta)
        precondition(mdb_txn_commit(transaction) == 0)
    }

    static func key(_ zxid: Int64) -> [UInt8] { withUnsafeBytes(of: UInt64(zxid).bigEndian) { Array($0) } }

    static func get(_ transaction: OpaquePointer, _ database: MDB_dbi, _ key: [UInt8]) -> [UInt8] {
        var keyBytes = key
        return keyBytes.withUnsafeMutableBytes { raw in
            var keyValue = MDB_val(mv_size: raw.count, mv_data: raw.baseAddress)
            var value = MDB_val()
            precondition(mdb_get(transaction, database, &keyValue, &value) == 0)
            return Array(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
        }
    }

    static func put(_ transaction: OpaquePointer, _ database: MDB_dbi, _ key: [UInt8], _ bytes: [UInt8]) {
        var keyBytes = key
        var valueBytes = bytes
        keyBytes.withUnsafeMutableBytes { rawKey in
            valueBytes.withUnsafeMutableBytes { rawValue in
                var keyValue = MDB_val(mv_size: rawKey.count, mv_data: rawKey.baseAddress)
                var value = MDB_val(mv_size: rawValue.count, mv_data: rawValue.baseAddress)
                precondition(mdb_put(transaction, database, &keyValue, &value, 0) == 0)
            }
        }
    }

    /// Replaces the value under `zxid` with `transform(old)`.
    static func overwrite(_ logDirectory: String, zxid: Int64, _ transform: ([UInt8]) -> [UInt8]) {
        withWriteTransaction(logDirectory) { transaction, txns, _ in
            put(transaction, txns, key(zxid), transform(get(transaction, txns, key(zxid))))
        }
    }

    static func delete(_ logDirectory: String, zxid: Int64) {
        withWriteTransaction(logDirectory) { transaction, txns, _ in
            var keyBytes = key(zxid)
            keyBytes.withUnsafeMutableBytes { rawKey in
                var keyValue = MDB_val(mv_size: rawKey.count, mv_data: rawKey.baseAddress)
                precondition(mdb_del(transaction, txns, &keyValue, nil) == 0)
            }
        }
    }
}

/// Every stored record of a log directory, raw (opened read-only, closed again).
func rawLog(_ logDirectory: String) throws -> (anchor: LogChainLink, records: [RawLogRecord]) {
    let log = try LMDBTransactionLog(directory: logDirectory, configuration: LMDBConfiguration(readOnly: true))
    defer { log.close() }
    return (try log.purgeAnchor, try log.rawRecords(after: 0, limit: 1_000_000).records)
}

/// What the server's startup makes of a data directory (a fresh environment, as a restart would).
func startupRecovery(_ dataDirectory: String) throws -> RecoveryReport {
    let log = try LMDBTransactionLog(directory: dataDirectory + "/log", configuration: LMDBConfiguration(readOnly: true))
    defer { log.close() }
    return try Recovery.recover(snapshotDirectory: dataDirectory + "/snapshots", log: log).1
}

/// A fixed clock for backup names: 2023-11-14T22:13:20Z.
let fixedNowMs: Int64 = 1_700_000_000_000
