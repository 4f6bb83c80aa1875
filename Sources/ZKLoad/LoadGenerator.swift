import Glibc
import Histogram
import NIOCore
import NIOPosix
import ZKBase
import ZKWire

/// An asynchronous, pipelined load generator speaking the ZooKeeper wire protocol itself: each
/// session keeps `inflight` requests outstanding and writes a batch per read cycle with one flush,
/// so the generator stays cheap next to the server on a 2-core machine.
public enum LoadGenerator {
    public static func run(_ configuration: LoadConfiguration, serverPid: Int32? = nil) throws -> LoadReport {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        defer { try? group.syncShutdownGracefully() }
        try prepare(configuration, group: group)

        var countersByLoop: [ObjectIdentifier: LoadCounters] = [:]
        var channels: [any Channel] = []
        var connectedFutures: [EventLoopFuture<Void>] = []
        for index in 0..<configuration.sessions {
            let loop = group.next()
            let counters = countersByLoop[ObjectIdentifier(loop), default: LoadCounters()]
            countersByLoop[ObjectIdentifier(loop)] = counters
            let connected = loop.makePromise(of: Void.self)
            let target = configuration.hosts[index % configuration.hosts.count]
            let box = UncheckedBox((counters, connected))
            let channel = try ClientBootstrap(group: loop)
                .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(LoadSessionHandler(
                            configuration: configuration, counters: box.value.0, sessionIndex: index, connected: box.value.1))
                    }
                }
                .connect(host: target.host, port: target.port).wait()
            channels.append(channel)
            connectedFutures.append(connected.futureResult)
        }
        defer { for channel in channels { channel.close(promise: nil) } }
        for future in connectedFutures { try future.wait() }
        for channel in channels {
            try channel.eventLoop.submit {
                let context = try channel.pipeline.syncOperations.context(handlerType: LoadSessionHandler.self)
                (context.handler as! LoadSessionHandler).start(context: context)
            }.wait()
        }
        let allCounters = Array(countersByLoop.values)
        sleep(seconds: configuration.warmupSeconds)
        try setMeasuring(true, allCounters, countersByLoop: countersByLoop, group: group)
        let clientBefore = processCPUMicroseconds()
        let serverBefore = serverPid.flatMap(processCPUMicroseconds(pid:))
        let started = monotonicNanoseconds()
        // Whole seconds one by one, counting what completed in each (stalls show in the series).
        var series: [Double] = []
        var counted: UInt64 = 0
        var remaining = configuration.seconds
        while remaining >= 1 {
            let secondStarted = monotonicNanoseconds()
            sleep(seconds: 1)
            let total = try operationsSoFar(countersByLoop: countersByLoop, group: group)
            series.append(Double(total - counted) / (Double(monotonicNanoseconds() - secondStarted) / 1e9))
            counted = total
            remaining -= 1
        }
        if remaining > 0 { sleep(seconds: remaining) }
        try setMeasuring(false, allCounters, countersByLoop: countersByLoop, group: group)
        let elapsed = Double(monotonicNanoseconds() - started) / 1e9
        let clientCPU = processCPUMicroseconds() - clientBefore
        let serverCPU = serverBefore.flatMap { before in serverPid.flatMap(processCPUMicroseconds(pid:)).map { $0 - before } }
        for loop in group.makeIterator() {
            guard let counters = countersByLoop[ObjectIdentifier(loop)] else { continue }
            let box = UncheckedBox(counters)
            try loop.submit { box.value.stopping = true }.wait()
        }

        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var operations: UInt64 = 0
        var errors: UInt64 = 0
        var firstError: String?
        for counters in allCounters {
            histogram.add(counters.latencies)
            operations += counters.operations
            errors += counters.errors
            firstError = firstError ?? counters.firstError
        }
        if operations == 0 { throw LoadError(description: firstError ?? "no operation completed while measuring") }
        return LoadReport(
            operation: configuration.operation.name, sessions: configuration.sessions, inflight: configuration.inflight,
            valueBytes: configuration.valueBytes, seconds: elapsed, operations: operations, errors: errors,
            operationsPerSecond: Double(operations) / elapsed,
            latencyMicrosecondsP50: histogram.valueAtPercentile(50), latencyMicrosecondsP99: histogram.valueAtPercentile(99),
            latencyMicrosecondsP999: histogram.valueAtPercentile(99.9), latencyMicrosecondsMax: histogram.max,
            clientCPUMicrosecondsPerOperation: Double(clientCPU) / Double(operations),
            serverCPUMicrosecondsPerOperation: serverCPU.map { Double($0) / Double(operations) },
            operationsPerSecondSeries: series)
    }

    /// Operations completed while measuring, over all loops (each counters object is read on its loop).
    static func operationsSoFar(countersByLoop: [ObjectIdentifier: LoadCounters], group: MultiThreadedEventLoopGroup) throws -> UInt64 {
        var total: UInt64 = 0
        for loop in group.makeIterator() {
            guard let counters = countersByLoop[ObjectIdentifier(loop)] else { continue }
            let box = UncheckedBox(counters)
            total += try loop.submit { box.value.operations }.wait()
        }
        return total
    }

    static func setMeasuring(_ on: Bool, _ counters: [LoadCounters], countersByLoop: [ObjectIdentifier: LoadCounters], group: MultiThreadedEventLoopGroup) throws {
        // Each counters object is confined to its loop: flip it there.
        for loop in group.makeIterator() {
            guard let counters = countersByLoop[ObjectIdentifier(loop)] else { continue }
            let box = UncheckedBox(counters)
            try loop.submit { box.value.measuring = on }.wait()
        }
    }

    /// Creates the root and the znodes get/set work on (pipelined, NodeExists is fine).
    static func prepare(_ configuration: LoadConfiguration, group: MultiThreadedEventLoopGroup) throws {
        let loop = group.next()
        let done = loop.makePromise(of: Void.self)
        let target = configuration.hosts[0]
        let channel = try ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SetupHandler(configuration: configuration, done: done))
                }
            }
            .connect(host: target.host, port: target.port).wait()
        defer { channel.close(promise: nil) }
        try done.futureResult.wait()
    }

    static func sleep(seconds: Double) {
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 { request = remaining }
    }

    static func processCPUMicroseconds() -> Int64 {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int64(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000 + Int64(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
    }

    /// utime + stime of another process from /proc/<pid>/stat, in microseconds.
    public static func processCPUMicroseconds(pid: Int32) -> Int64? {
        guard let file = fopen("/proc/\(pid)/stat", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 4096)
        guard fgets(&line, Int32(line.count), file) != nil else { return nil }
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command: state is field 3; utime and stime are fields 14 and 15.
        guard fields.count > 13, let user = Int64(fields[11]), let system = Int64(fields[12]) else { return nil }
        let ticks = Int64(sysconf(Int32(_SC_CLK_TCK)))
        return (user + system) * 1_000_000 / max(1, ticks)
    }
}

struct UncheckedBox<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

/// Creates the benchmark's root and znodes, 256 requests in flight.
final class SetupHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let configuration: LoadConfiguration
    private let done: EventLoopPromise<Void>
    private var framing = ClientFraming()
    private var handshakeDone = false
    private var next = -1
    private var outstanding = 0
    private var finished = false

    init(configuration: LoadConfiguration, done: EventLoopPromise<Void>) {
        self.configuration = configuration
        self.done = done
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ClientFraming.connectFrame(allocator: context.channel.allocator)), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !finished { done.fail(LoadError(description: "setup connection closed by the server")) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        framing.append(&incoming)
        while var frame = try? framing.nextFrame() {
            if !handshakeDone {
                handshakeDone = true
                continue
            }
            guard let header = try? ReplyHeader(from: &frame) else { continue }
            outstanding -= 1
            if header.err != 0 && header.err != ErrorCode.nodeExists.rawValue {
                finished = true
                done.fail(LoadError(description: "setup create failed with error \(header.err)"))
                return
            }
        }
        framing.compact()
        send(context)
    }

    private func send(_ context: ChannelHandlerContext) {
        guard !finished else { return }
        let value = [UInt8](repeating: 0x61, count: configuration.valueBytes)
        while outstanding < 256 && next < configuration.znodes {
            // The root goes first and alone, so its children never race it.
            if next == 0 && outstanding > 0 { break }
            let path = next < 0 ? configuration.root : "\(configuration.root)/n\(next)"
            let request = ClientRequest(xid: Int32(next + 2), opCodeRaw: OpCode.create.rawValue, body: .create(
                opCode: .create, CreateRequest(path: path, data: next < 0 ? [] : value, acl: ACL.openUnsafe, flags: 0)))
            let buffer = ClientFraming.requestFrame(request, allocator: context.channel.allocator, capacity: 64 + value.count)
            context.write(wrapOutboundOut(buffer), promise: nil)
            outstanding += 1
            next += 1
        }
        context.flush()
        if next >= configuration.znodes && outstanding == 0 {
            finished = true
            done.succeed(())
        }
    }
}

@available(*, unavailable)
extension SetupHandler: Sendable {}
