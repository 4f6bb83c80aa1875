/// ZooKeeper's path rules (PathUtils.validatePath): absolute, no trailing slash, no empty,
/// "." or ".." components, no NUL or other forbidden characters.
public enum PathValidation {
    public static func isValid(_ path: String, isSequential: Bool = false) -> Bool {
        reasonInvalid(path, isSequential: isSequential) == nil
    }

    /// The reason a path is invalid, or nil. A sequential create may end with "/" (the counter is appended).
    public static func reasonInvalid(_ path: String, isSequential: Bool = false) -> String? {
        let checked = isSequential ? path + "1" : path
        let scalars = Array(checked.unicodeScalars)
        if scalars.isEmpty { return "Path length must be > 0" }
        if scalars[0] != "/" { return "Path must start with / character" }
        if scalars.count == 1 { return nil }
        if scalars[scalars.count - 1] == "/" { return "Path must not end with / character" }
        var previous: Unicode.Scalar = "/"
        for index in 1..<scalars.count {
            let scalar = scalars[index]
            if scalar == "\0" { return "null character not allowed @\(index)" }
            if scalar == "/" && previous == "/" { return "empty node name specified @\(index)" }
            if scalar == "." && previous == "." {
                let before = index >= 2 ? scalars[index - 2] : "/"
                let after: Unicode.Scalar = index + 1 < scalars.count ? scalars[index + 1] : "/"
                if before == "/" && after == "/" { return "relative paths not allowed @\(index)" }
            } else if scalar == "." {
                let after: Unicode.Scalar = index + 1 < scalars.count ? scalars[index + 1] : "/"
                if previous == "/" && after == "/" { return "relative paths not allowed @\(index)" }
            } else if isForbidden(scalar) {
                return "invalid character @\(index)"
            }
            previous = scalar
        }
        return nil
    }

    private static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
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
