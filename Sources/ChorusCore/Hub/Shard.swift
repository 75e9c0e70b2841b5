import NIOCore

/// One event loop's share of the server: its connections' metadata blocks, its channel → subscriber index,
/// its inbound buffer pool and its counters.
///
/// Everything here is touched only on `eventLoop`, so the delivery path takes no locks. Other threads reach a
/// shard only through `eventLoop.execute` (see `Hub`).
public final class Shard {
    /// The loop that owns this shard.
    package let eventLoop: any EventLoop
    /// Limits shared by every connection of this shard.
    package let settings: ShardSettings
    /// Pooled buffers for assembling inbound messages.
    package let pool: InboundBufferPool
    /// Metadata blocks of this loop's connections.
    ///
    /// `@exclusivity(unchecked)`: read once or twice per subscriber per publish, and only ever on the shard's
    /// loop, which cannot overlap two accesses; the runtime check cost more than the rest of the per-subscriber
    /// work (measured with perf on the epoll transport).
    @exclusivity(unchecked) package internal(set) var slab = ConnectionSlab()
    /// Counters, read by metrics and tests on this loop.
    package internal(set) var statistics = ShardStatistics()

    struct Topic {
        var name: ChannelName
        var subscribers: [UInt32]
        /// Deliveries since the status report last read them (`statusSample`): one add per publish, not per delivery.
        var recentDeliveries = 0
    }

    var topicSlots: [ChannelName: UInt32] = [:]
    var topics: [Topic?] = []
    var freeTopicSlots: [UInt32] = []
    /// Emptied subscriber lists of channels that went away, for the next new channel: a connection that brings a
    /// channel of its own (a private inbox) would otherwise cost an allocation on every subscribe. Small lists
    /// only, and a bounded number of them (at most ~300 KB).
    var spareSubscriberLists: [[UInt32]] = []
    static let maxSpareSubscriberLists = 1024
    static let maxSpareListCapacity = 64
    var subscriptionCount = 0

    /// Liveness clock: advanced once per ping interval.
    var tick: UInt32 = 0
    /// The loop's deadlines, both transports' (see `runDueDeadlines`).
    package internal(set) var deadlines: LoopDeadlines
    /// A ping frame with an empty payload, encoded once and shared by every connection.
    let pingFrame: ByteBuffer

    /// The earliest token expiry (uptime second) among this shard's connections, or `UInt32.max` with none:
    /// lets `expireTokens` skip the scan until something can have expired. May be early (a connection with
    /// that token has gone), never late.
    var earliestTokenExpiry = UInt32.max
    /// Told when a channel appears on or vanishes from this shard (cluster mode only).
    let interest: ChannelInterest?
    /// permessage-deflate state, created on first use: a compressor per window size in use and one inflater.
    var deflaters = WindowBitsSlots<MessageDeflater>()
    private var sharedInflater: MessageInflater?
    let allocator: ByteBufferAllocator

    /// The one sink of every connection of this shard, when its transport has one for all of them (the epoll
    /// transport: one per loop). A fan-out then calls it directly, instead of loading each block's sink and
    /// retaining and releasing it per subscriber. Set before the first connection registers.
    var sharedSink: (any ConnectionSink)?

    /// Releases requested while a loop over subscribers is running; applied when it ends.
    var isIterating = false
    var deferredReleases: [(ConnectionID, CloseReason)] = []

