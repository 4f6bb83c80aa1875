extension JSONValue {
    /// The layout of Jackson's `DefaultPrettyPrinter` (`SerializationFeature.INDENT_OUTPUT`), which
    /// ZooKeeper's admin server uses: `"key" : value`, object members on their own lines indented
    /// two spaces per enclosing object, arrays on one line (`[ 1, 2 ]`), empty containers as
    /// `{ }` and `[ ]`, and no newline at the end.
    public var jacksonPretty: String {
        var out = ""
        writeJackson(into: &out, objectDepth: 0)
        return out
    }

    private func writeJackson(into out: inout String, objectDepth: Int) {
        switch self {
        case .null, .bool, .int, .double, .string:
            out += compact
        case .array(let elements):
            guard !elements.isEmpty else {
                out += "[ ]"
                return
            }
            out += "[ "
            for (index, element) in elements.enumerated() {
                if index > 0 { out += ", " }
                element.writeJackson(into: &out, objectDepth: objectDepth)
            }
            out += " ]"
        case .object(let members):
            guard !members.isEmpty else {
                out += "{ }"
                return
            }
            let indent = String(repeating: "  ", count: objectDepth + 1)
            out += "{"
            for (index, member) in members.enumerated() {
                out += index == 0 ? "\n" : ",\n"
                out += indent
                Self.writeString(member.key, into: &out)
                out += " : "
                member.value.writeJackson(into: &out, objectDepth: objectDepth + 1)
            }
            out += "\n" + String(repeating: "  ", count: objectDepth) + "}"
        }
    }
}
