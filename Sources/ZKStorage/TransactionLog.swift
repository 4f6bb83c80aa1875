import NIOCore
import ZKWire

/// Where txns become durable. The server hands it batches (group commit: one append + one sync
/// per batch) from a single writer thread and replies only after `append` returns.
/// Issue 3 replaces the in-memory implementation with the LMDB log; the contract stays.
public protocol TransactionLog: AnyObject, Sendable {
    /// Appends txns in zxid order and makes them durable before returning.
    func append(_ txns: [Txn]) throws
    /// Every txn with zxid > `zxid`, in order (replay after a snapshot, follower catch-up).
    func txns(after zxid: Int64) throws -> [Txn]
    var lastZxid: Int64 { get }
}

/// A log kept in memory: durable for the life of the process only. It still serialises every
/// txn to its jute bytes and back, so the path is the one the on-disk log takes.
public final class InMemoryTransactionLog: TransactionLog, @unchecked Sendable {
    private var records: [(zxid: Int64, bytes: [UInt8])] = []
    private let lock = NSLockLike()

    public init() {}

    public func append(_ txns: [Txn]) throws {
        lock.withLock {
            for txn in txns {
                precondition(txn.zxid > (records.last?.zxid ?? 0), "log append out of zxid order")
                var buffer = ByteBufferAllocator().buffer(capacity: 128)
                txn.encode(into: &buffer)
                records.append((txn.zxid, buffer.readBytes(length: buffer.readableBytes) ?? []))
            }
        }
    }

    public func txns(after zxid: Int64) throws -> [Txn] {
        try lock.withLock {
            try records.filter { $0.zxid > zxid }.map { record in
                var buffer = ByteBufferAllocator().buffer(bytes: record.bytes)
                return try Txn.decode(from: &buffer)
            }
        }
    }

    public var lastZxid: Int64 { lock.withLock { records.last?.zxid ?? 0 } }
}