    package init(
        eventLoop: any EventLoop,
        settings: ShardSettings,
        allocator: ByteBufferAllocator = .init(),
        interest: ChannelInterest? = nil
    ) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.interest = interest
        self.pool = InboundBufferPool(
            allocator: allocator,
            bufferCapacity: settings.inboundBufferBytes,
            maxFreeBuffers: settings.maxPooledBuffers
        )
        self.pingFrame = FrameEncoder.ping(payload: ByteBuffer(), allocator: allocator)
        self.allocator = allocator
        self.deadlines = LoopDeadlines(
            handshakeTimeout: settings.handshakeTimeout,
            closeTimeout: settings.closeTimeout,
            pingInterval: settings.pingInterval,
            now: .now()
        )
    }

    // MARK: Connections

    /// Connections currently registered.
    package var connectionCount: Int { self.slab.inUse }
    /// Channels with at least one subscriber on this shard.
    package var channelCount: Int { self.topicSlots.count }
    /// Channels with at least one subscriber on this shard.
    package var channelNames: [ChannelName] { Array(self.topicSlots.keys) }
    /// Subscriptions across this shard's connections.
    package var subscriptions: Int { self.subscriptionCount }

    /// Reserves metadata blocks for `connections` connections up front (see `ConnectionSlab.reserveCapacity`).
    package func reserveConnections(_ connections: Int) {
        self.eventLoop.preconditionInEventLoop()
        self.slab.reserveCapacity(connections)
    }

    /// Makes `sink` the sink of every connection this shard will register (see `sharedSink`), before the first
    /// registers; nil lets it go (the transport's loop is exiting), after which a fan-out uses each block's own.
    package func useSharedSink(_ sink: (any ConnectionSink)?) {
        self.eventLoop.preconditionInEventLoop()
        precondition(sink == nil || self.slab.inUse == 0, "a shared sink is set before the first connection")
        self.sharedSink = sink
    }

    /// Takes a metadata block for a new connection (speaking the raw protocol until `setWireProtocol`).
    package func register(_ sink: any ConnectionSink) -> ConnectionID {
        self.eventLoop.preconditionInEventLoop()
        precondition(self.sharedSink.map { $0 === sink } ?? true, "a shard with a shared sink registers only it")
        self.statistics.connectionsAccepted += 1
        return self.slab.acquire(sink: sink, tick: self.tick)
    }

    /// Sets the wire protocol connection `id` speaks (`ConnectionEngine.opened`, as its upgrade decided).
    package func setWireProtocol(_ id: ConnectionID, _ wireProtocol: WireProtocol) {
        guard self.slab.isValid(id) else { return }
        self.slab[index: id.index].wireProtocol = wireProtocol
    }

    /// The wire protocol connection `id` speaks (a live handle).
    package func wireProtocol(of id: ConnectionID) -> WireProtocol {
        self.slab.blocks[Int(id.index)].wireProtocol
    }

    /// Unsubscribes the connection from everything, resets its block and frees it. Stale handles are ignored.
    package func release(_ id: ConnectionID, reason: CloseReason) {
        guard !self.isIterating else {
            self.deferredReleases.append((id, reason))
            return
        }
        guard let block = self.slab.block(id) else { return }
        block.subscriptions.forEach { self.removeSubscriber(index: id.index, from: $0) }
        self.slab.release(id)
        self.statistics.connectionsClosed[reason.rawValue] += 1
    }

    /// The block of a live connection, or nil for a stale handle.
    package func block(_ id: ConnectionID) -> ConnectionBlock? { self.slab.block(id) }

    /// Records that the peer sent something (for idle detection).
    package func touch(_ id: ConnectionID) {
        guard self.slab.isValid(id) else { return }
        self.slab[index: id.index].lastSeenTick = self.tick
    }

    /// Records the transport's writability (false = above its pending-bytes limit).
    package func setWritable(_ id: ConnectionID, _ isWritable: Bool) {
        guard self.slab.isValid(id) else { return }
        self.slab[index: id.index].isWritable = isWritable
    }

    /// Records the permessage-deflate window a connection negotiated (0: none).
    package func setDeflateWindowBits(_ id: ConnectionID, _ windowBits: UInt8) {
        guard self.slab.isValid(id) else { return }
        self.slab[index: id.index].deflateWindowBits = windowBits
    }

    /// The shard's inflater for compressed client messages, shared by all its connections (clients are asked
    /// for client_no_context_takeover, so no message needs another's state). Nil if zlib could not start.
    package var inflater: MessageInflater? {
        if let inflater = self.sharedInflater { return inflater }
        self.sharedInflater = try? MessageInflater()
        return self.sharedInflater
    }

    /// Stops deliveries to a connection that has begun closing.
    package func markClosing(_ id: ConnectionID) {
        guard self.slab.isValid(id) else { return }
        self.slab[index: id.index].isClosing = true
    }

    /// Records when the connection's token expires; `expireTokens` closes it from then on.
    package func setTokenExpiry(_ id: ConnectionID, _ deadline: NIODeadline) {
        guard self.slab.isValid(id) else { return }
        let second = Self.uptimeSecond(deadline, roundingUp: true)
        self.slab[index: id.index].tokenExpirySecond = second
        self.earliestTokenExpiry = min(self.earliestTokenExpiry, second)
    }

    /// `deadline` in whole seconds of uptime (never 0, which means "no token" in a block).
    static func uptimeSecond(_ deadline: NIODeadline, roundingUp: Bool) -> UInt32 {
        let nanoseconds = deadline.uptimeNanoseconds
        let seconds = nanoseconds / 1_000_000_000 + (roundingUp && nanoseconds % 1_000_000_000 != 0 ? 1 : 0)
        return UInt32(clamping: max(1, seconds))
    }
}

@available(*, unavailable)
extension Shard: Sendable {}
