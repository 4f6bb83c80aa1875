import ZKBase

/// A JSON document with ordered object members, so `--json` output is byte-for-byte stable
/// (golden files) and keys come out in the order a reader expects. 64-bit ids, zxids and
/// digests are written as hex strings ("0x…"): JSON numbers lose precision past 2^53.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    /// A JSON number with a fraction (ZooKeeper's averages); non-finite values are written as null.
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    public static func zxid(_ zxid: Int64) -> JSONValue { .string(ZxidMath.hex(zxid)) }
    public static func hex(_ value: UInt64) -> JSONValue { .string(ToolFormat.hex(value)) }
    public static func int(_ value: Int) -> JSONValue { .int(Int64(value)) }
    public static func optional(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }

    /// Compact, one line (JSON Lines output).
    public var compact: String {
        var out = ""
        write(into: &out, indent: nil, depth: 0)
        return out
    }

    /// Indented by two spaces, for single-document reports.
    public var pretty: String {
        var out = ""
        write(into: &out, indent: "  ", depth: 0)
        return out
    }

    private func write(into out: inout String, indent: String?, depth: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .int(let value): out += String(value)
        case .double(let value): out += Self.numberText(value)
        case .string(let value): Self.writeString(value, into: &out)
        case .array(let elements):
            writeContainer(elements.map { (nil, $0) }, open: "[", close: "]", into: &out, indent: indent, depth: depth)
        case .object(let members):
            writeContainer(members.map { ($0.key, $0.value) }, open: "{", close: "}", into: &out, indent: indent, depth: depth)
        }
    }

    private func writeContainer(
        _ items: [(String?, JSONValue)], open: String, close: String, into out: inout String, indent: String?, depth: Int
    ) {
        out += open
        guard !items.isEmpty else {
            out += close
            return
        }
        for (index, item) in items.enumerated() {
            if index > 0 { out += "," }
            if let indent { out += "\n" + String(repeating: indent, count: depth + 1) }
            if let key = item.0 {
                Self.writeString(key, into: &out)
                out += indent == nil ? ":" : ": "
            }
            item.1.write(into: &out, indent: indent, depth: depth + 1)
        }
        if let indent { out += "\n" + String(repeating: indent, count: depth) }
        out += close
    }

    /// Java's `Double.toString` for the values ZooKeeper reports ("0.0", "22.2"); exponents as
    /// Swift writes them (valid JSON); NaN and infinities have no JSON form and become null.
    static func numberText(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        return "\(value)"
    }

    static func writeString(_ value: String, into out: inout String) {
        out += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    let digits = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

/// One `"key": value` of a JSON object.
public struct JSONMember: Sendable, Equatable {
    public var key: String
    public var value: JSONValue

    public init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}

extension JSONValue {
    /// `.object` from (key, value) pairs, keeping their order.
    public static func fields(_ pairs: (String, JSONValue)...) -> JSONValue {
        .object(pairs.map { JSONMember($0.0, $0.1) })
    }

    public static func fields(_ pairs: [(String, JSONValue)]) -> JSONValue {
        .object(pairs.map { JSONMember($0.0, $0.1) })
    }

    /// This object with one more member at the end (unchanged when `member` is nil).
    public func adding(_ member: (String, JSONValue)?) -> JSONValue {
        guard let member, case .object(let members) = self else { return self }
        return .object(members + [JSONMember(member.0, member.1)])
    }
}
