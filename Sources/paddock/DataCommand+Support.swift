import ArgumentParser
import Glibc
import ZKBase
import ZKTools

/// Shared plumbing of the `data` and `snapshot` tools: output, exit codes (0 healthy, 1
/// problems, 2 usage or I/O error), confirmation, zxid arguments, the clock.
///
/// Positional arguments and required options are declared optional and checked in `run()`, so
/// a missing one exits 2 like every other usage error (ArgumentParser itself would exit 64);
/// each command states its real usage line in its configuration.
enum ToolCommandSupport {
    /// Runs a tool body: a ToolError is printed to stderr and exits 2.
    static func run(_ command: String, _ body: () throws(ToolError) -> ToolStatus) throws {
        let status: ToolStatus
        do {
            status = try body()
        } catch {
            writeError("\(command): \(error.message)")
            throw ExitCode(ToolStatus.failed.rawValue)
        }
        if status != .healthy { throw ExitCode(status.rawValue) }
    }

    static func emit(_ text: String) {
        print(text)
    }

    static func emit(json: JSONValue) {
        print(json.pretty)
    }

    static func writeError(_ text: String) {
        fflush(nil)
        let bytes = Array((text + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// A missing argument: usage error, exit 2.
    static func require<T>(_ value: T?, _ what: String, usage: String) throws(ToolError) -> T {
        guard let value else { throw .usage("missing \(what)\nusage: \(usage)") }
        return value
    }

    /// `0x100000005` (hex), `4294967301` (decimal) or `1:5` (epoch:counter).
    static func zxid(_ text: String?, option: String) throws(ToolError) -> Int64? {
        guard let text else { return nil }
        let value: Int64?
        if text.hasPrefix("0x") || text.hasPrefix("0X") {
            value = UInt64(text.dropFirst(2), radix: 16).flatMap { $0 <= UInt64(Int64.max) ? Int64($0) : nil }
        } else if let colon = text.firstIndex(of: ":") {
            let epoch = Int64(text[..<colon])
            let counter = Int64(text[text.index(after: colon)...])
            if let epoch, let counter, epoch >= 0, epoch <= Int64(Int32.max), counter >= 0, counter <= 0xffff_ffff {
                value = ZxidMath.make(epoch: epoch, counter: counter)
            } else {
                value = nil
            }
        } else {
            value = Int64(text)
        }
        guard let value, value >= 0 else {
            throw .usage("\(option) \(text) is not a zxid (use hex 0x100000005, decimal, or epoch:counter like 1:5)")
        }
        return value
    }

    /// Asks on stderr (stdout may carry JSON) and reads a line from stdin: only y/yes proceeds.
    static func confirm(_ question: String, assumeYes: Bool) -> Bool {
        if assumeYes { return true }
        fflush(nil)
        let prompt = Array("\(question) [y/N] ".utf8)
        _ = prompt.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        guard let answer = readLine() else {
            writeError("")
            return false
        }
        let normalized = answer.trimmingCharacters(in: " \t\r").lowercased()
        return normalized == "y" || normalized == "yes"
    }

    /// Wall-clock milliseconds (backup directory names, manifests).
    static func nowMs() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}

extension String {
    fileprivate func trimmingCharacters(in characters: String) -> String {
        let set = Set(characters)
        var slice = self[...]
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}

/// Options every data-directory command takes.
struct DataDirectoryOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("The data directory (dataDir).", valueName: "dir"))
    var directory: String?

    @Option(name: .customLong("data-log-dir"), help: ArgumentHelp(
        "The dataLogDir, when the log lives apart from dataDir.", valueName: "dir"))
    var dataLogDirectory: String?

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false
}

/// Flags of the commands that change a data directory.
struct ChangeOptions: ParsableArguments {
    @Flag(name: .long, help: "Do not ask for confirmation.")
    var yes = false

    @Flag(name: .customLong("dry-run"), help: "Only show what would be done.")
    var dryRun = false
}
