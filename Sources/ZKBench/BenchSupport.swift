#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A benchmark that could not run (bad option, I/O failure); the message says what and where.
public struct BenchError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Called with one line of progress per measurement point (the CLI prints it to stderr).
public typealias BenchProgress = @Sendable (String) -> Void

// MARK: - Clock and statistics

/// CLOCK_MONOTONIC in nanoseconds.
func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

func seconds(since start: UInt64) -> Double { Double(monotonicNanoseconds() - start) / 1e9 }

/// Percentile `p` (0...100) of nanosecond samples, in microseconds (nearest rank, as the
/// storage-limits probes compute it). `samples` must be sorted.
func percentileMicroseconds(_ samples: [UInt64], _ p: Double) -> Double {
    guard !samples.isEmpty else { return 0 }
    let index = Int(p / 100 * Double(samples.count - 1) + 0.5)
    return Double(samples[min(index, samples.count - 1)]) / 1000
}

/// The 1, 5 and 15 minute load averages (zeros when unavailable).
public func loadAverages() -> [Double] {
    var values = [Double](repeating: 0, count: 3)
    let count = values.withUnsafeMutableBufferPointer { getloadavg($0.baseAddress!, 3) }
    return count == 3 ? values : [0, 0, 0]
}

/// xorshift64* (the generator of the storage-limits probes): deterministic data from a seed.
struct XorShift64Star {
    var state: UInt64

    init(seed: UInt64) { state = seed == 0 ? 0x9e37_79b9_7f4a_7c15 : seed }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 2_685_821_657_736_338_717
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

// MARK: - Files

/// The scratch directory of one run: `<base>/paddock-bench-XXXXXX`, removed with everything in it
/// by `remove()`. `base` is created when missing (and removed again if the run created it).
final class ScratchDirectory {
    let path: String
    private let createdBase: String?

    init(base requested: String?) throws {
        var base = requested ?? "./bench-data"
        var createdBase: String?
        if mkdir(base, 0o755) == 0 {
            createdBase = base
        } else if errno != EEXIST {
            guard requested == nil else { throw BenchError("cannot create \(base): \(String(cString: strerror(errno)))") }
            base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        }
        var template = Array((base + "/paddock-bench-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else {
            if let createdBase { rmdir(createdBase) }
            throw BenchError("cannot create a scratch directory in \(base): \(String(cString: strerror(errno)))")
        }
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        self.createdBase = createdBase
    }

    /// A new empty subdirectory.
    func subdirectory(_ name: String) throws -> String {
        let sub = path + "/" + name
        guard mkdir(sub, 0o755) == 0 else { throw BenchError("mkdir \(sub): \(String(cString: strerror(errno)))") }
        return sub
    }

    func remove() {
        removeTree(path)
        if let createdBase { rmdir(createdBase) }
    }
}

/// Deletes a file or a directory with everything below it (no symlinks are followed).
func removeTree(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if (info.st_mode & S_IFMT) == S_IFDIR {
        if let handle = opendir(path) {
            var names: [String] = []
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(handle)
            for name in names { removeTree(path + "/" + name) }
        }
        rmdir(path)
    } else {
        unlink(path)
    }
}

func fileSize(_ path: String) -> Int {
    var info = stat()
    return stat(path, &info) == 0 ? Int(info.st_size) : 0
}

func errnoText(_ operation: String, _ path: String) -> String {
    "\(operation) \(path): \(String(cString: strerror(errno)))"
}

/// Writes all of `bytes` (retrying short writes and EINTR).
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
    var offset = 0
    while offset < bytes.count {
        let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0 {
            if errno == EINTR { continue }
            throw BenchError(errnoText("write", path))
        }
        offset += written
    }
}

/// The whole file in memory.
func readWholeFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw BenchError(errnoText("open", path)) }
    defer { close(fd) }
    let size = fileSize(path)
    var bytes = [UInt8](repeating: 0, count: size)
    var done = 0
    try bytes.withUnsafeMutableBytes { raw in
        while done < size {
            let count = read(fd, raw.baseAddress! + done, size - done)
            if count < 0 {
                if errno == EINTR { continue }
                throw BenchError(errnoText("read", path))
            }
            if count == 0 { throw BenchError("\(path) shrank while being read") }
            done += count
        }
    }
    return bytes
}

// MARK: - Threads

private final class ThreadBody {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

/// A plain OS thread (a write transaction must begin and commit on one thread, so the bench
/// uses threads it owns rather than a pool). `join()` waits for it to end.
struct OSThread {
    private let thread: pthread_t

    init(_ body: @escaping @Sendable () -> Void) {
        let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        var thread = pthread_t()
        let code = pthread_create(&thread, nil, { raw in
            Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, context)
        precondition(code == 0, "pthread_create failed: \(code)")
        self.thread = thread
    }

    func join() { pthread_join(thread, nil) }
}

/// A pthread mutex with `conditions` condition variables (so a waker can wake exactly the
/// thread it means instead of every waiter).
final class Monitor: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let conditions: UnsafeMutablePointer<pthread_cond_t>
    private let conditionCount: Int

