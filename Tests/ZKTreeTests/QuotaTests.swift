import Testing
import ZKBase
import ZKTree
import ZKWire

/// Quota bookkeeping as ZooKeeper 3.8's DataTree and StatsTrack do it.
@Suite struct QuotaTests {
    @Test func statsTrackTextIsZooKeepers() {
        var soft = StatsTrack()
        soft.count = 2
        #expect(soft.text == "count=2,bytes=-1")
        let hard = StatsTrack(Array("count=-1,bytes=-1=;countHardLimit=2".utf8))
        #expect(hard.count == -1 && hard.bytes == -1 && hard.countHardLimit == 2 && hard.byteHardLimit == -1)
        #expect(hard.text == "count=-1,bytes=-1=;countHardLimit=2")
        let both = StatsTrack(Array("count=-1,bytes=-1=;countHardLimit=2;byteHardLimit=10".utf8))
        #expect(both.text == "count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=2", "extra keys sorted")
        #expect(StatsTrack(Array("count=,bytes=7".utf8)).count == -1, "an empty value reads as -1")
        #expect(StatsTrack(nil).text == "count=-1,bytes=-1")
    }

    @Test func hostileQuotaDataNeverCrashes() {
        // What a client may write into a limits or stats node (Apache 3.8.0 throws on these).
        for text in ["", ",", ";;", "=", "count", "count=", "=5", ",count=3", "count=abc,bytes=9999999999999999999999"] {
            let stats = StatsTrack(Array(text.utf8))
            #expect(stats.text.hasPrefix("count="), "\(text)")
        }
        #expect(StatsTrack([0xff, 0xfe, 0x3d, 0x00]).count == -1)
        var (tree, _) = treeWithQuota(limits: "count=2,bytes=-1")
        tree.applyAll([txn(6, .setData(path: "/zookeeper/quota/app/zookeeper_limits", data: [0x97, 0xbf, 0x3d], version: 1))])
        #expect(tree.quotaVerdict(for: "/app/new", bytesDiff: 1, countDiff: 1) == .within, "unparsable limits limit nothing")
        tree.applyAll([txn(7, .setData(path: "/zookeeper/quota/app/zookeeper_stats", data: [0x3b], version: 1)),
                       txn(8, .create(createTxn("/app/y", "ab", parentCVersion: 2)))])
        #expect(stats(tree) == "count=0,bytes=1", "unparsable stats count from -1, as ZooKeeper's StatsTrack defaults")
    }

    /// /app (3 bytes) with /app/x (2 bytes), then a quota on /app as zkCli's setquota makes it.
    func treeWithQuota(limits: String) -> (tree: DataTree, zxid: Int64) {
        var tree = DataTree()
        tree.applyAll([
            txn(1, .create(createTxn("/app", "abc", parentCVersion: 1))),
            txn(2, .create(createTxn("/app/x", "de", parentCVersion: 1))),
            txn(3, .create(createTxn("/zookeeper/quota/app", parentCVersion: 1))),
            txn(4, .create(createTxn("/zookeeper/quota/app/zookeeper_limits", limits, parentCVersion: 1))),
            txn(5, .create(createTxn("/zookeeper/quota/app/zookeeper_stats", "count=0,bytes=0", parentCVersion: 2))),
        ])
        return (tree, 5)
    }

    func stats(_ tree: DataTree) -> String {
        String(decoding: tree.node("/zookeeper/quota/app/zookeeper_stats")?.data ?? [], as: UTF8.self)
    }

    @Test func statsFollowCreatesSetDataAndDeletes() {
        var (tree, _) = treeWithQuota(limits: "count=2,bytes=-1")
        #expect(tree.quotaPrefixes == ["/app"])
        #expect(stats(tree) == "count=2,bytes=5", "the stats node gets the subtree's usage when it is created")
        let digestBefore = tree.digest
        tree.applyAll([txn(6, .create(createTxn("/app/y", "fghi", parentCVersion: 2)))])
        #expect(stats(tree) == "count=3,bytes=9")
        #expect(tree.node("/zookeeper/quota/app/zookeeper_stats")?.stat.version == 0, "no txn, no version change")
        tree.applyAll([txn(7, .setData(path: "/app/x", data: Array("0123456789".utf8), version: 1))])
        #expect(stats(tree) == "count=3,bytes=17")
        tree.applyAll([txn(8, .delete(path: "/app/y"))])
        #expect(stats(tree) == "count=2,bytes=13")
        tree.applyAll([txn(9, .create(createTxn("/other", "zzzz", parentCVersion: 3)))])
        #expect(stats(tree) == "count=2,bytes=13", "outside the quota's subtree")
        #expect(tree.quotaStatMismatches().isEmpty)
        #expect(tree.digest != digestBefore && tree.digest == tree.computeDigest())
    }

