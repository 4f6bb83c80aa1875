/// The subset of `java.util.Properties.load` that zoo.cfg relies on, rule for rule:
///
/// - Natural lines end at `\n`, `\r\n` or `\r`. Leading spaces, tabs and form feeds are skipped.
/// - A logical line whose first character is `#` or `!` is a comment; blank lines are ignored.
///   A comment never continues, even if it ends with a backslash.
/// - An odd number of trailing backslashes joins the next natural line, minus its leading whitespace.
/// - The key ends at the first unescaped `=`, `:`, space, tab or form feed. Whitespace, one optional
///   `=` or `:`, and more whitespace follow; the rest of the line is the value.
/// - Escapes `\t \n \r \f \uXXXX` are decoded (surrogate pairs combine); `\x` for any other x is x.
///
/// Entries come back in file order with duplicates kept; later keys override earlier ones only when
/// the caller folds them (`ServerConfiguration.parse` does). One deliberate difference: Java reads a
/// properties stream as ISO-8859-1, this reads Swift `String`s (UTF-8 files).
public enum PropertiesFormat {
    public static func entries(in text: String) throws(ConfigurationError) -> [ConfigurationEntry] {
        var entries: [ConfigurationEntry] = []
        for logicalLine in logicalLines(in: text) {
            entries.append(try entry(from: logicalLine.scalars, line: logicalLine.line))
        }
        return entries
    }

    struct LogicalLine {
        var scalars: [Unicode.Scalar]
        var line: Int
    }

    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "\u{0C}"
    }

    /// Joins continuations and drops comments and blank lines.
    static func logicalLines(in text: String) -> [LogicalLine] {
        var result: [LogicalLine] = []
        var pending: LogicalLine? = nil
        for (offset, natural) in naturalLines(in: text).enumerated() {
            var scalars = natural.drop(while: isWhitespace)
            if pending == nil {
                guard let first = scalars.first, first != "#", first != "!" else { continue }
            }
            let continues = trailingBackslashCount(scalars) % 2 == 1
            if continues { scalars = scalars.dropLast() }
            var current = pending ?? LogicalLine(scalars: [], line: offset + 1)
            current.scalars.append(contentsOf: scalars)
            if continues {
                pending = current
            } else {
                result.append(current)
                pending = nil
            }
        }
        if let pending { result.append(pending) }
        return result
    }

    static func naturalLines(in text: String) -> [[Unicode.Scalar]] {
        var lines: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        var previousWasCarriageReturn = false
        for scalar in text.unicodeScalars {
            if scalar == "\n" && previousWasCarriageReturn {
                previousWasCarriageReturn = false
                continue
            }
            previousWasCarriageReturn = scalar == "\r"
            if scalar == "\n" || scalar == "\r" {
                lines.append(current)
                current = []
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    static func trailingBackslashCount(_ scalars: ArraySlice<Unicode.Scalar>) -> Int {
        var count = 0
        for scalar in scalars.reversed() {
            guard scalar == "\\" else { break }
            count += 1
        }
        return count
    }

    /// Splits a logical line into key and value exactly as `Properties.load0` does.
    static func entry(from scalars: [Unicode.Scalar], line: Int) throws(ConfigurationError) -> ConfigurationEntry {
        var keyEnd = 0
        var valueStart = scalars.count
        var hasSeparator = false
        var precedingBackslash = false
        while keyEnd < scalars.count {
            let scalar = scalars[keyEnd]
            if (scalar == "=" || scalar == ":") && !precedingBackslash {
                valueStart = keyEnd + 1
                hasSeparator = true
                break
            }
            if isWhitespace(scalar) && !precedingBackslash {
                valueStart = keyEnd + 1
                break
            }
            precedingBackslash = scalar == "\\" ? !precedingBackslash : false
            keyEnd += 1
        }
        while valueStart < scalars.count {
            let scalar = scalars[valueStart]
            if !isWhitespace(scalar) {
                guard !hasSeparator && (scalar == "=" || scalar == ":") else { break }
                hasSeparator = true
            }
            valueStart += 1
        }
        let key = try unescape(scalars[0..<keyEnd], line: line, keyForErrors: nil)
        let value = try unescape(scalars[valueStart...], line: line, keyForErrors: key)
        return ConfigurationEntry(key: key, value: value, line: line)
    }

    /// Decodes backslash escapes (`Properties.loadConvert`).
    static func unescape(
        _ scalars: ArraySlice<Unicode.Scalar>, line: Int, keyForErrors: String?
    ) throws(ConfigurationError) -> String {
        var units: [UInt16] = []
        var index = scalars.startIndex
        while index < scalars.endIndex {
            let scalar = scalars[index]
            index += 1
            guard scalar == "\\", index < scalars.endIndex else {
                units.append(contentsOf: scalar.utf16)
                continue
            }
            let escaped = scalars[index]
            index += 1
            switch escaped {
            case "t": units.append(0x09)
            case "n": units.append(0x0A)
            case "r": units.append(0x0D)
            case "f": units.append(0x0C)
            case "u":
                guard let unit = hexUnit(scalars, at: index) else {
                    throw malformedEscape(scalars, line: line, keyForErrors: keyForErrors)
                }
                units.append(unit)
                index += 4
            default: units.append(contentsOf: escaped.utf16)
            }
        }
        return String(decoding: units, as: UTF16.self)
    }

    static func hexUnit(_ scalars: ArraySlice<Unicode.Scalar>, at start: Int) -> UInt16? {
        guard start + 4 <= scalars.endIndex else { return nil }
        var unit: UInt16 = 0
        for scalar in scalars[start..<(start + 4)] {
            guard scalar.isASCII, let digit = UInt16(String(scalar), radix: 16) else { return nil }
            unit = unit << 4 | digit
        }
        return unit
    }

    @inline(never)
    static func malformedEscape(
        _ scalars: ArraySlice<Unicode.Scalar>, line: Int, keyForErrors: String?
    ) -> ConfigurationError {
        var text = ""
        text.unicodeScalars.append(contentsOf: scalars)
        let location = keyForErrors.map { "the value of \($0)" } ?? "a key"
        return ConfigurationError(
            kind: .malformedText, key: keyForErrors ?? text,
            message: "malformed \\uXXXX escape in \(location): \(ConfigurationError.quoted(text))",
            line: line)
    }
}
