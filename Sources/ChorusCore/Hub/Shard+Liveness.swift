import NIOCore

/// Liveness and limits: control frames counted per second, pings and idle timeouts, token expiry and the
/// shutdown's closes.
extension Shard {
    // MARK: Control frames from the peer

    /// Decides the answer to a peer's ping, counting it against `maxControlFramesPerSecond`.
    ///
    /// RFC 6455 §5.5.3 lets an endpoint answer only the most recent ping, so a peer never has more than one pong
    /// of ours waiting: while one is unwritten (`pongWaiting`), a newer one takes its place. A connection past its
    /// pending-bytes limit gets the slow-consumer policy, as for a delivery (`drop`: the pong still replaces a
    /// waiting one, so it holds at most one); past the rate limit the connection is closed with 1008. Either
    /// close is counted.
    package func pingReceived(_ id: ConnectionID, pongWaiting: Bool, now: NIODeadline = .now()) -> PongAction {
        self.eventLoop.preconditionInEventLoop()
        guard self.slab.isValid(id), !self.slab[index: id.index].isClosing else { return .none }
        guard self.countControlFrame(id, now: now) else { return .none }
        if self.slab[index: id.index].isWritable || self.settings.slowConsumerPolicy == .drop {
            guard pongWaiting else { return .write }
            self.statistics.pongsReplaced += 1
            return .replaceWaiting
        }
        self.slab[index: id.index].isClosing = true
        self.statistics.slowConsumerDisconnects += 1
        let sink = self.sharedSink ?? self.slab[index: id.index].sink!
        sink.close(slot: id.index, code: .policyViolation, reason: "slow consumer", because: .slowConsumer)
        return .none
    }

    /// Counts a peer's pong against `maxControlFramesPerSecond` (it may close the connection, counted).
    package func pongReceived(_ id: ConnectionID, now: NIODeadline = .now()) {
        self.eventLoop.preconditionInEventLoop()
        guard self.slab.isValid(id), !self.slab[index: id.index].isClosing else { return }
        _ = self.countControlFrame(id, now: now)
    }

    /// Counts one control frame in the block's one-second window; false (after starting a 1008 close) when it is
    /// one too many.
    private func countControlFrame(_ id: ConnectionID, now: NIODeadline) -> Bool {
        let limit = self.settings.maxControlFramesPerSecond
        guard limit > 0 else { return true }
        let second = UInt16(truncatingIfNeeded: now.uptimeNanoseconds / 1_000_000_000)
        if self.slab[index: id.index].controlFrameSecond != second {
            self.slab[index: id.index].controlFrameSecond = second
            self.slab[index: id.index].controlFrames = 0
        }
        if Int(self.slab[index: id.index].controlFrames) < limit {
            self.slab[index: id.index].controlFrames += 1
            return true
        }
        self.slab[index: id.index].isClosing = true
        let sink = self.sharedSink ?? self.slab[index: id.index].sink!
        sink.close(
            slot: id.index,
            code: .policyViolation,
            reason: "too many control frames",
            because: .controlFrameFlood
        )
        return false
    }

    // MARK: Liveness and shutdown

    /// Advances the liveness clock: pings every open connection with one shared frame and closes those that
    /// have been silent for at least two whole ping intervals (three ticks without a word: the tick they were
    /// last heard in may have been nearly over).
    package func livenessTick() {
        self.eventLoop.preconditionInEventLoop()
        self.tick &+= 1
        self.isIterating = true
        for index in self.slab.blocks.indices {
            let block = self.slab.blocks[index]
            guard !block.isClosing, let sink = block.sink else { continue }
            if self.tick &- block.lastSeenTick >= 3 {
                self.slab[index: UInt32(index)].isClosing = true
                sink.close(slot: UInt32(index), code: .goingAway, reason: "idle timeout", because: .idleTimeout)
            } else if block.isWritable {
                sink.write(self.pingFrame, slot: UInt32(index))
                sink.flush(slot: UInt32(index))
            }
        }
        self.finishIterating()
    }

    /// Closes, with 1008 "token expired", every connection whose token expired by `now`. Run about once a
    /// second, and only when tokens are configured; costs nothing until the earliest expiry is due.
    package func expireTokens(now: NIODeadline = .now()) {
        self.eventLoop.preconditionInEventLoop()
        let second = Self.uptimeSecond(now, roundingUp: false)
        guard second >= self.earliestTokenExpiry else { return }
        var earliest = UInt32.max
        self.isIterating = true
        for index in self.slab.blocks.indices {
            let block = self.slab.blocks[index]
            guard block.tokenExpirySecond != 0, !block.isClosing, let sink = block.sink else { continue }
            if block.tokenExpirySecond <= second {
                self.slab[index: UInt32(index)].isClosing = true
                sink.close(slot: UInt32(index), code: .policyViolation, reason: "token expired", because: .tokenExpired)
            } else {
                earliest = min(earliest, block.tokenExpirySecond)
            }
        }
        self.earliestTokenExpiry = earliest
        self.finishIterating()
    }

    /// Starts the closing handshake on every open connection (graceful shutdown).
    package func closeAll(code: CloseCode, reason: String, because cause: CloseReason) {
        self.eventLoop.preconditionInEventLoop()
        self.isIterating = true
        for index in self.slab.blocks.indices {
            let block = self.slab.blocks[index]
            guard !block.isClosing, let sink = block.sink else { continue }
            self.slab[index: UInt32(index)].isClosing = true
            sink.close(slot: UInt32(index), code: code, reason: reason, because: cause)
        }
        self.finishIterating()
    }

    func finishIterating() {
        self.isIterating = false
        while let (id, reason) = self.deferredReleases.popLast() {
            self.release(id, reason: reason)
        }
    }
}
