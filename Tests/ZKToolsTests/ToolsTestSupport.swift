import CLMDB
import Foundation
import Testing
@_exported import ZKTestSupport
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
