import Testing
import ZKBase
import ZKPipeline
import ZKTree
import ZKWire

/// Quotas at prep, as ZooKeeperServer.checkQuota: hard limits refuse creates and setData with
/// QUOTAEXCEEDED when enforced, any limit passed gives a warning line.
@Suite struct ServerCoreQuotaTests {
    func harnessWithQuota(_ limits: String, enforce: Bool) -> CoreHarness {
        var harness = CoreHarness(CoreConfiguration(tickMs: 2000, enforceQuota: enforce))
        _ = harness.session(1)
        for (xid, (path, data)) in [
            ("/app", "abc"), ("/zookeeper/quota/app", ""), ("/zookeeper/quota/app/zookeeper_limits", limits),
            ("/zookeeper/quota/app/zookeeper_stats", "count=0,bytes=0"),
        ].enumerated() {
            let outputs = harness.call(1, Int32(xid + 1), create(path, data))
            precondition(outputs.reply(1, xid: Int32(xid + 1))?.header.err == 0, "setting up \(path)")
        }
        return harness
    }

    func warnings(_ outputs: [CoreOutput]) -> [String] {
        outputs.compactMap { if case .quotaWarning(let line) = $0 { return line } else { return nil } }
    }

    @Test func hardCountLimitRefusesTheCreateThatWouldPassIt() throws {
        var harness = harnessWithQuota("count=-1,bytes=-1=;countHardLimit=2", enforce: true)
        #expect(harness.call(1, 10, create("/app/a")).reply(1, xid: 10)?.header.err == 0)
        let refused = harness.call(1, 11, create("/app/b"))
        #expect(refused.reply(1, xid: 11)?.header.err == ErrorCode.quotaExceeded.rawValue)
        #expect(warnings(refused) == ["Quota exceeded: /app [current count=3, hardCountLimit=2]"])
        #expect(harness.core.tree.node("/app/b") == nil)
        #expect(harness.call(1, 12, create("/elsewhere")).reply(1, xid: 12)?.header.err == 0)
        let stats = String(decoding: harness.core.tree.node("/zookeeper/quota/app/zookeeper_stats")?.data ?? [], as: UTF8.self)
        #expect(stats == "count=2,bytes=3")
    }

    @Test func hardByteLimitRefusesSetDataThatWouldPassIt() throws {
        var harness = harnessWithQuota("count=-1,bytes=-1=;byteHardLimit=5", enforce: true)
        #expect(harness.call(1, 10, .setData(path: "/app", data: Array("abcde".utf8), version: -1)).reply(1, xid: 10)?.header.err == 0)
        let refused = harness.call(1, 11, .setData(path: "/app", data: Array("abcdef".utf8), version: -1))
        #expect(refused.reply(1, xid: 11)?.header.err == ErrorCode.quotaExceeded.rawValue)
        // ZooKeeper checks the quota before the version: a stale version past the limit is QUOTAEXCEEDED.
        let staleAndLarge = harness.call(1, 12, .setData(path: "/app", data: Array("abcdefgh".utf8), version: 7))
        #expect(staleAndLarge.reply(1, xid: 12)?.header.err == ErrorCode.quotaExceeded.rawValue)
    }

    @Test func softLimitsAndUnenforcedHardLimitsOnlyWarn() throws {
        var soft = harnessWithQuota("count=1,bytes=-1", enforce: true)
        let passed = soft.call(1, 10, create("/app/a"))
        #expect(passed.reply(1, xid: 10)?.header.err == 0)
        #expect(warnings(passed) == ["Quota exceeded: /app [current count=2, softCountLimit=1]"])
        var unenforced = harnessWithQuota("count=-1,bytes=-1=;countHardLimit=1", enforce: false)
        let allowed = unenforced.call(1, 10, create("/app/a"))
        #expect(allowed.reply(1, xid: 10)?.header.err == 0)
        #expect(warnings(allowed).count == 1)
    }

    @Test func aMultiPastAHardLimitChangesNothing() throws {
        var harness = harnessWithQuota("count=-1,bytes=-1=;countHardLimit=2", enforce: true)
        let outputs = harness.call(1, 10, .multi([createOp("/app/a"), createOp("/elsewhere")]))
        #expect(outputs.reply(1, xid: 10)?.header.err == 0, "a multi's own header says ok; its results say which op failed")
        #expect(harness.core.tree.node("/app/a") != nil)
        let second = harness.call(1, 11, .multi([createOp("/other"), createOp("/app/b")]))
        if case .multi(let results) = second.reply(1, xid: 11)?.body {
            let codes: [ErrorCode] = results.map { result -> ErrorCode in
                if case .error(let code) = result { return code }
                return .ok
            }
            #expect(codes == [.ok, .quotaExceeded])
        } else {
            Issue.record("no multi reply: \(second)")
        }
        #expect(harness.core.tree.node("/other") == nil)
    }
}
