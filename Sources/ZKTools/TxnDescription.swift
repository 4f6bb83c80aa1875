import ZKBase
import ZKWire

/// One txn as the dump shows it: the type name ZooKeeper prints, the path (when the txn has
/// one), and the other fields as `key=value` text and as JSON members. Pure.
public struct TxnDescription: Sendable {
    public var type: String
    public var path: String?
    public var details: [String]
    public var json: [(String, JSONValue)]

    public init(_ body: TxnBody) {
        type = body.opCode.displayName
        path = nil
        details = []
        json = []
        describe(body)
    }

    /// `type path details…` (a `-` stands for a missing path).
    public var text: String {
        ([type, path ?? "-"] + details).joined(separator: " ")
    }

    private mutating func describe(_ body: TxnBody) {
        switch body {
        case .create(let txn), .create2(let txn), .createContainer(let txn), .createTTL(let txn):
            describeCreate(body, txn)
        case .delete(let path), .deleteContainer(let path):
            self.path = path
        case .setData(let path, let data, let version):
            self.path = path
            details = ["data=\(ToolFormat.data(data))", "version=\(version)"]
            json = ToolFormat.dataJSON(data) + [("version", .int(Int64(version)))]
        case .setACL(let path, let acl, let version):
            self.path = path
            details = ["acl=\(ToolFormat.acl(acl))", "version=\(version)"]
            json = [("acl", ToolFormat.aclJSON(acl)), ("version", .int(Int64(version)))]
        case .check(let path, let version):
            self.path = path
            details = ["version=\(version)"]
            json = [("version", .int(Int64(version)))]
        case .createSession(let timeoutMs):
            details = ["timeout=\(timeoutMs)"]
            json = [("timeoutMs", .int(Int64(timeoutMs)))]
        case .closeSession(let paths):
            details = paths.isEmpty ? [] : ["ephemerals=[\(paths.joined(separator: ","))]"]
            json = [("ephemerals", .array(paths.map { .string($0) }))]
        case .error(let code):
            details = ["err=\(ToolFormat.error(code))"]
            json = [("err", .int(Int64(code.rawValue))), ("errName", .string("\(code)"))]
        case .multi(let txns):
            let parts = txns.map { TxnDescription($0) }
            details = ["\(txns.count) ops:"] + [parts.map(\.text).joined(separator: "; ")].filter { !$0.isEmpty }
            json = [("ops", .array(parts.map(\.jsonObject)))]
        }
    }

    private mutating func describeCreate(_ body: TxnBody, _ txn: CreateTxn) {
        path = txn.path
        details = ["data=\(ToolFormat.data(txn.data))", "acl=\(ToolFormat.acl(txn.acl))"]
        json = ToolFormat.dataJSON(txn.data) + [("acl", ToolFormat.aclJSON(txn.acl))]
        if case .create = body { details.append("ephemeral=\(txn.ephemeral)") }
        if case .create2 = body { details.append("ephemeral=\(txn.ephemeral)") }
        details.append("parentCVersion=\(txn.parentCVersion)")
        json.append(("ephemeral", .bool(txn.ephemeral)))
        json.append(("parentCVersion", .int(Int64(txn.parentCVersion))))
        if case .createTTL = body {
            details.append("ttl=\(txn.ttl)")
            json.append(("ttlMs", .int(txn.ttl)))
        }
    }

    /// `{"type": …, "path": …, details…}`.
    public var jsonObject: JSONValue {
        .fields([("type", .string(type)), ("path", .optional(path))] + json)
    }
}
