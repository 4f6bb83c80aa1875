import Foundation
import Testing
import ZKBase
import ZKFormat
@testable import ZKStorage

/// A disk in memory for the journal: each write is durable when it returns (O_DSYNC), and a
/// crash during a write leaves a random subset of that write's 512-byte sectors on the disk.
final class SimulatedJournalDevice: JournalDevice, @unchecked Sendable {
    static let sectorBytes = 512
    let capacity: Int
    private(set) var image: [UInt8]
    /// The write (0-based, counted over this device's life) that a crash interrupts, if any.
    var crashAtWrite: Int?
    private(set) var writes = 0
    private(set) var crashed = false
    private var random: SplitMix64

    init(capacity: Int, image: [UInt8]? = nil, crashAtWrite: Int? = nil, seed: UInt64 = 0) {
        self.capacity = capacity
        self.image = image ?? [UInt8](repeating: 0, count: capacity)
        self.crashAtWrite = crashAtWrite
        self.random = SplitMix64(seed: seed)
    }

    func read(at offset: Int, count: Int) throws(LogError) -> [UInt8] { Array(image[offset..<(offset + count)]) }

    func writeDurably(_ bytes: [UInt8], at offset: Int) throws(LogError) {
        if crashed { throw LogError(kind: .io("simulated crash: the device is gone")) }
        if writes == crashAtWrite {
            crashed = true
            for sector in stride(from: 0, to: bytes.count, by: Self.sectorBytes) where random.next() % 2 == 0 {
                let end = min(bytes.count, sector + Self.sectorBytes)
                image.replaceSubrange((offset + sector)..<(offset + end), with: bytes[sector..<end])
            }
            throw LogError(kind: .io("simulated crash during a journal write"))
        }
        image.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
        writes += 1
    }

    func close() {}

    /// Damages one byte of the durable image.
    func flip(at offset: Int) { image[offset] ^= 0x5A }
}

private func entries(_ records: [LoggedTxn]) -> [(zxid: Int64, bytes: [UInt8])] {
    try! EncodedBatch(records, lastZxid: records[0].txn.zxid - 1, lastCRC: 0).entries
}

@Suite struct JournalFrameTests {
    @Test func framesRoundTripAndAlign() {
        let batch = entries(makeRecords(1...5, payloadBytes: 900))
        let (bytes, crc) = JournalFrame.encode(sequence: 7, previousCRC: 0xDEAD_BEEF, entries: batch)
        #expect(bytes.count % JournalFrame.alignment == 0)
        #expect(bytes.count == JournalFrame.frameBytes(payloadBytes: JournalFrame.payloadBytes(batch)))
        guard case .frame(let frame) = bytes.withUnsafeBytes({ JournalFrame.decode($0) }) else {
            Issue.record("a frame just written must decode")
            return
        }
        #expect(frame.sequence == 7 && frame.previousCRC == 0xDEAD_BEEF && frame.crc == crc)
        #expect(frame.records.map(\.zxid) == batch.map(\.zxid))
        #expect(frame.records.map(\.bytes) == batch.map(\.bytes))
        #expect(frame.firstZxid == zxid(1) && frame.lastZxid == zxid(5))
        let zeros = [UInt8](repeating: 0, count: 4096)
        #expect(zeros.withUnsafeBytes { JournalFrame.decode($0) } == .empty)
    }

