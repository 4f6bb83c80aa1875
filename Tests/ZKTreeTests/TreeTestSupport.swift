import ZKBase
import ZKTree
import ZKWire

func txn(_ zxid: Int64, _ body: TxnBody, session: Int64 = 1, time: Int64 = 1000) -> Txn {
    Txn(header: TxnHeader(clientId: session, cxid: Int32(truncatingIfNeeded: zxid), zxid: zxid, time: time, type: body.opCode.rawValue), body: body)
}

func createTxn(_ path: String, _ data: String = "", parentCVersion: Int32, ephemeral: Bool = false, acl: [ACL] = ACL.openUnsafe, ttl: Int64 = 0) -> CreateTxn {
    CreateTxn(path: path, data: Array(data.utf8), acl: acl, ephemeral: ephemeral, parentCVersion: parentCVersion, ttl: ttl)
}

extension DataTree {
    /// Applies txns in order and returns every notification they produced.
    @discardableResult
    mutating func applyAll(_ txns: [Txn]) -> [WatchNotification] {
        var notifications: [WatchNotification] = []
        for txn in txns { _ = apply(txn, notifications: &notifications) }
        return notifications
    }

    func stat(_ path: String) -> Stat? { node(path)?.fullStat }
}

func events(_ notifications: [WatchNotification]) -> [String] {
    notifications.map { "\($0.watcher) \(eventName($0.event.type)) \($0.event.path)" }
}

func eventName(_ raw: Int32) -> String {
    switch EventType(rawValue: raw) {
    case .nodeCreated: return "NodeCreated"
    case .nodeDeleted: return "NodeDeleted"
    case .nodeDataChanged: return "NodeDataChanged"
    case .nodeChildrenChanged: return "NodeChildrenChanged"
    default: return "type\(raw)"
    }
}
