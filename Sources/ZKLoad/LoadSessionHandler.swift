import Glibc
import Histogram
import NIOCore
import ZKBase
import ZKWire

/// Shared, loop-confined counters of one load run (all sessions run on the load's event loops;
/// each loop has its own `LoadCounters`, merged at the end).
final class LoadCounters {
    var measuring = false
    var stopping = false
    var operations: UInt64 = 0
    var errors: UInt64 = 0
    var firstError: String?
    /// Latencies in microseconds, up to a minute.
    var latencies = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)

    init() {}
}

/// One session: handshake, then keeps `inflight` requests outstanding, writing a batch and
/// flushing once per read cycle. Replies come back in order, so send times and kinds are FIFO.
final class LoadSessionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Kind { case create, set, get }

    private let configuration: LoadConfiguration
    private let counters: LoadCounters
    private let sessionIndex: Int
    private let connected: EventLoopPromise<Void>
    private var random: SplitMix
    private var framing = ClientFraming()
    private var handshakeDone = false
    private var xid: Int32 = 0
    private var createSequence = 0
    private var sentAt: [UInt64] = []
    private var kinds: [Kind] = []
    private var head = 0
    private var outstanding = 0
    private let value: [UInt8]
    /// Random bytes the writes take their values from (`randomValues`), and where the next starts.
    private let randomPool: [UInt8]
    private var poolOffset = 0

    init(configuration: LoadConfiguration, counters: LoadCounters, sessionIndex: Int, connected: EventLoopPromise<Void>) {
        self.configuration = configuration
        self.counters = counters
        self.sessionIndex = sessionIndex
        self.connected = connected
        self.random = SplitMix(state: configuration.seed &+ UInt64(sessionIndex) &* 0x9E37_79B9)
        self.value = (0..<configuration.valueBytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ sessionIndex) }
        if configuration.randomValues {
            var generator = SplitMix(state: configuration.seed ^ (UInt64(sessionIndex) &+ 1) &* 0xD1B5_4A32_D192_ED03)
            // A pool of 1 MiB + one value; successive values start 1 KiB + 7 bytes apart, so
            // each write's value differs from the previous thousand.
            self.randomPool = (0..<((1 << 20) + configuration.valueBytes)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        } else {
            self.randomPool = []
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ClientFraming.connectFrame(allocator: context.channel.allocator)), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connected.fail(LoadError(description: "session \(sessionIndex): connection closed"))
        if !counters.stopping && counters.firstError == nil { counters.firstError = "session \(sessionIndex): connection closed by the server" }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        framing.append(&incoming)
        while var frame = try? framing.nextFrame() {
            if !handshakeDone {
                handshakeDone = true
                connected.succeed(())
                continue
            }
            handleReply(&frame)
        }
        framing.compact()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        fill(context)
    }

    /// Starts the steady state once every session is connected.
    func start(context: ChannelHandlerContext) { fill(context) }

    private func handleReply(_ frame: inout ByteBuffer) {
        guard let header = try? ReplyHeader(from: &frame) else { return }
        if header.xid < 0 { return }  // notifications and pings are not ours
        let now = monotonicNanoseconds()
        let sent = sentAt[head]
        let kind = kinds[head]
        head += 1
        outstanding -= 1
        if head == sentAt.count {
            head = 0
            sentAt.removeAll(keepingCapacity: true)
            kinds.removeAll(keepingCapacity: true)
        }
        let ok = header.err == 0 || (kind == .create && header.err == ErrorCode.nodeExists.rawValue)
        guard counters.measuring else { return }
        counters.operations += 1
        _ = counters.latencies.record(max(1, (now - sent) / 1000))
        if !ok {
            counters.errors += 1
            if counters.firstError == nil { counters.firstError = "\(kind) answered error \(header.err)" }
        }
    }

    private func fill(_ context: ChannelHandlerContext) {
        guard handshakeDone, !counters.stopping else { return }
        var wrote = false
        while outstanding < configuration.inflight {
            let kind = nextKind()
            xid &+= 1
            let buffer = ClientFraming.requestFrame(
                request(kind), allocator: context.channel.allocator, capacity: 64 + configuration.valueBytes)
            sentAt.append(monotonicNanoseconds())
            kinds.append(kind)
            outstanding += 1
            context.write(wrapOutboundOut(buffer), promise: nil)
            wrote = true
        }
        if wrote { context.flush() }
    }

    private func nextKind() -> Kind {
        switch configuration.operation {
        case .create: return .create
        case .set: return .set
        case .get: return .get
        case .mixed(let fraction): return random.nextUnit() < fraction ? .get : .set
        }
    }

    private func nextValue() -> [UInt8] {
        guard !randomPool.isEmpty else { return value }
        poolOffset = (poolOffset + configuration.valueBytes + 7) % (randomPool.count - configuration.valueBytes)
        return Array(randomPool[poolOffset..<(poolOffset + configuration.valueBytes)])
    }

    private func request(_ kind: Kind) -> ClientRequest {
        switch kind {
        case .create:
            createSequence += 1
            let path = "\(configuration.root)/c\(sessionIndex)-\(createSequence)"
            return ClientRequest(xid: xid, opCodeRaw: OpCode.create.rawValue, body: .create(
                opCode: .create, CreateRequest(path: path, data: nextValue(), acl: ACL.openUnsafe, flags: 0)))
        case .set:
            return ClientRequest(xid: xid, opCodeRaw: OpCode.setData.rawValue, body: .setData(path: randomNode(), data: nextValue(), version: -1))
        case .get:
            return ClientRequest(xid: xid, opCodeRaw: OpCode.getData.rawValue, body: .getData(path: randomNode(), watch: false))
        }
    }

    private func randomNode() -> String {
        "\(configuration.root)/n\(Int(random.next() % UInt64(max(1, configuration.znodes))))"
    }
}

@available(*, unavailable)
extension LoadSessionHandler: Sendable {}

public struct LoadError: Error, CustomStringConvertible {
    public var description: String
}

struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

func monotonicNanoseconds() -> UInt64 { DispatchTimeLike.now() }

enum DispatchTimeLike {
    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
