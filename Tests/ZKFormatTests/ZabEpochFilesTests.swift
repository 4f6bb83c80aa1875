import Foundation
import Testing
import ZKFormat

@Suite struct ZabEpochFilesTests {
    func withDirectory(_ body: (String) throws -> Void) throws {
        let directory = NSTemporaryDirectory() + "paddock-epochs-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(directory)
    }

    @Test func writesZooKeepersFormatAndReadsItBack() throws {
        try withDirectory { directory in
            #expect(try ZabEpochFiles.read(directory: directory, name: ZabEpochFiles.acceptedEpochName) == nil)
            try ZabEpochFiles.write(directory: directory, name: ZabEpochFiles.acceptedEpochName, value: 7)
            try ZabEpochFiles.write(directory: directory, name: ZabEpochFiles.currentEpochName, value: 6)
            // Exactly what QuorumPeer.writeLongToFile writes: decimal, no newline.
            #expect(try String(contentsOfFile: directory + "/acceptedEpoch", encoding: .utf8) == "7")
            #expect(try ZabEpochFiles.read(directory: directory, name: ZabEpochFiles.acceptedEpochName) == 7)
            #expect(try ZabEpochFiles.read(directory: directory, name: ZabEpochFiles.currentEpochName) == 6)
            try ZabEpochFiles.write(directory: directory, name: ZabEpochFiles.acceptedEpochName, value: 12)
            #expect(try ZabEpochFiles.read(directory: directory, name: ZabEpochFiles.acceptedEpochName) == 12)
            #expect(!FileManager.default.fileExists(atPath: directory + "/acceptedEpoch.tmp"))
        }
    }

    @Test func readsFilesWrittenByZooKeeperWithATrailingNewline() throws {
        try withDirectory { directory in
            try "3\n".write(toFile: directory + "/currentEpoch", atomically: true, encoding: .utf8)
            #expect(try ZabEpochFiles.read(directory: directory, name: ZabEpochFiles.currentEpochName) == 3)
        }
    }

    @Test func garbageIsAnErrorNotAZero() throws {
        try withDirectory { directory in
            for garbage in ["", "x", "12ab", String(repeating: "9", count: 40)] {
                try garbage.write(toFile: directory + "/currentEpoch", atomically: true, encoding: .utf8)
                #expect(throws: SnapshotError.self) { _ = try ZabEpochFiles.read(directory: directory, name: ZabEpochFiles.currentEpochName) }
            }
        }
    }
}
