/// Why a snapshot file could not be written or is not valid (FORMAT.md section 3). An invalid
/// snapshot is skipped at recovery and reported by `paddock data verify`; it is never modified.
public struct SnapshotError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// The first 8 bytes are not the snapshot magic.
        case badMagic
        case unknownVersion(UInt32)
        /// The file is too short for a header and a trailer, or ends without a trailer.
        case truncated
        /// Header fields a reader must reject: unknown compression, reserved not 0, a start zxid
        /// that differs from the one in the file name.
        case corruptHeader(String)
        /// The body does not decode (zlib error, bad length, stream too short or too long).
        case corruptStream(String)
        /// The trailer disagrees with what was read, or its own checksum fails.
        case trailerMismatch(String)
        /// A system call failed.
        case io(String)
    }

    public var path: String
    public var kind: Kind

    public init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }

    public var description: String { "snapshot \(path): \(reason)" }

    private var reason: String {
        switch kind {
        case .badMagic: return "bad magic (not a Paddock snapshot)"
        case .unknownVersion(let version): return "unknown snapshot format version \(version)"
        case .truncated: return "truncated (no complete header and trailer)"
        case .corruptHeader(let reason): return "corrupt header: \(reason)"
        case .corruptStream(let reason): return "corrupt stream: \(reason)"
        case .trailerMismatch(let reason): return "trailer mismatch: \(reason)"
        case .io(let reason): return "I/O error: \(reason)"
        }
    }
}
