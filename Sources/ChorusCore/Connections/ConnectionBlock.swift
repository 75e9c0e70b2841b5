/// The fixed-size metadata block of one connection, stored in its shard's slab.
///
/// Reset on release: a reused block starts from `init(generation:)`, so nothing of the previous connection
/// (subscriptions, counters, flags, its sink) survives into the next.
package struct ConnectionBlock {
    /// Bumped on every release; a handle whose generation differs is stale.
    package var generation: UInt32
    /// The uptime second (`NIODeadline.uptimeNanoseconds / 1e9`) from which the connection's token is expired;
    /// 0 for a connection without a token. Whole seconds in a `UInt32` fit in the padding after `generation`, so
    /// the block's stride does not grow (80 bytes).
    package var tokenExpirySecond: UInt32 = 0
    /// The connection's socket seam; nil while the block is free.
    package var sink: (any ConnectionSink)?
    /// Channels this connection follows.
    package var subscriptions = SubscriptionSet()
    /// The shard's liveness tick when the peer last sent anything.
    package var lastSeenTick: UInt32 = 0
    /// False while the transport's outbound buffer is above its high-water mark (slow consumer).
    package var isWritable = true
    /// True once a close has started: no more deliveries.
    package var isClosing = false
    /// The permessage-deflate window (9...15) this connection negotiated, 0 for none. One byte that sits in
    /// what was padding, so the block stays 80 bytes: compression costs other connections nothing.
    package var deflateWindowBits: UInt8 = 0
    /// The wire protocol the connection speaks, chosen at its upgrade: the engine dispatches its messages by it.
    /// One byte in the last of the padding after the flags.
    package var wireProtocol = WireProtocol.native
    /// Messages delivered to this connection.
    package var deliveredMessages: UInt64 = 0
    /// Messages skipped for this connection because it was not writable (`drop` policy). 32 bits (wrapping), so
    /// the control-frame counters below fit in the block's 80 bytes.
    package var droppedMessages: UInt32 = 0
    /// Control frames (pings and pongs) the peer sent in the uptime second `controlFrameSecond` (its low 16 bits):
    /// the rate limit's window, kept in the block so that counting needs no table and no timer.
    package var controlFrames: UInt16 = 0
    package var controlFrameSecond: UInt16 = 0

    package init(generation: UInt32) {
        self.generation = generation
    }

    /// True while a connection owns the block.
    package var isInUse: Bool { self.sink != nil }
}
