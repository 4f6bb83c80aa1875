import NIOCore
import Testing
import ZKBase
import ZKWire

/// Bad input from a peer must throw JuteDecodingError: never crash, never allocate what a length claims.
@Suite struct HostileInputTests {
    /// Calls `decode`; any error other than JuteDecodingError is recorded as an issue.
    private func decodesOrThrowsJute(_ label: String, sourceLocation: SourceLocation = #_sourceLocation, _ decode: () throws -> Void) -> Bool {
        do {
            try decode()
            return true
        } catch is JuteDecodingError {
            return false
        } catch {
            Issue.record("\(label): unexpected error type \(error)", sourceLocation: sourceLocation)
            return false
        }
    }

    @Test func everyTruncatedRequestThrows() {
        var checked = 0
        for sample in Samples.requests {
            let full = encoded(sample)
            for length in 0..<full.count {
                let prefix = Array(full[0..<length])
                #expect(throws: JuteDecodingError.self, "\(sample.body) cut to \(length) of \(full.count) bytes") {
                    _ = try decodeRequest(prefix)
                }
                checked += 1
            }
        }
        #expect(checked > 1000)
    }

    @Test func everyTruncatedResponseThrows() {
        for (opCode, body) in Samples.responses {
            let full = encoded(body)
            for length in 0..<full.count {
                let prefix = Array(full[0..<length])
                #expect(throws: JuteDecodingError.self, "\(opCode) reply cut to \(length) of \(full.count)") {
                    _ = try decodeResponse(opCode, prefix)
                }
            }
        }
    }

    @Test func everyTruncatedTxnThrows() {
        for body in Samples.txnBodies {
            let full = encoded(body)
            for length in 0..<full.count {
                // A closeSession with no body at all is the legacy (pre-CloseSessionTxn) form.
                if case .closeSession = body, length == 0 { continue }
                let prefix = Array(full[0..<length])
                #expect(throws: JuteDecodingError.self, "\(body.opCode) txn cut to \(length) of \(full.count)") {
                    _ = try decodeTxnBody(body.opCode.rawValue, prefix)
                }
            }
        }
    }

    @Test func everyTruncatedConnectRequestThrows() throws {
        let full = ConnectRequest(lastZxidSeen: 9, timeoutMs: 30_000, sessionId: 0x55, password: Array(1...16), readOnly: true).encodedBytes()
        // Only the trailing readOnly byte is optional.
        for length in 0..<(full.count - 1) {
            #expect(throws: JuteDecodingError.self, "connect cut to \(length)") {
                _ = try ConnectRequest.decode(bytes: Array(full[0..<length]))
            }
        }
        #expect(try ConnectRequest.decode(bytes: Array(full.dropLast())).readOnly == nil)
        let response = ConnectResponse(timeoutMs: 30_000, sessionId: 0x55, password: Array(1...16), readOnly: false).encodedBytes()
        for length in 0..<(response.count - 1) {
            #expect(throws: JuteDecodingError.self, "connect response cut to \(length)") {
                _ = try ConnectResponse.decode(bytes: Array(response[0..<length]))
            }
        }
    }

    @Test func randomBytesDecodeOrThrow() {
        var generator = SplitMix64(seed: 0x5EED_2026)
        let opCodes = OpCode.allCases
        var decodedCount = 0
        for round in 0..<4000 {
            let length = Int.random(in: 0...160, using: &generator)
            var input = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Half the inputs carry a real header so the body decoders are reached.
            let opCode = opCodes[Int.random(in: 0..<opCodes.count, using: &generator)]
            if round % 2 == 0 {
                var header = ByteBufferAllocator().buffer(capacity: 8)
                RequestHeader(xid: Int32(round), type: opCode.rawValue).encode(into: &header)
                input = drain(&header) + input
            }
            let requestDecoded = decodesOrThrowsJute("request") { _ = try decodeRequest(input) }
            if requestDecoded { decodedCount += 1 }
            _ = decodesOrThrowsJute("connect") { _ = try ConnectRequest.decode(bytes: input) }
            _ = decodesOrThrowsJute("connect response") { _ = try ConnectResponse.decode(bytes: input) }
            _ = decodesOrThrowsJute("response \(opCode)") { _ = try decodeResponse(opCode, input) }
            _ = decodesOrThrowsJute("txn \(opCode)") { _ = try decodeTxnBody(opCode.rawValue, input) }
            _ = decodesOrThrowsJute("txn") {
                var txnInput = buffer(input)
                _ = try Txn.decode(from: &txnInput)
            }
            _ = decodesOrThrowsJute("event") { _ = try WatcherEvent.decode(bytes: input) }
        }
        #expect(decodedCount > 0, "some random requests should decode (e.g. header-only opcodes)")
    }

    @Test func mutatedValidRequestsDecodeOrThrow() {
        var generator = SplitMix64(seed: 77)
        for sample in Samples.requests {
            let original = encoded(sample)
            for _ in 0..<60 {
                var mutated = original
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    let index = Int.random(in: 0..<mutated.count, using: &generator)
                    mutated[index] = UInt8.random(in: 0...255, using: &generator)
                }
                _ = decodesOrThrowsJute("mutated \(sample.body)") { _ = try decodeRequest(mutated) }
            }
        }
    }

    // MARK: - Huge declared sizes

    private static let hugeLengths: [Int32] = [0x7fff_ffff, 0x1000_0000, 1 << 20, -2, Int32.min]

    @Test(arguments: hugeLengths)
    func hugeStringLengthThrowsBeforeAllocating(_ length: Int32) {
        var out = ByteBufferAllocator().buffer(capacity: 32)
        RequestHeader(xid: 1, type: OpCode.getData.rawValue).encode(into: &out)
        out.writeJuteInt(length)
        out.writeBytes([0x2f, 0x61, 0x00])
        #expect(throws: JuteDecodingError.lengthOutOfRange(field: "GetDataRequest.path", length: length)) {
            _ = try decodeRequest(drain(&out))
        }
    }

    @Test(arguments: hugeLengths)
    func hugeBufferLengthThrowsBeforeAllocating(_ length: Int32) {
        var out = ByteBufferAllocator().buffer(capacity: 32)
        RequestHeader(xid: 1, type: OpCode.setData.rawValue).encode(into: &out)
        out.writeJuteString("/a")
        out.writeJuteInt(length)
        out.writeJuteInt(0)
        #expect(throws: JuteDecodingError.lengthOutOfRange(field: "SetDataRequest.data", length: length)) {
            _ = try decodeRequest(drain(&out))
        }
    }

    @Test(arguments: hugeLengths)
    func hugeACLCountThrowsBeforeAllocating(_ count: Int32) {
        var out = ByteBufferAllocator().buffer(capacity: 32)
        RequestHeader(xid: 1, type: OpCode.setACL.rawValue).encode(into: &out)
        out.writeJuteString("/a")
        out.writeJuteInt(count)
        out.writeBytes([UInt8](repeating: 0, count: 24))
        #expect(throws: JuteDecodingError.lengthOutOfRange(field: "SetACLRequest.acl", length: count)) {
            _ = try decodeRequest(drain(&out))
        }
    }

    @Test(arguments: hugeLengths)
    func hugeStringVectorCountThrowsBeforeAllocating(_ count: Int32) {
        var out = ByteBufferAllocator().buffer(capacity: 32)
        RequestHeader(xid: -8, type: OpCode.setWatches.rawValue).encode(into: &out)
        out.writeJuteLong(0)
        out.writeJuteInt(count)
        out.writeBytes([UInt8](repeating: 0, count: 16))
        #expect(throws: JuteDecodingError.lengthOutOfRange(field: "SetWatches.dataWatches", length: count)) {
            _ = try decodeRequest(drain(&out))
        }
    }

    @Test(arguments: hugeLengths)
    func hugeCountsInRepliesAndTxnsThrow(_ count: Int32) {
        var vector = ByteBufferAllocator().buffer(capacity: 16)
        vector.writeJuteInt(count)
        vector.writeBytes([UInt8](repeating: 0, count: 12))
        let payload = drain(&vector)
        #expect(throws: JuteDecodingError.self) { _ = try decodeResponse(.getChildren, payload) }
        #expect(throws: JuteDecodingError.self) { _ = try decodeResponse(.whoAmI, payload) }
        #expect(throws: JuteDecodingError.self) { _ = try decodeResponse(.getACL, payload) }
        #expect(throws: JuteDecodingError.self) { _ = try decodeResponse(.getData, payload) }
        #expect(throws: JuteDecodingError.self) { _ = try decodeTxnBody(OpCode.multi.rawValue, payload) }
        #expect(throws: JuteDecodingError.self) { _ = try decodeTxnBody(OpCode.closeSession.rawValue, payload) }
        #expect(throws: JuteDecodingError.self) { _ = try ConnectRequest.decode(bytes: bytes(hex: "00000000" + "0000000000000000" + "00007530" + "0000000000000000") + payload) }
    }

    @Test func endlessMultiWithoutEndMarkerThrows() {
        // 50 000 ops and no end marker: the decoder must stop at the end of the frame.
        var out = ByteBufferAllocator().buffer(capacity: 1 << 20)
        RequestHeader(xid: 1, type: OpCode.multi.rawValue).encode(into: &out)
        for _ in 0..<50_000 {
            MultiHeader(type: OpCode.check.rawValue, done: false, err: -1).encode(into: &out)
            out.writeJuteString("/")
            out.writeJuteInt(-1)
        }
        let frame = drain(&out)
        #expect(throws: JuteDecodingError.self) { _ = try decodeRequest(frame) }
    }

    @Test func deeplyNestedMultiTxnThrows() {
        // MultiTxn inside MultiTxn is invalid; a few levels of it must throw, not recurse forever.
        var body = encoded(.multi([.delete(path: "/x")]))
        for _ in 0..<40 {
            var out = ByteBufferAllocator().buffer(capacity: body.count + 16)
            out.writeJuteInt(1)
            out.writeJuteInt(OpCode.multi.rawValue)
            out.writeJuteBuffer(body)
            body = drain(&out)
        }
        #expect(throws: JuteDecodingError.self) { _ = try decodeTxnBody(OpCode.multi.rawValue, body) }
    }
}
