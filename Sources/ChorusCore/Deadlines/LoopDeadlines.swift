import NIOCore

/// The deadlines of one event loop's connections, for either transport, served by one periodic tick of the loop
/// (`Shard.runDueDeadlines`, every `tickInterval`): close handshakes we started (the close timeout), liveness pings
/// and idle timeouts (every ping interval) and token expiry (every second). The same tick sweeps the requests the
/// epoll transport is still reading (the handshake timeout; a handful at a time, each with its deadline).
///
/// The close timeout is one fixed delay, so its deadlines fall due in the order they were set: a ring
/// (`DeadlineQueue`). Pings, idle timeouts and token expiry are sweeps of the shard's blocks, whose fields
/// (`lastSeenTick`, `tokenExpirySecond`) are the deadlines. Nothing is allocated per deadline and no connection
/// holds a timer object. Loop-confined, held by the loop's `Shard`.
package struct LoopDeadlines {
    /// How long a client may take to send a complete request head.
    package let handshakeTimeout: TimeAmount
    /// How long a connection we started to close waits for the peer's close frame.
    package let closeTimeout: TimeAmount
    /// How often open connections are pinged (and idle ones closed).
    package let pingInterval: TimeAmount
    /// How often the loop checks its deadlines: a deadline is acted on at most this late.
    package let tickInterval: TimeAmount

    /// Close handshakes we started, keyed by connection (`ConnectionID.deadlineKey`).
    var closeHandshakes = DeadlineQueue()
    var nextLiveness: NIODeadline
    var nextTokenCheck: NIODeadline

    package init(handshakeTimeout: TimeAmount, closeTimeout: TimeAmount, pingInterval: TimeAmount, now: NIODeadline) {
        self.handshakeTimeout = handshakeTimeout
        self.closeTimeout = closeTimeout
        self.pingInterval = pingInterval
        self.tickInterval = Self.tickInterval(
            handshakeTimeout: handshakeTimeout,
            closeTimeout: closeTimeout,
            pingInterval: pingInterval
        )
        self.nextLiveness = now + pingInterval
        self.nextTokenCheck = now + .seconds(1)
    }

    /// An eighth of the shortest delay, between 10 ms and 250 ms (4 wake-ups a second for an idle loop with the
    /// defaults).
    package static func tickInterval(
        handshakeTimeout: TimeAmount,
        closeTimeout: TimeAmount,
        pingInterval: TimeAmount
    ) -> TimeAmount {
        let shorter = min(handshakeTimeout.nanoseconds, closeTimeout.nanoseconds, pingInterval.nanoseconds)
        return .nanoseconds(min(max(shorter / 8, 10_000_000), 250_000_000))
    }

    /// Close handshakes waiting for their deadline (those whose connection went included, until they come due).
    package var pendingCloseHandshakes: Int { self.closeHandshakes.count }
}
