import Glibc
import ZKBase

/// A snapshot body read and inflated on a thread of its own, a few chunks ahead of the parser:
/// loading a snapshot is inflating it and building the tree, about equal work at 1M znodes, and
/// on one thread their times add up (a load ran at half of inflate's rate). The thread fills at
/// most `chunkCount` chunks of `chunkBytes` before the parser takes them, so memory stays bounded.
/// Errors (a short file, a corrupt zlib stream) reach the parser in stream order: after the
/// bytes before them.
final class PrefetchingBodySource: @unchecked Sendable {
    static let chunkBytes = 1 << 20
    static let chunkCount = 4

    private let inner: SnapshotBodySource
    /// The caller's file system (a test's simulated disk is task-local): the reading thread
    /// reads through the same one.
    private let fileSystem = PosixFile.simulated
    private let chunks: [UnsafeMutableRawBufferPointer]
    private let lock = NSLockLike()
    // Guarded by `lock`.
    private var freeChunks: [Int]
    /// Filled chunks in stream order: (chunk, byte count).
    private var filledChunks: [(chunk: Int, count: Int)] = []
    private var filledHead = 0
    /// The reading thread is done: the stream ended, or `failure` stopped it.
    private var producerDone = false
    private var failure: SnapshotError?
    private var stopping = false
    private var thread: pthread_t?
    // The parser's side (one thread).
    private var current: (chunk: Int, start: Int, end: Int)?
    private var ended = false

    init(_ inner: SnapshotBodySource) {
        self.inner = inner
        chunks = (0..<Self.chunkCount).map { _ in .allocate(byteCount: Self.chunkBytes, alignment: 16) }
        freeChunks = Array((0..<Self.chunkCount).reversed())
    }

    deinit {
        stop()
        for chunk in chunks { chunk.deallocate() }
    }

    /// Up to `destination.count` more stream bytes; 0 only at the end of the stream (as
    /// `SnapshotBodySource.read`). Starts the reading thread on first use.
    func read(into destination: UnsafeMutableRawBufferPointer) throws(SnapshotError) -> Int {
        precondition(destination.count > 0, "read needs room")
        if ended { return 0 }
        if thread == nil { start() }
        if current == nil || current!.start == current!.end {
            if let done = current { release(done.chunk) }
            current = nil
            let next: (chunk: Int, count: Int)? = try lock.withLock { () throws(SnapshotError) -> (chunk: Int, count: Int)? in
                while filledHead == filledChunks.count {
                    if producerDone {
                        if let failure { throw failure }
                        return nil
                    }
                    lock.wait(milliseconds: nil)
                }
                let taken = filledChunks[filledHead]
                filledHead += 1
                if filledHead == filledChunks.count {
                    filledChunks.removeAll(keepingCapacity: true)
                    filledHead = 0
                }
                return taken
            }
            guard let next else {
                ended = true
                return 0
            }
            current = (next.chunk, 0, next.count)
        }
        let (chunk, start, end) = current!
        let count = min(destination.count, end - start)
        UnsafeMutableRawBufferPointer(rebasing: destination[..<count])
            .copyMemory(from: UnsafeRawBufferPointer(rebasing: chunks[chunk][start..<(start + count)]))
        current = (chunk, start + count, end)
        return count
    }

    /// The CRC32C of the whole file body: valid once `read` returned 0 (the thread is done).
    var fileCRC: UInt32 {
        precondition(ended, "the file CRC is known at the end of the stream")
        return lock.withLock { inner.fileCRC }
    }

    /// Stops the reading thread and waits for it (the file descriptor may be closed after).
    func stop() {
        guard let thread else { return }
        lock.withLock {
            stopping = true
            lock.broadcast()
        }
        pthread_join(thread, nil)
        self.thread = nil
    }

    private func release(_ chunk: Int) {
        lock.withLock {
            freeChunks.append(chunk)
            lock.broadcast()
        }
    }

    private func start() {
        // The thread holds no reference: `stop` (from deinit at the latest) joins it first.
        let unretained = Unmanaged.passUnretained(self).toOpaque()
        var created = pthread_t()
        let result = pthread_create(&created, nil, { raw in
            let source = Unmanaged<PrefetchingBodySource>.fromOpaque(raw!).takeUnretainedValue()
            PosixFile.$simulated.withValue(source.fileSystem) { source.produce() }
            return nil
        }, unretained)
        precondition(result == 0, "cannot start the snapshot reading thread (pthread_create \(result))")
        thread = created
    }

    /// The reading thread: fills free chunks from the inner source until the stream ends, an
    /// error stops it, or the parser stops it.
    private func produce() {
        while true {
            let chunk: Int? = lock.withLock {
                while freeChunks.isEmpty && !stopping { lock.wait(milliseconds: nil) }
                return stopping ? nil : freeChunks.removeLast()
            }
            guard let chunk else { return }
            var count = 0
            var streamEnded = false
            var error: SnapshotError?
            do throws(SnapshotError) {
                while count < Self.chunkBytes {
                    let produced = try inner.read(into: UnsafeMutableRawBufferPointer(rebasing: chunks[chunk][count...]))
                    if produced == 0 {
                        streamEnded = true
                        break
                    }
                    count += produced
                }
            } catch let caught {
                error = caught
            }
            let finished = lock.withLock {
                if count > 0 { filledChunks.append((chunk, count)) } else { freeChunks.append(chunk) }
                if streamEnded || error != nil {
                    producerDone = true
                    failure = error
                }
                lock.broadcast()
                return producerDone
            }
            if finished { return }
        }
    }
}
