import Testing
import ZKFormat
import ZKStorage

@Suite struct InMemoryTransactionLogTests {
    @Test func storesTheSameChainAsTheLMDBLog() throws {
        let log = InMemoryTransactionLog()
        let records = makeRecords(1...40)
        try log.append(Array(records[0..<15]))
        try log.append(Array(records[15...]))
        let read = try readAll(log)
        #expect(logged(read) == records)
        #expect(read.map(\.crc) == expectedCRCs(records))
        #expect(logged(try log.records(after: zxid(20), limit: 3)) == Array(records[20..<23]))
        #expect(log.lastZxid == zxid(40) && log.firstZxid == zxid(1))
    }

    @Test func refusesOutOfOrderAndWritesNothing() throws {
        let log = InMemoryTransactionLog()
        try log.append(makeRecords(1...3))
        let error = #expect(throws: LogError.self) { try log.append(makeRecords(4...4) + makeRecords(6...6)) }
        #expect(error?.kind == .outOfOrder)
        #expect(log.lastZxid == zxid(3))
        #expect(try readAll(log).count == 3)
    }
}
