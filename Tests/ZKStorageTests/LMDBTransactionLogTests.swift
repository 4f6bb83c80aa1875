import Testing
import ZKBase
import ZKFormat
import ZKStorage
import ZKWire

@Suite struct LMDBTransactionLogTests {
    @Test func appendBatchesAndReadBackAcrossReopen() throws {
        try withTemporaryDirectory { path in
            let batches = [makeRecords(1...1), makeRecords(2...11), makeRecords(12...111)]
            let all = batches.flatMap { $0 }
            let log = try LMDBTransactionLog(directory: path, configuration: smallMap)
            #expect(log.lastZxid == 0 && log.firstZxid == nil)
            #expect(try readAll(log).isEmpty)
            for batch in batches { try log.append(batch) }
            #expect(logged(try readAll(log)) == all)
            #expect(log.lastZxid == zxid(111) && log.firstZxid == zxid(1))
            log.close()

            let reopened = try LMDBTransactionLog(directory: path, configuration: smallMap)
            defer { reopened.close() }
            #expect(reopened.lastZxid == zxid(111) && reopened.firstZxid == zxid(1))
            #expect(logged(try readAll(reopened)) == all)
            // after/limit select the right window, including an `after` that is not a key.
            #expect(logged(try reopened.records(after: zxid(50), limit: 5)) == Array(all[50..<55]))
            #expect(logged(try reopened.records(after: zxid(110), limit: 5)) == [all[110]])
            #expect(try reopened.records(after: zxid(111), limit: 5).isEmpty)
            #expect(logged(try reopened.records(after: zxid(7, epoch: 0), limit: 1)) == [all[0]])
            let statistics = try reopened.statistics
            #expect(statistics.recordCount == 111 && statistics.firstZxid == zxid(1) && statistics.lastZxid == zxid(111))
            #expect(statistics.fileSizeBytes > 0 && statistics.mapSizeBytes >= 1 << 20)
        }
    }

    @Test func chainContinuesAcrossBatchesAndReopen() throws {
        try withTemporaryDirectory { path in
            let first = makeRecords(1...30)
            let second = makeRecords(1...20, epoch: 2)  // a new epoch starts at counter 1
            let log = try LMDBTransactionLog(directory: path, configuration: smallMap)
            try log.append(Array(first[0..<10]))
            try log.append(Array(first[10...]))
            log.close()
            let reopened = try LMDBTransactionLog(directory: path, configuration: smallMap)
            defer { reopened.close() }
            try reopened.append(second)
            let records = try readAll(reopened)
            #expect(records.map(\.crc) == expectedCRCs(first + second))
            #expect(reopened.verify().isEmpty)
            // Reading from the middle seeds the chain with the stored CRC of the record before.
            #expect(try reopened.records(after: zxid(30), limit: 3).map(\.crc) == Array(expectedCRCs(first + second)[30..<33]))
        }
    }

    @Test func outOfOrderAppendIsRefusedAndNothingIsWritten() throws {
        try withTemporaryDirectory { path in
            let log = try LMDBTransactionLog(directory: path, configuration: smallMap)
            let fresh = #expect(throws: LogError.self) { try log.append(makeRecords(2...3)) }  // a new log starts at counter 1
            #expect(fresh?.kind == .outOfOrder)
            try log.append(makeRecords(1...5))
            let refused: [[LoggedTxn]] = [
                makeRecords(7...7),                           // gap
                makeRecords(5...6),                           // repeats 5
                makeRecords(6...6) + makeRecords(8...8),      // valid first, gap inside the batch
                makeRecords(2...2, epoch: 2),                 // new epoch must start at 1
                makeRecords(6...6, epoch: 0),                 // older epoch
            ]
            for batch in refused {
                let error = #expect(throws: LogError.self) { try log.append(batch) }
                #expect(error?.kind == .outOfOrder)
                #expect(log.lastZxid == zxid(5))
            }
            #expect(logged(try readAll(log)) == makeRecords(1...5))
            log.close()
            let reopened = try LMDBTransactionLog(directory: path, configuration: smallMap)
            defer { reopened.close() }
            #expect(logged(try readAll(reopened)) == makeRecords(1...5))
            try reopened.append(makeRecords(6...6))
            #expect(reopened.verify().isEmpty)
        }
    }

