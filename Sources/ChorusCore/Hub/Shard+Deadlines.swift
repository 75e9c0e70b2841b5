import NIOCore

extension Shard {
    // MARK: Deadlines

    /// Waits for the peer's answer to the close started on `id`, up to the close timeout; then the connection's
    /// sink is told (`closeTimedOut`). Nothing to cancel: an entry whose connection went is skipped.
    package func awaitPeerClose(_ id: ConnectionID, now: NIODeadline = .now()) {
        self.deadlines.closeHandshakes.add(id.deadlineKey, deadline: now + self.deadlines.closeTimeout)
    }

    /// Acts on every deadline of the loop due by `now`; run by the loop's one periodic tick
    /// (`LoopDeadlines.tickInterval`). Close handshakes still unanswered go to their sinks; then the liveness sweep
    /// (every ping interval) and the token sweep (every second), each a pass over the blocks only when due.
    package func runDueDeadlines(now: NIODeadline = .now()) {
        self.eventLoop.preconditionInEventLoop()
        while let key = self.deadlines.closeHandshakes.popDue(now: now) {
            let id = ConnectionID(deadlineKey: key)
            guard Int(id.index) < self.slab.blocks.count else { continue }
            let block = self.slab.blocks[Int(id.index)]
            // A reused block has another generation; a released one no sink.
            guard block.generation == id.generation, block.isClosing, let sink = block.sink else { continue }
            sink.closeTimedOut(slot: id.index)
        }
        if now >= self.deadlines.nextLiveness {
            self.deadlines.nextLiveness = now + self.deadlines.pingInterval
            self.livenessTick()
        }
        if now >= self.deadlines.nextTokenCheck {
            self.deadlines.nextTokenCheck = now + .seconds(1)
            self.expireTokens(now: now)
        }
    }
}