    /// Every tear at a 512-byte boundary (the new frame's first sectors over zeros or over an
    /// older frame) and every single damaged byte of header or payload is refused.
    @Test func tornOrDamagedFramesAreRefused() {
        let batch = entries(makeRecords(1...6, payloadBytes: 1500))
        let (bytes, _) = JournalFrame.encode(sequence: 3, previousCRC: 1, entries: batch)
        let (older, _) = JournalFrame.encode(sequence: 1, previousCRC: 0, entries: entries(makeRecords(50...60, payloadBytes: 1200, salt: 9)))
        let payloadEnd = JournalFrame.headerBytes + JournalFrame.payloadBytes(batch)
        for underneath in [[UInt8](repeating: 0, count: bytes.count), Array(older.prefix(bytes.count))] {
            for keptSectors in 1..<((payloadEnd + 511) / 512) {
                var torn = underneath
                torn.replaceSubrange(0..<(keptSectors * 512), with: bytes[0..<(keptSectors * 512)])
                if case .frame = torn.withUnsafeBytes({ JournalFrame.decode($0) }) {
                    Issue.record("a frame torn after \(keptSectors) sectors decoded as whole")
                }
            }
        }
        var checked = 0
        for offset in stride(from: 0, to: payloadEnd, by: 37) {
            var damaged = bytes
            damaged[offset] ^= 0x01
            if case .frame = damaged.withUnsafeBytes({ JournalFrame.decode($0) }) {
                Issue.record("a frame with byte \(offset) damaged decoded as valid")
            }
            checked += 1
        }
        #expect(checked > 100)
    }
}

extension JournalFrameTests {
    /// Hostile bytes: random slots, headers that lie about sequence, zxids, record count, payload
    /// length (up to 4 GiB) or CRC, and record lengths past the payload. Nothing crashes; nothing
    /// but the untouched frame decodes; a scan of random images finds nothing or reports damage.
    @Test func hostileBytesNeverCrashAndNeverDecode() throws {
        var random = SplitMix64(seed: 0xBAD5EED)
        var refused = 0
        let (valid, _) = JournalFrame.encode(sequence: 1, previousCRC: 0, entries: entries(makeRecords(1...3, payloadBytes: 300)))
        for round in 0..<2000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<(4096 * (1 + random.below(3)))).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            } else {
                bytes = valid
                let field = [8, 16, 24, 32, 36, 40, 44][random.below(7)]
                for offset in field..<(field + 4) { bytes[offset] ^= UInt8(truncatingIfNeeded: random.next() | 1) }
                if random.below(4) == 0 { bytes.replaceSubrange(36..<40, with: [0xFF, 0xFF, 0xFF, 0xF0]) }
                if random.below(4) == 0 { bytes.replaceSubrange(56..<60, with: [0x7F, 0xFF, 0xFF, 0xFF]) }
            }
            switch bytes.withUnsafeBytes({ JournalFrame.decode($0) }) {
            case .frame: Issue.record("round \(round): hostile bytes decoded as a frame")
            case .empty, .invalid: refused += 1
            }
        }
        #expect(refused == 2000)
        for _ in 0..<50 {
            let image = (0..<(16 << 10)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let device = SimulatedJournalDevice(capacity: 16 << 10, image: image)
            do {
                #expect(try Journal.scan(device, lapSequence: 1).frames.isEmpty)
            } catch {
                guard case .journalCorrupt = error.kind else { throw error }
            }
        }
    }
}

@Suite struct JournalScanTests {
    /// Three frames written one after another; what a scan makes of damage at each place.
    func threeFrames() throws -> (SimulatedJournalDevice, [Int]) {
        let device = SimulatedJournalDevice(capacity: 64 << 10)
        let journal = Journal(device: device, continuing: JournalScan(frames: [], endOffset: 0, nextSequence: 4, lastCRC: 0, tornAt: nil))
        var offsets: [Int] = []
        for start in [Int64(1), 4, 7] {
            offsets.append(journal.writeOffset)
            try journal.append(entries(makeRecords(start...(start + 2), payloadBytes: 2000)))
        }
        return (device, offsets)
    }

    @Test func aWholeLapReadsBack() throws {
        let (device, _) = try threeFrames()
        let scan = try Journal.scan(device, lapSequence: 4)
        #expect(scan.frames.map(\.sequence) == [4, 5, 6])
        #expect(scan.frames.flatMap(\.records).map(\.zxid) == (1...9).map { zxid(Int64($0)) })
        #expect(scan.tornAt == nil && scan.nextSequence == 7)
        // Frames of an older lap are stale: a scan for a newer lap finds nothing.
        #expect(try Journal.scan(device, lapSequence: 9).frames.isEmpty)
    }

