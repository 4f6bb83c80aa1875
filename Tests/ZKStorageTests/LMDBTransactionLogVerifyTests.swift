import Testing
import ZKBase
import ZKFormat
import ZKStorage

@Suite struct LMDBTransactionLogVerifyTests {
    enum Damage: String, CaseIterable, Sendable {
        case bitFlip, truncatedValue, zeroedBytes

        func apply(_ bytes: [UInt8]) -> [UInt8] {
            switch self {
            case .bitFlip:
                var flipped = bytes
                flipped[bytes.count - 3] ^= 0x10  // inside the txn, covered by the CRC only
                return flipped
            case .truncatedValue: return Array(bytes.dropLast(9))
            case .zeroedBytes: return [UInt8](repeating: 0, count: bytes.count)
            }
        }

        var expectedKind: LogRecordError.Kind? {
            switch self {
            case .bitFlip: return nil  // a CRC mismatch; the values depend on the bytes
            case .truncatedValue: return .lengthMismatch
            case .zeroedBytes: return .badMagic
            }
        }
    }

    @Test(arguments: Damage.allCases)
    func verifyFindsARecordDamagedThroughLMDB(_ damage: Damage) throws {
        try withTemporaryDirectory { path in
            let log = try LMDBTransactionLog(directory: path, configuration: smallMap)
            try log.append(makeRecords(1...15))
            #expect(log.verify().isEmpty)
            log.close()
            RawLMDB.overwrite(path, zxid: zxid(7), damage.apply)

            let damaged = try LMDBTransactionLog(directory: path, configuration: smallMap)
            defer { damaged.close() }
            let problems = damaged.verify()
            #expect(problems.count == 1, "\(problems)")
            #expect(problems.first?.zxid == zxid(7))
            guard case .invalidRecord(let error)? = problems.first?.kind else {
                Issue.record("expected an invalid record, got \(problems)")
                return
            }
            #expect(error.zxid == zxid(7))
            if let expected = damage.expectedKind {
                #expect(error.kind == expected)
            } else if case .crcMismatch = error.kind {} else {
                Issue.record("expected a CRC mismatch, got \(error)")
            }
            // Reads stop at the damage with the same diagnosis.
            #expect(try damaged.records(after: 0, limit: 6).count == 6)
            let readError = #expect(throws: LogError.self) { try damaged.records(after: 0, limit: 100) }
            #expect(readError?.kind == .corrupt(error))
        }
    }

    @Test func verifyReportsAMissingZxidAsAContinuityProblem() throws {
        try withTemporaryDirectory { path in
            let log = try LMDBTransactionLog(directory: path, configuration: smallMap)
            try log.append(makeRecords(1...15))
            log.close()
            RawLMDB.delete(path, zxid: zxid(10))

            let damaged = try LMDBTransactionLog(directory: path, configuration: smallMap)
            defer { damaged.close() }
            #expect(damaged.verify() == [LogProblem(zxid: zxid(11), kind: .discontinuity(previous: zxid(9)))])
            let readError = #expect(throws: LogError.self) { try damaged.records(after: zxid(5), limit: 100) }
            if case .missingRange = readError?.kind {} else { Issue.record("expected .missingRange, got \(String(describing: readError))") }
        }
    }

    @Test func verifyWalksChunksAndReportsEveryDamage() throws {
        try withTemporaryDirectory { path in
            let log = try LMDBTransactionLog(directory: path, configuration: smallMap)
            for start in stride(from: Int64(1), through: 2901, by: 100) { try log.append(makeRecords(start...(start + 99))) }
            log.close()
            // Damage on both sides of the 1024-record chunk boundary, and a gap in the last chunk.
            for counter: Int64 in [1024, 1025, 2048] { RawLMDB.overwrite(path, zxid: zxid(counter), Damage.bitFlip.apply) }
            RawLMDB.delete(path, zxid: zxid(2900))
            let damaged = try LMDBTransactionLog(directory: path, configuration: smallMap)
            defer { damaged.close() }
            let problems = damaged.verify()
            #expect(problems.map(\.zxid) == [zxid(1024), zxid(1025), zxid(2048), zxid(2901)], "\(problems)")
            #expect(damaged.verify(problemsMax: 2).map(\.kind).last == .tooManyProblems(2))
        }
    }
}
