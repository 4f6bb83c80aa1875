import Foundation
import Testing
import ZKBase
import ZKFormat
import ZKStorage
import ZKTools

/// The checked-in fixtures are exactly what FixtureBuilder writes (REWRITE_FIXTURES=1 rewrites them).
@Suite struct FixtureTests {
    @Test(arguments: FixtureBuilder.fixtureNames)
    func fixtureMatchesItsGenerator(name: String) throws {
        try withTemporaryDirectory { root in
            let generated = root + "/" + name
            try FixtureBuilder.generate(name, in: generated)
            try? FileManager.default.removeItem(atPath: generated + "/log/lock.mdb")
            let checkedIn = ToolsTestPaths.fixtures + "/" + name
            if ToolsTestPaths.rewriteFixtures {
                try? FileManager.default.removeItem(atPath: checkedIn)
                try FileManager.default.copyItem(atPath: generated, toPath: checkedIn)
                return
            }
            try withTemporaryDirectory { copyRoot in
                let copy = copyRoot + "/" + name
                try copyFixture(name, to: copy)
                try expectSameContent(generated, copy)
            }
        }
    }

    /// Same version file, the same log records and anchor, the same snapshots (byte for byte when
    /// uncompressed; header and verified trailer when zlib, whose bytes depend on its version).
    func expectSameContent(_ generated: String, _ checkedIn: String) throws {
        #expect(try Data(contentsOf: URL(fileURLWithPath: generated + "/paddock-version"))
            == Data(contentsOf: URL(fileURLWithPath: checkedIn + "/paddock-version")))
        let (a, b) = (try rawLog(generated + "/log"), try rawLog(checkedIn + "/log"))
        #expect(a.anchor == b.anchor)
        #expect(a.records == b.records)
        // The commit journal (format 2) byte for byte: the frame encoding is a format.
        let journal = { (directory: String) in try? Data(contentsOf: URL(fileURLWithPath: directory + "/log/" + FileJournalDevice.fileName)) }
        #expect(journal(generated) == journal(checkedIn))
        let names = { (directory: String) in SnapshotFiles.list(directory: directory + "/snapshots").map { ToolFilesForTests.name($0.path) } }
        #expect(names(generated) == names(checkedIn))
        for name in names(generated) {
            let (x, y) = (SnapshotInfo.inspect(path: generated + "/snapshots/" + name), SnapshotInfo.inspect(path: checkedIn + "/snapshots/" + name))
            if x.header?.compression == 0 || !x.isValid {
                #expect(try Data(contentsOf: URL(fileURLWithPath: x.path)) == Data(contentsOf: URL(fileURLWithPath: y.path)), "\(name)")
            } else {
                #expect(x.header == y.header && x.trailer == y.trailer, "\(name)")
            }
        }
    }
}

enum ToolFilesForTests {
    static func name(_ path: String) -> String { String(path.split(separator: "/").last ?? "") }
}
