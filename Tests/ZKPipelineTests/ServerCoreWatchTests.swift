import Testing
import ZKBase
import ZKPipeline
import ZKTree
import ZKWire

@Suite struct ServerCoreWatchTests {
    @Test func setWatchesFiresForWhatChangedSinceRelativeZxid() throws {
        var harness = CoreHarness()
        _ = harness.session(1)
        _ = harness.call(1, 1, create("/changed"))          // zxid 2
        _ = harness.call(1, 2, create("/same"))             // zxid 3
        _ = harness.call(1, 3, create("/parent"))           // zxid 4
        let relativeZxid = harness.core.lastProcessedZxid
        _ = harness.call(1, 4, .setData(path: "/changed", data: [1], version: -1))   // zxid 5
        _ = harness.call(1, 5, create("/parent/kid"))       // zxid 6
        _ = harness.call(1, 6, create("/appeared"))         // zxid 7
        _ = harness.session(2)
        let watches = SetWatchesRequest(
            relativeZxid: relativeZxid, dataWatches: ["/changed", "/same", "/gone"], existWatches: ["/appeared", "/absent"],
            childWatches: ["/parent", "/same"])
        let outputs = harness.send(2, SpecialXid.setWatches, .setWatches(opCode: .setWatches, watches))
        #expect(outputs.events(2) == [
            "nodeDataChanged /changed", "nodeDeleted /gone", "nodeCreated /appeared", "nodeChildrenChanged /parent",
        ])
        #expect(outputs.reply(2, xid: SpecialXid.setWatches)?.header.err == 0)
        // The unchanged ones are registered and fire later.
        #expect(harness.call(1, 7, .setData(path: "/same", data: [2], version: -1)).events(2) == ["nodeDataChanged /same"])
        #expect(harness.call(1, 8, create("/absent")).events(2) == ["nodeCreated /absent"])
        #expect(harness.call(1, 9, create("/same/kid")).events(2) == ["nodeChildrenChanged /same"])
        #expect(harness.call(1, 10, .setData(path: "/changed", data: [3], version: -1)).events(2).isEmpty, "fired watches are not re-registered")
    }

    @Test func setWatches2RegistersPersistentWatches() {
        var harness = CoreHarness()
        _ = harness.session(1)
        _ = harness.call(1, 1, create("/p"))
        _ = harness.session(2)
        let watches = SetWatchesRequest(relativeZxid: harness.core.lastProcessedZxid, persistentWatches: ["/p"], persistentRecursiveWatches: ["/r"])
        #expect(harness.send(2, SpecialXid.setWatches, .setWatches(opCode: .setWatches2, watches)).events(2).isEmpty)
        #expect(harness.call(1, 2, .setData(path: "/p", data: [1], version: -1)).events(2) == ["nodeDataChanged /p"])
        #expect(harness.call(1, 3, .setData(path: "/p", data: [2], version: -1)).events(2) == ["nodeDataChanged /p"])
        #expect(harness.call(1, 4, create("/r")).events(2) == ["nodeCreated /r"])
        #expect(harness.call(1, 5, create("/r/deep")).events(2) == ["nodeCreated /r/deep"])
    }

    @Test func addWatchPersistentRecursive() {
        var harness = CoreHarness()
        _ = harness.session(1)
        _ = harness.call(1, 1, create("/g"))
        let added = harness.send(1, 2, .addWatch(path: "/g", mode: AddWatchMode.persistentRecursive.rawValue))
        #expect(added.reply(1, xid: 2)?.body == .errorResponse(0))
        var outputs = harness.call(1, 3, create("/g/kid"))
        outputs += harness.call(1, 4, .setData(path: "/g/kid", data: [1], version: -1))
        outputs += harness.call(1, 5, .delete(path: "/g/kid", version: -1))
        // As Fixtures/notification_persistent_recursive.hex: no NodeChildrenChanged for recursive watches.
        #expect(outputs.events(1) == ["nodeCreated /g/kid", "nodeDataChanged /g/kid", "nodeDeleted /g/kid"])
        #expect(harness.send(1, 6, .removeWatches(path: "/g", type: WatcherType.any.rawValue)).error(1, xid: 6) == .ok)
        #expect(harness.call(1, 7, create("/g/again")).events(1).isEmpty)
    }

    @Test func addWatchPersistentSeesChildrenChanged() {
        var harness = CoreHarness()
        _ = harness.session(1)
        _ = harness.call(1, 1, create("/g"))
        _ = harness.send(1, 2, .addWatch(path: "/g", mode: AddWatchMode.persistent.rawValue))
        var outputs = harness.call(1, 3, create("/g/a"))
        outputs += harness.call(1, 4, create("/g/b"))
        outputs += harness.call(1, 5, .setData(path: "/g/a", data: [1], version: -1))
        outputs += harness.call(1, 6, .setData(path: "/g", data: [1], version: -1))
        #expect(outputs.events(1) == ["nodeChildrenChanged /g", "nodeChildrenChanged /g", "nodeDataChanged /g"])
    }

    @Test func removeWatchesSendsNoEventAndThenReportsNoWatcher() {
        var harness = CoreHarness()
        _ = harness.session(1)
        _ = harness.call(1, 1, create("/w"))
        _ = harness.send(1, 2, .getData(path: "/w", watch: true))
        #expect(harness.send(1, 3, .checkWatches(path: "/w", type: WatcherType.data.rawValue)).error(1, xid: 3) == .ok)
        let removed = harness.send(1, 4, .removeWatches(path: "/w", type: WatcherType.any.rawValue))
        #expect(removed.error(1, xid: 4) == .ok)
        #expect(removed.events(1).isEmpty)
        #expect(harness.send(1, 5, .removeWatches(path: "/w", type: WatcherType.any.rawValue)).error(1, xid: 5) == .noWatcher)
        #expect(harness.call(1, 6, .setData(path: "/w", data: [], version: -1)).events(1).isEmpty)
    }

    @Test func deleteNotifiesDataAndChildWatchersOnce() {
        var harness = CoreHarness()
        _ = harness.session(1)
        _ = harness.session(2)
        _ = harness.call(1, 1, create("/d"))
        _ = harness.send(2, 1, .getData(path: "/d", watch: true))
        _ = harness.send(2, 2, .getChildren(opCode: .getChildren, path: "/d", watch: true))
        #expect(harness.call(1, 2, .delete(path: "/d", version: -1)).events(2) == ["nodeDeleted /d"])
    }
}

