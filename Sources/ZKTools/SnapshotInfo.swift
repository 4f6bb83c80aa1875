import ZKBase
import ZKFormat

/// One snapshot file and whether it passes the validity rule (FORMAT.md section 3).
public struct SnapshotInfo: Sendable {
    public var path: String
    public var name: String
    /// The start zxid S from the file name (nil for a file not named `snapshot.<zxid>`).
    public var nameZxid: Int64?
    public var sizeBytes: Int
    /// Set when the header could be read.
    public var header: SnapshotHeader?
    /// Set when the whole file is valid.
    public var trailer: SnapshotTrailer?
    /// Why it is not valid (without the path), when it is not.
    public var problem: String?

    public var isValid: Bool { trailer != nil }
    /// S: the header's start zxid, else the name's.
    public var startZxid: Int64 { header?.startZxid ?? nameZxid ?? 0 }
    /// E, when valid.
    public var endZxid: Int64? { trailer?.endZxid }

    /// Reads the whole file, streaming, checking the validity rule.
    public static func inspect(path: String) -> SnapshotInfo {
        let name = ToolFiles.name(path)
        var info = SnapshotInfo(
            path: path, name: name, nameZxid: SnapshotFiles.zxid(fromName: name), sizeBytes: ToolFiles.size(path) ?? 0)
        do throws(SnapshotError) {
            let reader = try SnapshotReader(path: path)
            info.header = reader.header
            _ = try reader.readSessions()
            while try reader.nextNode() != nil {}
            info.trailer = reader.trailer
        } catch {
            info.problem = reason(error)
        }
        return info
    }

    /// A SnapshotError's text without the `snapshot <path>: ` prefix (paths vary, names do not).
    static func reason(_ error: SnapshotError) -> String {
        let prefix = "snapshot \(error.path): "
        let text = error.description
        return text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text
    }

    /// `zxids 0x1..0x3  12 nodes  2 sessions  1234 bytes` or `INVALID: why`.
    public var summaryText: String {
        guard let trailer else { return "\(sizeBytes) bytes  INVALID: \(problem ?? "unknown")" }
        return "zxids \(ZxidMath.hex(startZxid))..\(ZxidMath.hex(trailer.endZxid))  \(trailer.nodeCount) nodes  "
            + "\(trailer.sessionCount) sessions  \(sizeBytes) bytes  valid"
    }

    public var json: JSONValue {
        var fields: [(String, JSONValue)] = [("name", .string(name)), ("startZxid", .zxid(startZxid))]
        if let trailer {
            fields += [
                ("endZxid", .zxid(trailer.endZxid)), ("nodes", .int(Int64(trailer.nodeCount))),
                ("sessions", .int(Int64(trailer.sessionCount))), ("digest", .hex(trailer.digest)),
            ]
        }
        fields += [("bytes", .int(sizeBytes)), ("valid", .bool(isValid))]
        if let problem { fields.append(("problem", .string(problem))) }
        return .fields(fields)
    }
}