    @Test func aDamagedLastFrameIsATornTail() throws {
        let (device, offsets) = try threeFrames()
        device.flip(at: offsets[2] + 100)
        let scan = try Journal.scan(device, lapSequence: 4)
        #expect(scan.frames.map(\.sequence) == [4, 5])
        #expect(scan.tornAt == offsets[2])
    }

    @Test func aDamagedFrameBeforeAValidOneIsCorruption() throws {
        let (device, offsets) = try threeFrames()
        device.flip(at: offsets[1] + 100)
        #expect {
            try Journal.scan(device, lapSequence: 4)
        } throws: { error in
            guard let error = error as? LogError, case .journalCorrupt(let what) = error.kind else { return false }
            return what.contains("offset \(offsets[1])") && what.contains("frame 6")
        }
    }
}

@Suite struct JournaledLogTests {
    static func configuration(journalBytes: Int = 64 << 10, bypass: Int = 1 << 20, background: Bool = false) -> LMDBConfiguration {
        var configuration = LMDBConfiguration(mapSizeBytesInitial: 1 << 20, journalBytes: journalBytes, journalBypassBytes: bypass)
        configuration.backgroundFolds = background
        configuration.preallocationBytes = 0
        return configuration
    }

    @Test func unfoldedRecordsAreReadMergedAndSurviveADroppedLog() throws {
        try withTemporaryDirectory { path in
            var log: LMDBTransactionLog? = try LMDBTransactionLog(environment: LMDBEnvironment(path: path, configuration: Self.configuration()), journalDevice: nil)
            try log!.append(makeRecords(1...10))
            try log!.fold()
            try log!.append(makeRecords(11...20))
            try log!.append(makeRecords(21...25))
            #expect(log!.journalStatistics.unfoldedRecords == 15)
            #expect(logged(try readAll(log!)) == makeRecords(1...25))
            #expect(logged(try log!.records(after: zxid(15), limit: 3)) == makeRecords(16...18))
            #expect(logged(try log!.records(after: zxid(5), limit: 10)) == makeRecords(6...15))
            #expect(try log!.statistics.recordCount == 25 && log!.verify().isEmpty)
            log = nil  // a crash: nothing folded, nothing closed
            let reopened = try LMDBTransactionLog(directory: path, configuration: Self.configuration())
            defer { reopened.close() }
            #expect(reopened.journalReport.recordsPastLog == 15 && reopened.journalReport.frames == 3)
            #expect(logged(try readAll(reopened)) == makeRecords(1...25))
            #expect(reopened.journalStatistics.unfoldedRecords == 0, "a writable open folds the journal into LMDB")
            try reopened.append(makeRecords(26...30))
            #expect(logged(try readAll(reopened)) == makeRecords(1...30))
        }
    }

    @Test func aTruncatedTailNeverComesBackFromTheJournal() throws {
        try withTemporaryDirectory { path in
            var log: LMDBTransactionLog? = try LMDBTransactionLog(directory: path, configuration: Self.configuration())
            try log!.append(makeRecords(1...10))
            try log!.append(makeRecords(11...20))
            let removed = try log!.truncate(after: zxid(12))
            #expect(removed.map(\.txn.zxid) == (13...20).map { zxid($0) })
            try log!.append(makeRecords(13...14, salt: 7))
            log = nil
            let reopened = try LMDBTransactionLog(directory: path, configuration: Self.configuration())
            defer { reopened.close() }
            #expect(logged(try readAll(reopened)) == makeRecords(1...12) + makeRecords(13...14, salt: 7))
        }
    }

    @Test func aLogFullOfLapsKeepsEveryRecord() throws {
        try withTemporaryDirectory { path in
            let log = try LMDBTransactionLog(directory: path, configuration: Self.configuration(journalBytes: 16 << 10, background: true))
            defer { log.close() }
            for start in stride(from: Int64(1), through: 400, by: 4) {
                try log.append(makeRecords(start...(start + 3), payloadBytes: 700))
            }
            #expect(log.journalStatistics.folds > 0)
            #expect(logged(try readAll(log)) == makeRecords(1...400, payloadBytes: 700))
            #expect(log.verify().isEmpty)
        }
    }

