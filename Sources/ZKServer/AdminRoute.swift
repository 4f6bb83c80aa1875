import NIOHTTP1

/// Where a request goes, decided from its head alone (pure: tested without sockets).
enum AdminRoute: Equatable, Sendable {
    /// `<commandURL>` or `<commandURL>/`: the links to every command.
    case listing
    /// `<commandURL>/<name>`, percent-decoded (ZooKeeper's servlet path info); may be unknown.
    case command(String)
    case notFound
    /// ZooKeeper's servlet implements GET only (HEAD follows it, without the body).
    case methodNotAllowed
    case badRequest
    case uriTooLong

    static func of(method: HTTPMethod, uri: String, commandURL: String, limits: AdminServerLimits) -> AdminRoute {
        guard uri.utf8.count <= limits.uriBytesMax else { return .uriTooLong }
        guard method == .GET || method == .HEAD else { return .methodNotAllowed }
        let rawPath = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard let path = percentDecoded(rawPath), path.hasPrefix("/") else { return .badRequest }
        // Jetty resolves dot segments before mapping; a path that climbs out is refused.
        if path.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }) { return .badRequest }
        if path == commandURL || path == commandURL + "/" { return .listing }
        let prefix = commandURL == "/" ? "/" : commandURL + "/"
        guard path.hasPrefix(prefix) else { return .notFound }
        return .command(String(path.dropFirst(prefix.count)))
    }

    /// `%XX` escapes decoded as UTF-8; nil for a malformed escape or bytes that are not UTF-8.
    static func percentDecoded(_ text: String) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
