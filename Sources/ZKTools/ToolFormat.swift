import ZKBase
import ZKWire

/// How the tools print values: zxids and ids in hex as ZooKeeper's tools do, times as UTC
/// ISO 8601 (no time zone or locale reaches the output), data as quoted text when it is
/// printable UTF-8 and as hex otherwise. Pure.
public enum ToolFormat {
    /// Data bytes shown on one line before the rest is elided.
    public static let dataBytesShownMax = 64

    public static func zxid(_ zxid: Int64) -> String { ZxidMath.hex(zxid) }

    /// `1 txn`, `2 txns`.
    public static func count(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }
    public static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
    public static func hex(_ value: Int64) -> String { hex(UInt64(bitPattern: value)) }
    public static func hex(_ value: Int32) -> String { "0x" + String(UInt32(bitPattern: value), radix: 16) }

    /// Milliseconds since 1970 as `2023-11-14T22:13:20.000Z` (proleptic Gregorian, UTC).
    public static func time(ms: Int64) -> String {
        let (days, msOfDay) = floorDivide(ms, 86_400_000)
        let (year, month, day) = civil(fromDays: days)
        let seconds = msOfDay / 1000
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2))"
            + ":\(pad(seconds % 60, 2)).\(pad(msOfDay % 1000, 3))Z"
    }

    /// `20231114T221320Z`: a backup directory's time stamp (sorts by time, no separators).
    public static func compactTime(ms: Int64) -> String {
        let full = time(ms: ms)
        return String(full.prefix(19).filter { $0 != "-" && $0 != ":" }) + "Z"
    }

    static func floorDivide(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        let quotient = value >= 0 ? value / divisor : (value - divisor + 1) / divisor
        return (quotient, value - quotient * divisor)
    }

    /// Howard Hinnant's days-to-civil algorithm.
    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    // MARK: - Data

    /// `null`, `"text"` (escaped) or `0x0102…`, elided after `limit` bytes with the total length.
    public static func data(_ bytes: [UInt8]?, limit: Int? = dataBytesShownMax) -> String {
        guard let bytes else { return "null" }
        let shown = limit.map { Array(bytes.prefix($0)) } ?? bytes
        let rest = bytes.count - shown.count
        let suffix = rest > 0 ? "...(\(bytes.count) bytes)" : ""
        if let text = printableText(shown, allowCutTail: rest > 0) { return quoted(text) + suffix }
        return "0x" + shown.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined() + suffix
    }

    /// The bytes as a String when they are valid UTF-8 without control characters. With
    /// `allowCutTail`, up to 3 bytes at the end may be dropped (elided data cut inside a character).
    static func printableText(_ bytes: [UInt8], allowCutTail: Bool = false) -> String? {
        var candidate = bytes[...]
        var text = validUTF8(candidate)
        if allowCutTail {
            for _ in 0..<3 where text == nil && !candidate.isEmpty {
                candidate = candidate.dropLast()
                text = validUTF8(candidate)
            }
        }
        guard let text else { return nil }
        let control = text.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || $0.value == 0x7f }
        return control ? nil : text
    }

    static func validUTF8(_ bytes: ArraySlice<UInt8>) -> String? {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var text = String.UnicodeScalarView()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): text.append(scalar)
            case .emptyInput: return String(text)
            case .error: return nil
            }
        }
    }

    static func quoted(_ text: String) -> String {
        var out = ""
        JSONValue.writeString(text, into: &out)
        return out
    }

    /// Standard base64 with padding (JSON `dataBase64`).
    public static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            let value = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * UInt32($1.offset)) }
            for position in 0..<4 {
                out.append(position <= chunk.count ? alphabet[Int(value >> (18 - 6 * UInt32(position)) & 63)] : UInt8(ascii: "="))
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Data in JSON: length, base64 and (when printable) the text; null data is `null`.
    static func dataJSON(_ bytes: [UInt8]?) -> [(String, JSONValue)] {
        guard let bytes else { return [("dataLength", .int(0)), ("data", .null)] }
        var fields: [(String, JSONValue)] = [("dataLength", .int(bytes.count)), ("dataBase64", .string(base64(bytes)))]
        if let text = printableText(bytes) { fields.append(("dataText", .string(text))) }
        return fields
    }

    // MARK: - ACLs, errors

    /// ZooKeeper's `cdrwa` letters.
    public static func perms(_ perms: Perms) -> String {
        let letters: [(Perms, Character)] = [(.create, "c"), (.delete, "d"), (.read, "r"), (.write, "w"), (.admin, "a")]
        let shown = String(letters.compactMap { perms.contains($0.0) ? $0.1 : nil })
        return shown.isEmpty ? "-" : shown
    }

    /// `world:anyone=cdrwa,digest:user:hash=r`.
    public static func acl(_ acl: [ACL]) -> String {
        acl.isEmpty ? "[]" : acl.map { "\($0.id.scheme):\($0.id.id)=\(perms($0.perms))" }.joined(separator: ",")
    }

    static func aclJSON(_ acl: [ACL]) -> JSONValue {
        .array(acl.map { .fields(("scheme", .string($0.id.scheme)), ("id", .string($0.id.id)), ("perms", .string(perms($0.perms)))) })
    }

    /// `nodeExists (-110)`.
    public static func error(_ code: ErrorCode) -> String { "\(code) (\(code.rawValue))" }

    /// A session id (`ephemeralOwner`), with the markers containers and TTL nodes use.
    public static func owner(_ owner: Int64) -> String {
        if owner == EphemeralOwner.container { return "container" }
        if EphemeralOwner.isTTL(owner) { return "ttl:\(EphemeralOwner.ttlValue(owner))ms" }
        return hex(owner)
    }
}
