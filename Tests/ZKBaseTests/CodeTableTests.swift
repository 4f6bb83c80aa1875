import Testing
import ZKBase

/// Wire values listed by ZooKeeper 3.8.0 (KeeperException.Code, ZooDefs.OpCode, Watcher.Event, CreateMode).
@Suite struct CodeTableTests {
    @Test func errorCodesMatchZooKeeper() {
        let zookeeper: [String: Int32] = [
            "ok": 0, "systemError": -1, "runtimeInconsistency": -2, "dataInconsistency": -3, "connectionLoss": -4,
            "marshallingError": -5, "unimplemented": -6, "operationTimeout": -7, "badArguments": -8,
            "newConfigNoQuorum": -13, "reconfigInProgress": -14, "unknownSession": -12, "apiError": -100,
            "noNode": -101, "noAuth": -102, "badVersion": -103, "noChildrenForEphemerals": -108, "nodeExists": -110,
            "notEmpty": -111, "sessionExpired": -112, "invalidCallback": -113, "invalidACL": -114, "authFailed": -115,
            "sessionMoved": -118, "notReadOnly": -119, "ephemeralOnLocalSession": -120, "noWatcher": -121,
            "requestTimeout": -122, "reconfigDisabled": -123, "sessionClosedRequireSaslAuth": -124,
            "quotaExceeded": -125, "throttledOp": -127,
        ]
        #expect(ErrorCode.allCases.count == zookeeper.count)
        for code in ErrorCode.allCases {
            #expect(zookeeper["\(code)"] == code.rawValue, "\(code)")
        }
    }

    @Test func opCodesMatchZooKeeper() {
        let zookeeper: [String: Int32] = [
            "notification": 0, "create": 1, "delete": 2, "exists": 3, "getData": 4, "setData": 5, "getACL": 6,
            "setACL": 7, "getChildren": 8, "sync": 9, "ping": 11, "getChildren2": 12, "check": 13, "multi": 14,
            "create2": 15, "reconfig": 16, "checkWatches": 17, "removeWatches": 18, "createContainer": 19,
            "deleteContainer": 20, "createTTL": 21, "multiRead": 22, "auth": 100, "setWatches": 101, "sasl": 102,
            "getEphemerals": 103, "getAllChildrenNumber": 104, "setWatches2": 105, "addWatch": 106, "whoAmI": 107,
            "createSession": -10, "closeSession": -11, "error": -1,
        ]
        #expect(OpCode.allCases.count == zookeeper.count)
        for code in OpCode.allCases {
            #expect(zookeeper["\(code)"] == code.rawValue, "\(code)")
        }
    }

    @Test func writeOpCodes() {
        let writes: Set<OpCode> = [
            .create, .create2, .createContainer, .createTTL, .delete, .deleteContainer, .setData, .setACL, .check,
            .multi, .reconfig, .createSession, .closeSession,
        ]
        for code in OpCode.allCases { #expect(code.isWrite == writes.contains(code), "\(code)") }
    }

    @Test func eventTypesAndStates() {
        #expect(EventType.none.rawValue == -1)
        #expect(EventType.nodeCreated.rawValue == 1)
        #expect(EventType.nodeDeleted.rawValue == 2)
        #expect(EventType.nodeDataChanged.rawValue == 3)
        #expect(EventType.nodeChildrenChanged.rawValue == 4)
        #expect(EventType.persistentWatchRemoved.rawValue == 7)
        #expect(KeeperState.syncConnected.rawValue == 3)
        #expect(KeeperState.expired.rawValue == -112)
        #expect(KeeperState.closed.rawValue == 7)
    }

    @Test func createModes() {
        #expect(CreateMode.allCases.map(\.rawValue) == [0, 1, 2, 3, 4, 5, 6])
        #expect(CreateMode.allCases.filter(\.isEphemeral) == [.ephemeral, .ephemeralSequential])
        #expect(CreateMode.allCases.filter(\.isSequential) == [.persistentSequential, .ephemeralSequential, .persistentSequentialWithTTL])
        #expect(CreateMode.allCases.filter(\.isTTL) == [.persistentWithTTL, .persistentSequentialWithTTL])
        #expect(CreateMode.allCases.filter(\.isContainer) == [.container])
    }

    @Test func permissions() {
        #expect(Perms.all.rawValue == 31)
        #expect(Perms([.read, .admin]).rawValue == 17)
        #expect(ACL.openUnsafe == [ACL(perms: .all, id: Id(scheme: "world", id: "anyone"))])
    }
}
