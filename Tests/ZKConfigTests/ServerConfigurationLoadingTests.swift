import Foundation
import Testing
@testable import ZKConfig

@Suite struct ServerConfigurationLoadingTests {
    private func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "zkconfig-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func loadsAFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/zoo.cfg"
        try "tickTime=2000\ndataDir=\(directory)/data\nclientPort=2181\n".write(toFile: path, atomically: true, encoding: .utf8)
        let configuration = try ServerConfiguration.load(path: path)
        #expect(configuration.tickTimeMs == 2000)
        #expect(configuration.dataDirectory == directory + "/data")
    }

    @Test func missingFileIsReportedClearly() {
        let path = "/nonexistent/zkconfig/zoo.cfg"
        #expect(throws: ConfigurationError(
            kind: .fileNotFound, key: path, message: "configuration file not found: /nonexistent/zkconfig/zoo.cfg")
        ) {
            try ServerConfiguration.load(path: path)
        }
    }

    @Test func directoryIsNotAFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: ConfigurationError(
            kind: .fileUnreadable, key: directory,
            message: "cannot read configuration file \(directory): it is a directory")
        ) {
            try ServerConfiguration.load(path: directory)
        }
    }

    @Test func parseErrorsPassThrough() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/zoo.cfg"
        try "dataDir=/d\ntickTime=abc\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError.invalidValue(
            key: "tickTime", value: "abc", expected: "expected a positive integer", line: 2)
        ) {
            try ServerConfiguration.load(path: path)
        }
    }

    @Test func latin1BytesAreReadAsJavaDoes() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/zoo.cfg"
        let bytes = Array("dataDir=/caf".utf8) + [0xE9] + Array("\n".utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try ServerConfiguration.load(path: path).dataDirectory == "/café")
    }

    @Test func oversizedFileIsRefused() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/zoo.cfg"
        try Data(count: ServerConfiguration.configurationFileBytesMax + 1).write(to: URL(fileURLWithPath: path))
        let size = ServerConfiguration.configurationFileBytesMax + 1
        #expect(throws: ConfigurationError(
            kind: .fileUnreadable, key: path,
            message: "cannot read configuration file \(path): it is \(size) bytes, more than \(size - 1)")
        ) {
            try ServerConfiguration.load(path: path)
        }
    }
}
