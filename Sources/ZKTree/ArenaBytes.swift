import CMalloc

/// The node table's arena: a byte buffer that grows with `realloc`. Past malloc's mmap threshold
/// (the server fixes it at 1 MiB, MallocTuning) a buffer is its own mapping and glibc's realloc
/// grows it with mremap, which moves page-table entries instead of copying bytes: doubling an
/// arena of a few hundred MiB (the values of a few hundred thousand 1 KiB znodes) then costs
/// microseconds where an Array's growth copied it all on the event loop (a stall of hundreds of
/// milliseconds in every create's latency; README "Paddock vs Apache ZooKeeper"). Below the
/// threshold realloc copies, as an Array would.
///
/// A value with copy-on-write, like the arrays it replaces: a copy of a tree shares the bytes
/// until one side changes them.
struct ArenaBytes: Sendable {
    private final class Storage: @unchecked Sendable {
        // @unchecked: the bytes are only written through a uniquely referenced Storage (the
        // mutating methods below copy a shared one first), as an Array's buffer is.
        var base: UnsafeMutableRawPointer?
        var count = 0
        var capacity = 0

        init() {}

        deinit { free(base) }

        func copy(reserving minimum: Int) -> Storage {
            let fresh = Storage()
            fresh.grow(to: max(minimum, count))
            if count > 0, let base, let target = fresh.base { target.copyMemory(from: base, byteCount: count) }
            fresh.count = count
            return fresh
        }

        func grow(to minimum: Int) {
            guard minimum > capacity else { return }
            let target = max(minimum, capacity * 2, 64)
            guard let grown = realloc(base, target) else {
                preconditionFailure("node table arena: cannot grow to \(target) bytes")
            }
            grown.bindMemory(to: UInt8.self, capacity: target)
            base = grown
            capacity = target
        }
    }

    private var storage = Storage()

    init() {}

    var count: Int { storage.count }
    var capacity: Int { storage.capacity }

    private mutating func makeUnique(reserving minimum: Int) {
        if !isKnownUniquelyReferenced(&storage) {
            storage = storage.copy(reserving: minimum)
        } else if minimum > storage.capacity {
            storage.grow(to: minimum)
        }
    }

    mutating func reserveCapacity(_ minimum: Int) { makeUnique(reserving: minimum) }

    mutating func append(contentsOf bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        let start = storage.count
        makeUnique(reserving: start + bytes.count)
        storage.base!.advanced(by: start).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        storage.count = start + bytes.count
    }

    mutating func append(contentsOf bytes: [UInt8]) {
        bytes.withUnsafeBytes { append(contentsOf: $0) }
    }

    mutating func append(_ byte: UInt8) {
        let start = storage.count
        makeUnique(reserving: start + 1)
        storage.base!.storeBytes(of: byte, toByteOffset: start, as: UInt8.self)
        storage.count = start + 1
    }

    /// The bytes in `range`, copied out.
    func copy(_ range: Range<Int>) -> [UInt8] {
        withUnsafeBufferPointer { Array($0[range]) }
    }

    func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let storage = self.storage
        return try withExtendedLifetime(storage) {
            try body(UnsafeBufferPointer(start: storage.base?.assumingMemoryBound(to: UInt8.self), count: storage.count))
        }
    }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBufferPointer { try body(UnsafeRawBufferPointer($0)) }
    }

    mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<UInt8>) throws -> R) rethrows -> R {
        makeUnique(reserving: 0)
        return try body(UnsafeMutableBufferPointer(start: storage.base?.assumingMemoryBound(to: UInt8.self), count: storage.count))
    }
}
