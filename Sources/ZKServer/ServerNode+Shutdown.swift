import NIOCore

/// A graceful stop (SIGTERM), in ZooKeeper's order: stop reading requests, let the txns in
/// flight become durable and their replies go out, then close the client connections. Sessions
/// are not closed: they stay in the tree and the log, valid for a reconnect after a restart (or
/// at another member) until their timeout.
extension ServerNode {
    /// Stops reading client sockets; the future completes once no log batch is in flight or
    /// queued and no txn waits for its commit (or at `deadline`: an ensemble member without a
    /// quorum may never commit). Call on the node loop.
    func drain(deadline: NIODeadline) -> EventLoopFuture<Void> {
        loop.preconditionInEventLoop()
        draining = true
        for id in connections.keys { pauseReadingIfBusy(id) }
        let promise = loop.makePromise(of: Void.self)
        drainWaiters.append(promise)
        loop.scheduleTask(deadline: deadline) { [self] in
            if !drainWaiters.isEmpty {
                logger.warning("stopping with \(batch.count + core.outstandingTxnCount) txn(s) still in flight")
            }
            finishDrain()
        }
        // Txns the last read cycle made go to the log now.
        submitBatchIfIdle()
        completeDrainIfIdle()
        return promise.futureResult
    }

    func completeDrainIfIdle() {
        guard !drainWaiters.isEmpty else { return }
        let idle = !batchInFlight && batch.isEmpty && core.outstandingTxnCount == 0
        if idle || stopped { finishDrain() }
    }

    private func finishDrain() {
        flushWrites()
        let waiters = drainWaiters
        drainWaiters = []
        for waiter in waiters { waiter.succeed(()) }
    }

    /// Closes every client connection once what was written to it has been sent. Call on the node loop.
    func closeClientConnections() -> EventLoopFuture<Void> {
        loop.preconditionInEventLoop()
        closingAllConnections = true
        flushWrites()
        let closes = connections.values.map { entry -> EventLoopFuture<Void> in
            let channel = entry.channel
            return channel.writeAndFlush(allocator.buffer(capacity: 0)).flatMapError { _ in channel.eventLoop.makeSucceededVoidFuture() }
                .flatMap { channel.close() }.flatMapError { _ in channel.eventLoop.makeSucceededVoidFuture() }
        }
        return EventLoopFuture.andAllComplete(closes, on: loop)
    }
}