    init(conditions: Int = 1) {
        conditionCount = max(1, conditions)
        self.conditions = .allocate(capacity: conditionCount)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        for index in 0..<conditionCount {
            (self.conditions + index).initialize(to: pthread_cond_t())
            pthread_cond_init(self.conditions + index, nil)
        }
    }

    deinit {
        for index in 0..<conditionCount { pthread_cond_destroy(conditions + index) }
        pthread_mutex_destroy(mutex)
        conditions.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    /// Only with the mutex held.
    func wait(_ condition: Int = 0) { pthread_cond_wait(conditions + condition, mutex) }
    func signal(_ condition: Int) { pthread_cond_signal(conditions + condition) }
    func broadcast(_ condition: Int = 0) { pthread_cond_broadcast(conditions + condition) }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

// MARK: - Output

/// A JSON value whose objects keep their key order.
public indirect enum JSONValue: Sendable {
    case number(Double)
    case integer(Int)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public var rendered: String {
        switch self {
        case .integer(let value): return String(value)
        case .number(let value):
            guard value.isFinite else { return "null" }
            if value == value.rounded() && abs(value) < 1e15 { return String(Int(value)) }
            let rounded = (value * 1000).rounded() / 1000
            return rounded == 0 ? String(value) : String(rounded)
        case .string(let value): return Self.quote(value)
        case .array(let values): return "[" + values.map(\.rendered).joined(separator: ", ") + "]"
        case .object(let members):
            return "{" + members.map { Self.quote($0.0) + ": " + $0.1.rendered }.joined(separator: ", ") + "}"
        }
    }

    static func quote(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}

/// `value` with `decimals` digits after the point and thousands separators ("12,345.6").
func formatted(_ value: Double, _ decimals: Int = 0) -> String {
    guard value.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    let whole = Int(scaled / scale)
    let fraction = Int(scaled - Double(whole) * scale)
    var digits = String(whole)
    var grouped = ""
    while digits.count > 3 {
        grouped = "," + digits.suffix(3) + grouped
        digits.removeLast(3)
    }
    grouped = digits + grouped
    if decimals > 0 {
        let fractionText = String(fraction)
        grouped += "." + String(repeating: "0", count: decimals - fractionText.count) + fractionText
    }
    return (value < 0 && scaled != 0 ? "-" : "") + grouped
}

func percent(_ ratio: Double) -> String { formatted(ratio * 100, 0) + " %" }

/// An aligned text table: the first column left-aligned, the others right-aligned.
func renderTable(header: [String], rows: [[String]]) -> String {
    let all = [header] + rows
    let columns = all.map(\.count).max() ?? 0
    var widths = [Int](repeating: 0, count: columns)
    for row in all { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
    func line(_ row: [String]) -> String {
        var parts: [String] = []
        for index in 0..<columns {
            let cell = index < row.count ? row[index] : ""
            let pad = String(repeating: " ", count: widths[index] - cell.count)
            parts.append(index == 0 ? cell + pad : pad + cell)
        }
        var text = parts.joined(separator: "  ")
        while text.hasSuffix(" ") { text.removeLast() }
        return text
    }
    let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
    return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
}

func loadText(_ loads: [Double]) -> String { loads.map { formatted($0, 2) }.joined(separator: " ") }

// MARK: - Option parsing

/// Parsing of the bench commands' list and range options.
public enum BenchParsing {
    /// "100000,1000000", also "100k,1M".
    public static func counts(_ text: String) throws -> [Int] {
        try text.split(separator: ",").map { item in
            var digits = item.trimmingSpaces
            var multiplier = 1
            if let last = digits.last, "kKmM".contains(last) {
                multiplier = last == "k" || last == "K" ? 1000 : 1_000_000
                digits.removeLast()
            }
            guard let value = Int(digits), value > 0 else { throw BenchError("not a count: \(item)") }
            return value * multiplier
        }
    }

    /// "100..1000" (inclusive), or a single size.
    public static func byteRange(_ text: String) throws -> ClosedRange<Int> {
        let low: Int?
        let high: Int?
        if let dots = text.firstRange(of: "..") {
            low = Int(text[..<dots.lowerBound].trimmingSpaces)
            high = Int(text[dots.upperBound...].trimmingSpaces)
        } else {
            low = Int(text.trimmingSpaces)
            high = low
        }
        guard let low, let high, low >= 0, low <= high else { throw BenchError("not a byte range (like 100..1000): \(text)") }
        return low...high
    }
}

extension StringProtocol {
    var trimmingSpaces: String { String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed()) }
}
