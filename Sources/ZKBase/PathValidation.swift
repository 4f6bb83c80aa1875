/// ZooKeeper's path rules (PathUtils.validatePath): absolute, no trailing slash, no empty,
/// "." or ".." components, no NUL or other forbidden characters.
public enum PathValidation {
    public static func isValid(_ path: String, isSequential: Bool = false) -> Bool {
        reasonInvalid(path, isSequential: isSequential) == nil
    }

    /// The reason a path is invalid, or nil. A sequential create may end with "/" (the counter is appended).
    public static func reasonInvalid(_ path: String, isSequential: Bool = false) -> String? {
        // Most paths are ASCII: check their bytes in place (for ASCII a byte is a scalar).
        let ascii = path.utf8.withContiguousStorageIfAvailable { bytes -> String?? in
            guard !bytes.contains(where: { $0 >= 0x80 }) else { return .none }
            return .some(reasonInvalid(count: bytes.count, isSequential: isSequential) { UInt32(bytes[$0]) })
        }
        if let ascii, let verdict = ascii { return verdict }
        let scalars = Array(path.unicodeScalars)
        return reasonInvalid(count: scalars.count, isSequential: isSequential) { scalars[$0].value }
    }

    /// ZooKeeper's PathUtils.validatePath over `count` scalars read by `scalar`; a sequential
    /// path is checked with a "1" appended, as ZooKeeper does.
    private static func reasonInvalid(count unsuffixed: Int, isSequential: Bool, _ scalarAt: (Int) -> UInt32) -> String? {
        let slash = UInt32(UInt8(ascii: "/")), dot = UInt32(UInt8(ascii: ".")), one = UInt32(UInt8(ascii: "1"))
        let count = isSequential ? unsuffixed + 1 : unsuffixed
        func at(_ index: Int) -> UInt32 { index == unsuffixed ? one : scalarAt(index) }
        if count == 0 { return "Path length must be > 0" }
        if at(0) != slash { return "Path must start with / character" }
        if count == 1 { return nil }
        if at(count - 1) == slash { return "Path must not end with / character" }
        var previous = slash
        for index in 1..<count {
            let scalar = at(index)
            if scalar == 0 { return "null character not allowed @\(index)" }
            if scalar == slash && previous == slash { return "empty node name specified @\(index)" }
            if scalar == dot && previous == dot {
                let before = index >= 2 ? at(index - 2) : slash
                let after = index + 1 < count ? at(index + 1) : slash
                if before == slash && after == slash { return "relative paths not allowed @\(index)" }
            } else if scalar == dot {
                let after = index + 1 < count ? at(index + 1) : slash
                if previous == slash && after == slash { return "relative paths not allowed @\(index)" }
            } else if isForbidden(scalar) {
                return "invalid character @\(index)"
            }
            previous = scalar
        }
        return nil
    }

    private static func isForbidden(_ value: UInt32) -> Bool {
        // Java checks UTF-16 code units: a scalar above the BMP is a surrogate pair there, and
        // surrogates (0xd800-0xdfff) are forbidden, so ZooKeeper rejects every such character.
        if value > 0xffff { return true }
        return (value > 0x0000 && value <= 0x001f) || (value >= 0x007f && value <= 0x009f)
            || (value >= 0xd800 && value <= 0xf8ff) || (value >= 0xfff0 && value <= 0xffff)
    }

    /// Parent of a valid path; "/" for top-level nodes.
    public static func parent(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "/" }
        if slash == path.utf8.startIndex { return "/" }
        return String(path[path.startIndex..<slash])
    }

    /// Last component of a valid path.
    public static func lastComponent(of path: String) -> Substring {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return Substring(path) }
        return path[path.utf8.index(after: slash)...]
    }

    public static func join(_ parent: String, _ child: some StringProtocol) -> String {
        parent == "/" ? "/" + child : parent + "/" + child
    }
}
