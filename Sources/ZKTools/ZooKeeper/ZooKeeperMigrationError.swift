/// Why an import from or export to Apache ZooKeeper files stopped: what is wrong, and where.
///
/// `corrupt` and `inconsistent` are problems in the data (exit 1: ZooKeeper itself would refuse
/// the same files, or replay would not give ZooKeeper's tree); `io` and `usage` are operating
/// errors (exit 2: a path cannot be read or written, a refused target).
public struct ZooKeeperMigrationError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// A file fails ZooKeeper's own checks (magic, Adler32, structure), at `offset`.
        case corrupt
        /// The files are readable but do not add up (a log gap, a digest mismatch).
        case inconsistent
        /// A system call failed.
        case io
        /// The request was refused (non-empty target without --force, missing directory).
        case usage
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// `paddock data` exit codes: 1 problems found in the data, 2 usage or I/O error.
    public var exitCode: Int32 { kind == .corrupt || kind == .inconsistent ? 1 : 2 }

    public var description: String { message }

    static func corrupt(_ path: String, offset: Int64, _ what: String) -> ZooKeeperMigrationError {
        ZooKeeperMigrationError(.corrupt, "\(path): \(what) at offset \(offset)")
    }
}