@Suite struct ServerCoreContainerTests {
    @Test func reaperDeletesAnEmptyContainerThatHadAChild() throws {
        var harness = CoreHarness()
        _ = harness.session(1)
        _ = harness.call(1, 1, create("/c", mode: .container, opCode: .createContainer))
        _ = harness.call(1, 2, create("/fresh", mode: .container, opCode: .createContainer))
        #expect(harness.reap().persisted.isEmpty, "containers that never had a child stay")
        _ = harness.call(1, 3, create("/c/k"))
        #expect(harness.reap().persisted.isEmpty, "a container with a child stays")
        _ = harness.call(1, 4, .delete(path: "/c/k", version: -1))
        let reaped = harness.reap()
        let txn = try #require(reaped.persisted.first)
        #expect(reaped.persisted.count == 1)
        #expect(txn.body == .deleteContainer(path: "/c"))
        #expect(txn.header.type == OpCode.deleteContainer.rawValue)
        #expect(txn.header.clientId == 0)
        _ = harness.commit()
        #expect(harness.core.tree.node("/c") == nil)
        #expect(harness.core.tree.containers == ["/fresh"])
    }

    @Test func reaperHonoursItsLimit() {
        var harness = CoreHarness()
        _ = harness.session(1)
        for (index, name) in ["/c1", "/c2", "/c3"].enumerated() {
            let xid = Int32(index * 3)
            _ = harness.call(1, xid + 1, create(name, mode: .container, opCode: .createContainer))
            _ = harness.call(1, xid + 2, create(name + "/k"))
            _ = harness.call(1, xid + 3, .delete(path: name + "/k", version: -1))
        }
        #expect(harness.reap(deletionsMax: 2).persisted.count == 2)
    }

    @Test func ttlNodeIsReapedAfterItsTTL() throws {
        var harness = CoreHarness(CoreConfiguration(tickMs: 2000, extendedTypesEnabled: true))
        _ = harness.session(1)
        let created = harness.call(1, 1, create("/t", mode: .persistentWithTTL, opCode: .createTTL, ttl: 1000))
        #expect(created.error(1, xid: 1) == .ok)
        #expect(harness.core.tree.ttlNodes == ["/t"])
        harness.nowMs += 1000
        #expect(harness.reap().persisted.isEmpty, "not older than its TTL yet")
        harness.nowMs += 1
        let reaped = harness.reap()
        #expect(reaped.persisted.map(\.body) == [.deleteContainer(path: "/t")])
        _ = harness.commit()
        #expect(harness.core.tree.node("/t") == nil)
        #expect(harness.core.tree.ttlNodes.isEmpty)
    }

    @Test func ttlNodeWithChildrenOrRecentWritesStays() {
        var harness = CoreHarness(CoreConfiguration(tickMs: 2000, extendedTypesEnabled: true))
        _ = harness.session(1)
        _ = harness.call(1, 1, create("/t", mode: .persistentWithTTL, opCode: .createTTL, ttl: 1000))
        _ = harness.call(1, 2, create("/t/kid"))
        harness.nowMs += 5000
        #expect(harness.reap().persisted.isEmpty)
        _ = harness.call(1, 3, .delete(path: "/t/kid", version: -1))
        _ = harness.call(1, 4, .setData(path: "/t", data: [1], version: -1))
        harness.nowMs += 500
        #expect(harness.reap().persisted.isEmpty, "setData refreshes mtime")
    }

    @Test func sequentialTTLNodes() {
        var harness = CoreHarness(CoreConfiguration(tickMs: 2000, extendedTypesEnabled: true))
        _ = harness.session(1)
        let outputs = harness.call(1, 1, create("/s-", mode: .persistentSequentialWithTTL, opCode: .createTTL, ttl: 50))
        guard case .create2(let path, _)? = outputs.reply(1, xid: 1)?.body else {
            Issue.record("expected Create2Response")
            return
        }
        #expect(path.hasPrefix("/s-") && path.count == 13)
    }

    @Test func createTTLWithoutExtendedTypesIsUnimplemented() throws {
        var harness = CoreHarness()
        _ = harness.session(1)
        let sent = harness.send(1, 1, create("/t", mode: .persistentWithTTL, opCode: .createTTL, ttl: 1000))
        #expect(sent.persisted.map(\.body) == [.error(.unimplemented)])
        let committed = harness.commit()
        #expect(committed.error(1, xid: 1) == .unimplemented)
        #expect(harness.core.tree.node("/t") == nil)
    }
}