    /// The server purges on another thread than its appends: nothing appended is lost, the
    /// chain stays whole, and first/last stay true.
    @Test func purgesOnAnotherThreadLeaveAppendsWhole() throws {
        try withTemporaryDirectory { path in
            let log = try LMDBTransactionLog(directory: path, configuration: Self.configuration(journalBytes: 64 << 10, background: true))
            defer { log.close() }
            let appended = 3000
            let purger = Thread {
                var purges = 0
                while log.lastZxid < zxid(Int64(appended)) {
                    let last = ZxidMath.counter(log.lastZxid)
                    if last > 200 { try? log.purge(through: zxid(last - 100)); purges += 1 }
                }
                #expect(purges > 0)
            }
            purger.start()
            for start in stride(from: Int64(1), through: Int64(appended), by: 3) {
                try log.append(makeRecords(start...(start + 2), payloadBytes: 200))
            }
            while !purger.isFinished { usleep(1000) }
            let first = try #require(log.firstZxid)
            #expect(log.lastZxid == zxid(Int64(appended)))
            let remaining = try readAll(log, after: first - 1)
            #expect(logged(remaining) == makeRecords(ZxidMath.counter(first)...Int64(appended), payloadBytes: 200))
            #expect(log.verify().isEmpty)
        }
    }

    @Test func aFormatOneLogIsUpgradedWhenOpenedForWriting() throws {
        try withTemporaryDirectory { path in
            var plain = Self.configuration(journalBytes: 0)
            plain.journalBytes = 0
            do {
                let log = try LMDBTransactionLog(directory: path, configuration: plain)
                try log.append(makeRecords(1...5))
                log.close()
            }
            RawLMDB.withWriteTransaction(path) { transaction, _, meta in
                RawLMDB.put(transaction, meta, Array("format".utf8), [0, 0, 0, 1])
            }
            var readOnly = Self.configuration()
            readOnly.readOnly = true
            let before = try LMDBTransactionLog(directory: path, configuration: readOnly)
            #expect(before.storedFormatVersion == 1 && !before.journalReport.present)
            #expect(logged(try readAll(before)) == makeRecords(1...5))
            before.close()
            let upgraded = try LMDBTransactionLog(directory: path, configuration: Self.configuration())
            #expect(upgraded.storedFormatVersion == 2 && upgraded.journalReport.present)
            try upgraded.append(makeRecords(6...8))
            upgraded.close()
            let after = try LMDBTransactionLog(directory: path, configuration: readOnly)
            defer { after.close() }
            #expect(after.storedFormatVersion == 2)
            #expect(logged(try readAll(after)) == makeRecords(1...8))
        }
    }