    @Test func truncateRemovesAndReturnsTheTail() throws {
        try withTemporaryDirectory { path in
            let log = try LMDBTransactionLog(directory: path, configuration: smallMap)
            try log.append(makeRecords(1...20))
            let removed = try log.truncate(after: zxid(15))
            #expect(logged(removed) == makeRecords(16...20))
            #expect(removed.map(\.crc) == Array(expectedCRCs(makeRecords(1...20))[15...]))
            #expect(log.lastZxid == zxid(15))
            #expect(try log.truncate(after: zxid(15)).isEmpty)
            // A follower's TRUNC: different txns with the same zxids chain on record 15.
            let replacement = makeRecords(16...18, salt: 0xAA)
            try log.append(replacement)
            log.close()
            let reopened = try LMDBTransactionLog(directory: path, configuration: smallMap)
            defer { reopened.close() }
            #expect(logged(try readAll(reopened)) == makeRecords(1...15) + replacement)
            #expect(reopened.verify().isEmpty)
            #expect(logged(try reopened.truncate(after: 0)) == makeRecords(1...15) + replacement)
            #expect(reopened.lastZxid == 0 && reopened.firstZxid == nil)
            try reopened.append(makeRecords(1...2))
            #expect(reopened.verify().isEmpty)
        }
    }

    @Test func purgeWritesAnAnchorThatSeedsTheChain() throws {
        try withTemporaryDirectory { path in
            let all = makeRecords(1...25)
            let crcs = expectedCRCs(all)
            let log = try LMDBTransactionLog(directory: path, configuration: smallMap)
            try log.append(Array(all[0..<20]))
            try log.purge(through: zxid(10))
            #expect(log.firstZxid == zxid(11) && log.lastZxid == zxid(20))
            #expect(try log.statistics.anchorZxid == zxid(10))
            #expect(logged(try readAll(log, after: zxid(10))) == Array(all[10..<20]))
            let purged = #expect(throws: LogError.self) { try log.records(after: zxid(5), limit: 10) }
            if case .missingRange = purged?.kind {} else { Issue.record("expected .missingRange, got \(String(describing: purged))") }
            let beforeAnchor = #expect(throws: LogError.self) { try log.truncate(after: zxid(9)) }
            if case .missingRange = beforeAnchor?.kind {} else { Issue.record("expected .missingRange") }
            #expect(log.verify().isEmpty)
            try log.append(Array(all[20...]))
            log.close()

            let reopened = try LMDBTransactionLog(directory: path, configuration: smallMap)
            #expect(reopened.firstZxid == zxid(11))
            #expect(try readAll(reopened, after: zxid(10)).map(\.crc) == Array(crcs[10...]))
            #expect(reopened.verify().isEmpty)
            // Purge everything: the log is empty, and appends chain on the anchor.
            try reopened.purge(through: zxid(1000))
            #expect(reopened.firstZxid == nil && reopened.lastZxid == zxid(25))
            #expect(try reopened.statistics.recordCount == 0)
            let more = makeRecords(26...27)
            try reopened.append(more)
            reopened.close()
            let third = try LMDBTransactionLog(directory: path, configuration: smallMap)
            defer { third.close() }
            #expect(try readAll(third, after: zxid(25)).map(\.crc) == expectedCRCs(more, seed: crcs[24]))
            #expect(third.verify().isEmpty)
            #expect(try third.statistics.anchorZxid == zxid(25))
        }
    }

    @Test func purgeOfManyRecordsDeletesEveryOne() throws {
        try withTemporaryDirectory { path in
            let log = try LMDBTransactionLog(directory: path, configuration: smallMap)
            defer { log.close() }
            for start in stride(from: Int64(1), through: 4901, by: 100) { try log.append(makeRecords(start...(start + 99))) }
            try log.purge(through: zxid(4321))
            let statistics = try log.statistics
            #expect(statistics.recordCount == 5000 - 4321)
            #expect(try readAll(log, after: zxid(4321)).count == 5000 - 4321)
            #expect(log.verify().isEmpty)
        }
    }

    @Test func unknownLogFormatIsRefused() throws {
        try withTemporaryDirectory { path in
            try LMDBTransactionLog(directory: path, configuration: smallMap).close()
            RawLMDB.withWriteTransaction(path) { transaction, _, meta in
                RawLMDB.put(transaction, meta, Array("format".utf8), [0, 0, 0, 7])
            }
            let error = #expect(throws: LogError.self) { try LMDBTransactionLog(directory: path, configuration: smallMap) }
            #expect(error.map { "\($0)" }?.contains("unsupported log format 7") == true)
        }
    }
}
