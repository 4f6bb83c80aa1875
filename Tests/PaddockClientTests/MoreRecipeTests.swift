import PaddockClient
import PaddockRecipes
import Testing

/// Who holds a read/write lock now: readers together, a writer alone.
actor ReadersAndWriters {
    var readers = 0
    var writers = 0
    var maxReaders = 0
    var violations = 0
    var reads = 0
    var writes = 0
    func startRead() {
        if writers > 0 { violations += 1 }
        readers += 1
        reads += 1
        maxReaders = max(maxReaders, readers)
    }
    func endRead() { readers -= 1 }
    func startWrite() {
        if writers > 0 || readers > 0 { violations += 1 }
        writers += 1
        writes += 1
    }
    func endWrite() { writers -= 1 }
}

@Suite struct MoreRecipeTests {
    @Test func readersShareWritersExclude() async throws {
        try await withServer { server in
            let ledger = ReadersAndWriters()
            let readersCount = 4, writersCount = 2, rounds = 4
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in 0..<(readersCount + writersCount) {
                    group.addTask {
                        let client = try await PaddockClient.connect(server.address)
                        let lock = ReadWriteLock(client: client, path: "/rw/shared")
                        for _ in 0..<rounds {
                            if id < readersCount {
                                let holding = try await lock.acquireRead()
                                await ledger.startRead()
                                // Stay a while so readers overlap.
                                try await Task.sleep(for: .milliseconds(30))
                                await ledger.endRead()
                                try await holding.release()
                            } else {
                                let holding = try await lock.acquireWrite()
                                await ledger.startWrite()
                                await Task.yield()
                                await ledger.endWrite()
                                try await holding.release()
                            }
                        }
                        await client.close()
                    }
                }
                try await group.waitForAll()
            }
            #expect(await ledger.reads == readersCount * rounds)
            #expect(await ledger.writes == writersCount * rounds)
            #expect(await ledger.violations == 0)
            #expect(await ledger.maxReaders > 1, "readers never held the lock together")
        }
    }

    @Test func aWaitingWriterIsNotOvertakenByLaterReaders() async throws {
        try await withServer { server in
            let first = try await PaddockClient.connect(server.address)
            let writer = try await PaddockClient.connect(server.address)
            let late = try await PaddockClient.connect(server.address)
            let reading = try await ReadWriteLock(client: first, path: "/rw/order").acquireRead()
            let writing = Task { try await ReadWriteLock(client: writer, path: "/rw/order").acquireWrite() }
            _ = try await within(10, "the writer queued") {
                while try await first.getChildren("/rw/order").count < 2 { await Task.yield() }
                return true
            }
            let lateAcquired = FirstOutcome()
            let lateRead = Task {
                let holding = try await ReadWriteLock(client: late, path: "/rw/order").acquireRead()
                _ = lateAcquired.claim()
                return holding
            }
            // The late reader waits behind the writer (watching the writer's node), though a
            // reader holds the lock.
            let writerNode = try #require(try await first.getChildren("/rw/order").first { $0.contains("-write-") })
            _ = try await within(10, "the late reader watching the writer") {
                while try server.watchCount(on: "/rw/order/" + writerNode) < 1 { try await Task.sleep(for: .milliseconds(20)) }
                return true
            }
            #expect(lateAcquired.claim(), "the late reader got the lock ahead of the waiting writer")
            try await reading.release()
            let write = try await within(10, "the writer's turn") { try await writing.value }
            try await write.release()
            let read = try await within(10, "the late reader's turn") { try await lateRead.value }
            try await read.release()
            for client in [first, writer, late] { await client.close() }
        }
    }

    @Test func simpleLockExcludesAndPassesOnAtSessionEnd() async throws {
        try await withServer { server in
            let exclusion = Exclusion()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in 0..<4 {
                    group.addTask {
                        let client = try await PaddockClient.connect(server.address)
                        let lock = SimpleLock(client: client, path: "/simple/lock")
                        for _ in 0..<4 {
                            try await lock.acquire()
                            await exclusion.enter(id)
                            await Task.yield()
                            await exclusion.leave(id)
                            try await lock.release()
                        }
                        await client.close()
                    }
                }
                try await group.waitForAll()
            }
            #expect(await exclusion.entries == 16)
            #expect(await exclusion.overlaps == 0)
            let crashed = try await PaddockClient.connect(server.address, sessionTimeout: .seconds(2))
            try await SimpleLock(client: crashed, path: "/simple/lock").acquire()
            await crashed.abandonForTesting()
            let next = try await PaddockClient.connect(server.address)
            try await within(30, "the lock after the holder's session ended") { try await SimpleLock(client: next, path: "/simple/lock").acquire() }
            #expect(try await next.exists("/simple/lock")?.ephemeralOwner == next.sessionId)
            await next.close()
        }
    }

    @Test func rendezvousReachesWorkersStartedBeforeAndAfterTheMaster() async throws {
        try await withServer { server in
            let coordinator = try await PaddockClient.connect(server.address, sessionTimeout: .seconds(2))
            let master = try await PaddockClient.connect(server.address)
            var workers: [PaddockClient] = []
            for _ in 0..<3 { workers.append(try await PaddockClient.connect(server.address)) }
            try await Rendezvous(client: coordinator, path: "/jobs/rdv-1").create()
            let early = workers[0..<2].map { worker in Task { try await Rendezvous(client: worker, path: "/jobs/rdv-1").waitForData() } }
            _ = try await within(10, "the early workers' watches") {
                // Both early workers have read the empty node and wait on its data watch.
                while try server.watchCount(on: "/jobs/rdv-1") < 2 { try await Task.sleep(for: .milliseconds(20)) }
                return true
            }
            try await Rendezvous(client: master, path: "/jobs/rdv-1").publish(Array("10.0.0.7:9000".utf8))
            for task in early {
                #expect(try await within(10, "an early worker") { try await task.value } == Array("10.0.0.7:9000".utf8))
            }
            #expect(try await Rendezvous(client: workers[2], path: "/jobs/rdv-1").waitForData() == Array("10.0.0.7:9000".utf8))
            // The coordinator ends: everyone learns it.
            let ending = Task { try await Rendezvous(client: master, path: "/jobs/rdv-1").waitForEnd() }
            await coordinator.abandonForTesting()
            try await within(30, "the end of the rendezvous") { try await ending.value }
            await #expect(throws: ZooKeeperError.self) { try await Rendezvous(client: workers[2], path: "/jobs/rdv-1").waitForData() }
            for client in workers + [master] { await client.close() }
        }
    }
}
