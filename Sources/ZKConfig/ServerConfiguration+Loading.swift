// Foundation is used here for reading the file only; parsing stays pure.
import Foundation

extension ServerConfiguration {
    /// zoo.cfg files are a few kilobytes; anything past this is not a configuration file.
    public static let configurationFileBytesMax = 1 << 20

    /// Reads and parses a zoo.cfg. A missing, unreadable, oversized or directory path is reported
    /// with the path as the error's key.
    public static func load(path: String) throws(ConfigurationError) -> ServerConfiguration {
        try parse(readText(path: path))
    }

    static func readText(path: String) throws(ConfigurationError) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigurationError(kind: .fileNotFound, key: path, message: "configuration file not found: \(path)")
        }
        if isDirectory.boolValue {
            throw unreadable(path, reason: "it is a directory")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw unreadable(path, reason: String(describing: error.localizedDescription))
        }
        guard data.count <= configurationFileBytesMax else {
            throw unreadable(path, reason: "it is \(data.count) bytes, more than \(configurationFileBytesMax)")
        }
        // Java's Properties.load(InputStream) reads ISO-8859-1; accept UTF-8 first and fall back to it,
        // so every byte sequence ZooKeeper accepts is accepted here too.
        if let text = String(data: data, encoding: .utf8) { return text }
        return String(decoding: data.map { UInt16($0) }, as: UTF16.self)
    }

    @inline(never)
    private static func unreadable(_ path: String, reason: String) -> ConfigurationError {
        ConfigurationError(
            kind: .fileUnreadable, key: path, message: "cannot read configuration file \(path): \(reason)")
    }
}
