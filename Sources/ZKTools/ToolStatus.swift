/// The exit code of a tool: what a script can branch on.
public enum ToolStatus: Int32, Sendable, Equatable, Comparable {
    /// Nothing wrong (or the change was made).
    case healthy = 0
    /// Problems found, or a change was refused or declined: nothing was changed.
    case problems = 1
    /// Usage error, I/O error, or the data directory is locked by a running server.
    case failed = 2

    public static func < (left: ToolStatus, right: ToolStatus) -> Bool { left.rawValue < right.rawValue }
}

/// An operating error of a tool (exit 2): a message for the operator saying what and where.
public struct ToolError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Bad arguments (a zxid out of range, a file that is not what was expected).
        case usage
        /// A system call, LMDB or a file failed.
        case io
        /// `paddock.lock` is held: a server (or another tool) is using the data directory.
        case locked(pid: Int32?)
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public static func usage(_ message: String) -> ToolError { ToolError(.usage, message) }
    public static func io(_ message: String) -> ToolError { ToolError(.io, message) }

    public var description: String { message }
}