    @Test func verdictsForSoftAndHardLimits() {
        let (soft, _) = treeWithQuota(limits: "count=2,bytes=-1")
        #expect(soft.quotaVerdict(for: "/app/new", bytesDiff: 1, countDiff: 1)
            == .pastSoftLimit("Quota exceeded: /app [current count=3, softCountLimit=2]"))
        #expect(soft.quotaVerdict(for: "/app/x", bytesDiff: 100, countDiff: 0) == .within, "no byte limit")
        #expect(soft.quotaVerdict(for: "/elsewhere", bytesDiff: 1, countDiff: 1) == .within)
        let (hard, _) = treeWithQuota(limits: "count=-1,bytes=-1=;byteHardLimit=6;countHardLimit=3")
        #expect(hard.quotaVerdict(for: "/app/new", bytesDiff: 1, countDiff: 1) == .within, "3 nodes and 6 bytes fit")
        #expect(hard.quotaVerdict(for: "/app/new", bytesDiff: 2, countDiff: 1)
            == .pastHardLimit("Quota exceeded: /app [current bytes=7, hardByteLimit=6]"))
        #expect(hard.quotaVerdict(for: "/app/x/deeper", bytesDiff: 0, countDiff: 1) == .within)
        #expect(hard.quotaVerdict(for: "/app", bytesDiff: 2, countDiff: 0)
            == .pastHardLimit("Quota exceeded: /app [current bytes=7, hardByteLimit=6]"), "the quota'd node itself counts")
    }

    @Test func deletingTheLimitsNodeEndsTheQuota() {
        var (tree, _) = treeWithQuota(limits: "count=2,bytes=-1")
        tree.applyAll([
            txn(6, .delete(path: "/zookeeper/quota/app/zookeeper_limits")),
            txn(7, .create(createTxn("/app/y", "fghi", parentCVersion: 2))),
        ])
        #expect(tree.quotaPrefixes.isEmpty)
        #expect(stats(tree) == "count=2,bytes=5", "no longer kept")
    }

    @Test func loadingRecomputesStatsAndPrefixes() {
        var (tree, zxid) = treeWithQuota(limits: "count=2,bytes=-1")
        tree.applyAll([txn(6, .create(createTxn("/app/y", "fghi", parentCVersion: 2)))])
        // A snapshot of it whose stats node is stale (a fuzzy snapshot can hold any value).
        var loaded = DataTree.emptyForLoading()
        var stack = ["/"]
        while let path = stack.popLast() {
            let node = tree.node(path)!
            let data = path == "/zookeeper/quota/app/zookeeper_stats" ? Array("count=99,bytes=0".utf8) : node.data
            #expect(loaded.loadNode(path: path, data: data, acl: node.acl, stat: node.stat) == nil)
            for child in tree.childNames(of: path)!.sorted().reversed() { stack.append(PathValidation.join(path, child)) }
        }
        #expect(String(decoding: loaded.node("/zookeeper/quota/app/zookeeper_stats")?.data ?? [], as: UTF8.self) == "count=99,bytes=0")
        loaded.finishLoading(lastProcessedZxid: zxid + 1)
        #expect(loaded.quotaPrefixes == ["/app"])
        #expect(stats(loaded) == "count=3,bytes=9")
        #expect(loaded.quotaStatMismatches().isEmpty)
        #expect(loaded.digest == tree.digest)
    }

    @Test func aStatsNodeOverwrittenByAClientIsReportedAsMismatch() {
        var (tree, _) = treeWithQuota(limits: "count=2,bytes=-1")
        tree.applyAll([txn(6, .setData(path: "/zookeeper/quota/app/zookeeper_stats", data: Array("count=1,bytes=1".utf8), version: 1))])
        let mismatches = tree.quotaStatMismatches()
        #expect(mismatches.count == 1)
        #expect(mismatches.first?.path == "/app" && mismatches.first?.stored == "count=1,bytes=1" && mismatches.first?.actual == "count=2,bytes=5")
    }

    /// ZooKeeper 3.8.0 matches quotas through a PathTrie that drops blank components, so a quota
    /// on "/ /b/b" counts as one on "/b/b" (differential seed 1873722807: Apache's
    /// /zookeeper/quota/ /b/b/zookeeper_stats said count=1,bytes=4 after the subtree changed).
    @Test func aQuotaOnAPathWithABlankComponentIsFiledWithoutIt() {
        #expect(Quotas.trieKey("/ /b/b") == "/b/b")
        #expect(Quotas.trieKey("/  /b/ /c") == "/b/c")
        #expect(Quotas.trieKey("/ a/b ") == "/ a/b ", "only all-blank components go")
        #expect(Quotas.trieKey("/ ") == "/")
        var tree = DataTree()
        tree.applyAll([
            txn(1, .create(createTxn("/ ", parentCVersion: 1))),
            txn(2, .create(createTxn("/ /b", parentCVersion: 1))),
            txn(3, .create(createTxn("/ /b/b", "abcd", parentCVersion: 1))),
            txn(4, .create(createTxn("/zookeeper/quota/ ", parentCVersion: 1))),
            txn(5, .create(createTxn("/zookeeper/quota/ /b", parentCVersion: 1))),
            txn(6, .create(createTxn("/zookeeper/quota/ /b/b", parentCVersion: 1))),
            txn(7, .create(createTxn("/zookeeper/quota/ /b/b/zookeeper_stats", "count=0,bytes=0", parentCVersion: 1))),
            txn(8, .create(createTxn("/zookeeper/quota/ /b/b/zookeeper_limits", "count=1,bytes=-1", parentCVersion: 2))),
        ])
        let blankStats = "/zookeeper/quota/ /b/b/zookeeper_stats"
        func text(_ path: String, in tree: DataTree) -> String {
            String(decoding: tree.node(path)?.data ?? [], as: UTF8.self)
        }
        #expect(tree.quotaPrefixes == ["/b/b"])
        #expect(text(blankStats, in: tree) == "count=1,bytes=4", "the real subtree, counted when the stats node is made")
        tree.applyAll([txn(9, .create(createTxn("/ /b/b/x", "12", parentCVersion: 1)))])
        #expect(text(blankStats, in: tree) == "count=1,bytes=4", "a create under it updates the stats of /b/b, which has none")
        #expect(tree.quotaVerdict(for: "/ /b/b/y", bytesDiff: 0, countDiff: 1) == .within, "no limits node at /b/b")
        // A quota on the real /b/b now also takes the creates under "/ /b/b".
        tree.applyAll([
            txn(10, .create(createTxn("/b", parentCVersion: 2))),
            txn(11, .create(createTxn("/b/b", "z", parentCVersion: 1))),
            txn(12, .create(createTxn("/zookeeper/quota/b", parentCVersion: 2))),
            txn(13, .create(createTxn("/zookeeper/quota/b/b", parentCVersion: 1))),
            txn(14, .create(createTxn("/zookeeper/quota/b/b/zookeeper_stats", "count=0,bytes=0", parentCVersion: 1))),
            txn(15, .create(createTxn("/zookeeper/quota/b/b/zookeeper_limits", "count=2,bytes=-1", parentCVersion: 2))),
            txn(16, .create(createTxn("/ /b/b/y", "123", parentCVersion: 2))),
        ])
        #expect(text("/zookeeper/quota/b/b/zookeeper_stats", in: tree) == "count=2,bytes=4")
        #expect(text(blankStats, in: tree) == "count=1,bytes=4")
        #expect(tree.quotaVerdict(for: "/ /b/b/z", bytesDiff: 0, countDiff: 1)
            == .pastSoftLimit("Quota exceeded: /b/b [current count=3, softCountLimit=2]"))
        // Deleting either limits node unfiles the shared key, as PathTrie.deletePath does.
        tree.applyAll([txn(17, .delete(path: "/zookeeper/quota/ /b/b/zookeeper_limits"))])
        #expect(tree.quotaPrefixes.isEmpty)
    }

    @Test func loadingFilesBlankComponentQuotasByKeyAndCountsTheRealSubtree() {
        var tree = DataTree()
        tree.applyAll([
            txn(1, .create(createTxn("/ ", parentCVersion: 1))),
            txn(2, .create(createTxn("/ /b", "xy", parentCVersion: 1))),
            txn(3, .create(createTxn("/zookeeper/quota/ ", parentCVersion: 1))),
            txn(4, .create(createTxn("/zookeeper/quota/ /b", parentCVersion: 1))),
            txn(5, .create(createTxn("/zookeeper/quota/ /b/zookeeper_stats", "count=0,bytes=0", parentCVersion: 1))),
            txn(6, .create(createTxn("/zookeeper/quota/ /b/zookeeper_limits", "count=9,bytes=-1", parentCVersion: 2))),
            txn(7, .create(createTxn("/ /b/c", "abc", parentCVersion: 1))),
        ])
        #expect(String(decoding: tree.node("/zookeeper/quota/ /b/zookeeper_stats")?.data ?? [], as: UTF8.self) == "count=1,bytes=2")
        var loaded = DataTree.emptyForLoading()
        var stack = ["/"]
        while let path = stack.popLast() {
            let node = tree.node(path)!
            #expect(loaded.loadNode(path: path, data: node.data, acl: node.acl, stat: node.stat) == nil)
            for child in tree.childNames(of: path)!.sorted().reversed() { stack.append(PathValidation.join(path, child)) }
        }
        loaded.finishLoading(lastProcessedZxid: 8)
        #expect(loaded.quotaPrefixes == ["/b"])
        #expect(String(decoding: loaded.node("/zookeeper/quota/ /b/zookeeper_stats")?.data ?? [], as: UTF8.self) == "count=2,bytes=5",
                "setupQuota recounts the real subtree of \"/ /b\"")
    }
}