    /// An offline tool opening a live server's log read-only can read `meta/journal` (lap L),
    /// and then the journal after the server has folded everything and begun lap L+1 over it: the
    /// journal then starts with a frame of the new lap followed by frames of the old, which read
    /// as lap L damaged. The open must see that the lap moved, read LMDB and the lap again, and
    /// read what the server wrote. The race is made here by replacing the data dir's files, in
    /// place, with the server's later ones between the open's read of LMDB and of the journal.
    @Test func aReadOnlyOpenRacingANewLapReadsTheNewLap() throws {
        try withTemporaryDirectory { root in
            let (live, before, after, racing, mixed) = (root + "/live", root + "/before", root + "/after", root + "/racing", root + "/mixed")
            for directory in [live, before, after, racing, mixed] {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            }
            let files = ["data.mdb", FileJournalDevice.fileName]
            func copy(_ from: String, _ to: String, _ names: [String] = files) throws {
                for name in names { try FileManager.default.copyItem(atPath: from + "/" + name, toPath: to + "/" + name) }
            }
            // Four frames of journal. Three appends stay in lap L, unfolded; the fifth append
            // finds it full: everything is folded and lap L+1 begins at offset 0.
            let server = try LMDBTransactionLog(directory: live, configuration: Self.configuration(journalBytes: 16 << 10))
            for start in stride(from: Int64(1), through: 5, by: 2) { try server.append(makeRecords(start...(start + 1))) }
            try copy(live, before)
            try server.append(makeRecords(7...8))
            try server.append(makeRecords(9...10))
            #expect(server.journalStatistics.folds > 0, "the fifth append began a new lap")
            try copy(live, after)
            server.close()

            var readOnly = Self.configuration()
            readOnly.readOnly = true
            func lapOf(_ directory: String) throws -> UInt64 {
                let log = try LMDBTransactionLog(directory: directory, configuration: readOnly)
                defer { log.close() }
                return log.journalReport.lapSequence
            }
            let (lapBefore, lapAfter) = (try lapOf(before), try lapOf(after))
            #expect(lapAfter > lapBefore)
            // What the race shows a reader that does not read the lap again: lap L's LMDB, lap
            // L+1's journal. It is refused as damage.
            try copy(before, mixed, ["data.mdb"])
            try copy(after, mixed, [FileJournalDevice.fileName])
            #expect {
                try LMDBTransactionLog(directory: mixed, configuration: readOnly)
            } throws: { error in
                guard let error = error as? LogError, case .journalCorrupt = error.kind else { return false }
                return true
            }

            try copy(before, racing)
            let device = RacingJournalDevice(inner: try #require(try FileJournalDevice.open(directory: racing, capacity: 0, create: false, readOnly: true))) {
                // The server's fold and new lap land now: the same files, rewritten in place.
                for name in files {
                    let bytes = try #require(FileManager.default.contents(atPath: after + "/" + name))
                    let handle = try #require(FileHandle(forWritingAtPath: racing + "/" + name))
                    try handle.write(contentsOf: bytes)
                    try handle.truncate(atOffset: UInt64(bytes.count))
                    try handle.synchronize()
                    try handle.close()
                }
            }
            let log = try LMDBTransactionLog(environment: LMDBEnvironment(path: racing, configuration: readOnly), journalDevice: device)
            defer { log.close() }
            #expect(device.raced, "the files were replaced during the open")
            #expect(log.journalReport.lapSequence == lapAfter, "the open read the new lap")
            #expect(logged(try readAll(log)) == makeRecords(1...10))
            #expect(log.verify().isEmpty)
        }
    }

    @Test func aMissingJournalStopsTheLogNamingIt() throws {
        try withTemporaryDirectory { path in
            let log = try LMDBTransactionLog(directory: path, configuration: Self.configuration())
            try log.append(makeRecords(1...3))
            log.close()
            #expect(unlink(path + "/" + FileJournalDevice.fileName) == 0)
            #expect {
                try LMDBTransactionLog(directory: path, configuration: Self.configuration())
            } throws: { error in
                guard let error = error as? LogError, case .journalCorrupt(let what) = error.kind else { return false }
                return what.contains("missing") && "\(error)".contains("paddock data repair")
            }
        }
    }
}

/// The journal file of a data dir, with `race` run once just before the first read: a test's
/// way to change the data dir between a read-only open's read of LMDB and of the journal.
final class RacingJournalDevice: JournalDevice, @unchecked Sendable {
    let inner: FileJournalDevice
    private var race: (() throws -> Void)?
    private(set) var raced = false

    init(inner: FileJournalDevice, race: @escaping () throws -> Void) {
        self.inner = inner
        self.race = race
    }

    var capacity: Int { inner.capacity }

    func read(at offset: Int, count: Int) throws(LogError) -> [UInt8] {
        if let race {
            self.race = nil
            do { try race() } catch { Issue.record("the race could not be made: \(error)") }
            raced = true
        }
        return try inner.read(at: offset, count: count)
    }

    func writeDurably(_ bytes: [UInt8], at offset: Int) throws(LogError) { try inner.writeDurably(bytes, at: offset) }

    func close() { inner.close() }
}
