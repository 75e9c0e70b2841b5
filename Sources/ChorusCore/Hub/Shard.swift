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
    @exclusivity(unchecked) package private(set) var slab = ConnectionSlab()
    /// Counters, read by metrics and tests on this loop.
    package private(set) var statistics = ShardStatistics()

    private struct Topic {
        var name: ChannelName
        var subscribers: [UInt32]
    }

    private var topicSlots: [ChannelName: UInt32] = [:]
    private var topics: [Topic?] = []
    private var freeTopicSlots: [UInt32] = []
    /// Emptied subscriber lists of channels that went away, for the next new channel: a connection that brings a
    /// channel of its own (a private inbox) would otherwise cost an allocation on every subscribe. Small lists
    /// only, and a bounded number of them (at most ~300 KB).
    private var spareSubscriberLists: [[UInt32]] = []
    private static let maxSpareSubscriberLists = 1024
    private static let maxSpareListCapacity = 64
    private var subscriptionCount = 0

    /// Liveness clock: advanced once per ping interval.
    private var tick: UInt32 = 0
    /// A ping frame with an empty payload, encoded once and shared by every connection.
    private let pingFrame: ByteBuffer

    /// The earliest token expiry (uptime second) among this shard's connections, or `UInt32.max` with none:
    /// lets `expireTokens` skip the scan until something can have expired. May be early (a connection with
    /// that token has gone), never late.
    private var earliestTokenExpiry = UInt32.max
    /// Told when a channel appears on or vanishes from this shard (cluster mode only).
    private let interest: ChannelInterest?
    /// permessage-deflate state, created on first use: a compressor per window size in use and one inflater.
    private var deflaters = WindowBitsSlots<MessageDeflater>()
    private var sharedInflater: MessageInflater?
    private let allocator: ByteBufferAllocator

    /// The one sink of every connection of this shard, when its transport has one for all of them (the epoll
    /// transport: one per loop). A fan-out then calls it directly, instead of loading each block's sink and
    /// retaining and releasing it per subscriber. Set before the first connection registers.
    private var sharedSink: (any ConnectionSink)?

    /// Releases requested while a loop over subscribers is running; applied when it ends.
    private var isIterating = false
    private var deferredReleases: [(ConnectionID, CloseReason)] = []

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

    /// Takes a metadata block for a new connection.
    package func register(_ sink: any ConnectionSink) -> ConnectionID {
        self.eventLoop.preconditionInEventLoop()
        precondition(self.sharedSink.map { $0 === sink } ?? true, "a shard with a shared sink registers only it")
        self.statistics.connectionsAccepted += 1
        return self.slab.acquire(sink: sink, tick: self.tick)
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
    private static func uptimeSecond(_ deadline: NIODeadline, roundingUp: Bool) -> UInt32 {
        let nanoseconds = deadline.uptimeNanoseconds
        let seconds = nanoseconds / 1_000_000_000 + (roundingUp && nanoseconds % 1_000_000_000 != 0 ? 1 : 0)
        return UInt32(clamping: max(1, seconds))
    }

    // MARK: Subscriptions

    /// The result of a subscribe request.
    package enum SubscribeOutcome: Equatable, Sendable {
        case subscribed
        case alreadySubscribed
        case limitReached
        case staleHandle
    }

    /// Adds `channel` to the connection's subscriptions.
    package func subscribe(_ id: ConnectionID, to channel: ChannelName) -> SubscribeOutcome {
        guard self.slab.isValid(id) else { return .staleHandle }
        let existing = self.topicSlots[channel]
        if let existing, self.slab[index: id.index].subscriptions.find(topic: existing) != nil {
            return .alreadySubscribed
        }
        guard self.slab[index: id.index].subscriptions.count < self.settings.maxSubscriptions else {
            return .limitReached
        }
        let slot = existing ?? self.makeTopic(channel)
        let position = UInt32(self.topics[Int(slot)]!.subscribers.count)
        self.topics[Int(slot)]!.subscribers.append(id.index)
        self.slab[index: id.index].subscriptions.insert(Subscription(topic: slot, position: position))
        self.subscriptionCount += 1
        return .subscribed
    }

    /// Removes `channel` from the connection's subscriptions. Returns false if it was not subscribed.
    @discardableResult
    package func unsubscribe(_ id: ConnectionID, from channel: ChannelName) -> Bool {
        guard self.slab.isValid(id), let slot = self.topicSlots[channel],
            let subscription = self.slab[index: id.index].subscriptions.remove(topic: slot)
        else { return false }
        self.removeSubscriber(index: id.index, from: subscription, alreadyRemovedFromSet: true)
        return true
    }

    /// Emptied subscriber lists kept for new channels (for tests).
    package var spareSubscriberListCount: Int { self.spareSubscriberLists.count }

    /// Number of this shard's subscribers of `channel`.
    package func subscriberCount(of channel: ChannelName) -> Int {
        guard let slot = self.topicSlots[channel] else { return 0 }
        return self.topics[Int(slot)]!.subscribers.count
    }

    private func makeTopic(_ channel: ChannelName) -> UInt32 {
        let topic = Topic(name: channel, subscribers: self.spareSubscriberLists.popLast() ?? [])
        let slot: UInt32
        if let free = self.freeTopicSlots.popLast() {
            slot = free
            self.topics[Int(slot)] = topic
        } else {
            slot = UInt32(self.topics.count)
            self.topics.append(topic)
        }
        self.topicSlots[channel] = slot
        self.interest?.shardGained(channel)
        return slot
    }

    /// Swap-removes the connection from the topic's subscriber list, fixing the moved subscriber's position.
    private func removeSubscriber(index: UInt32, from subscription: Subscription, alreadyRemovedFromSet: Bool = false) {
        let slot = Int(subscription.topic)
        let position = Int(subscription.position)
        let lastPosition = self.topics[slot]!.subscribers.count - 1
        precondition(self.topics[slot]!.subscribers[position] == index, "subscription position out of date")
        if position != lastPosition {
            let moved = self.topics[slot]!.subscribers[lastPosition]
            self.topics[slot]!.subscribers[position] = moved
            self.slab[index: moved].subscriptions.updatePosition(topic: subscription.topic, to: UInt32(position))
        }
        self.topics[slot]!.subscribers.removeLast()
        if !alreadyRemovedFromSet {
            self.slab[index: index].subscriptions.remove(topic: subscription.topic)
        }
        self.subscriptionCount -= 1
        if self.topics[slot]!.subscribers.isEmpty {
            let topic = self.topics[slot].take()!
            self.interest?.shardLost(topic.name)
            self.topicSlots[topic.name] = nil
            self.freeTopicSlots.append(subscription.topic)
            if topic.subscribers.capacity <= Self.maxSpareListCapacity,
                self.spareSubscriberLists.count < Self.maxSpareSubscriberLists
            {
                self.spareSubscriberLists.append(topic.subscribers)
            }
        }
    }

    // MARK: Delivery

    /// Writes the shared frame to every subscriber of `channel` on this shard and flushes each once.
    /// Returns the number of subscribers it was written to.
    ///
    /// Per subscriber this does no allocation, no lookup and no logging: the frame's storage is shared. With
    /// `compressed`, subscribers that negotiated permessage-deflate get the compressed frame for their window
    /// size instead, made at most once per message (see `CompressedFrames`) and shared the same way.
    package func deliver(_ frame: Frame, compressed: CompressedFrames? = nil, to channel: ChannelName) -> Int {
        self.eventLoop.preconditionInEventLoop()
        guard let slot = self.topicSlots[channel] else { return 0 }
        self.isIterating = true
        var selection = FrameSelection(plain: frame, compressed: compressed)
        var tally = Tally()
        let subscribers = self.topics[Int(slot)]!.subscribers
        // Held here for the whole loop and lent to each write: read from `selection` (inout) per subscriber, it
        // would be retained and released per subscriber; so would the sink, bound per subscriber.
        let plain = frame.bytes
        if let shared = self.sharedSink {
            for index in subscribers where self.isDeliverable(index) {
                tally.add(self.deliver(&selection, plain, index: index, through: shared))
            }
        } else {
            for index in subscribers where self.isDeliverable(index) {
                tally.add(self.deliver(&selection, plain, index: index, through: self.slab[index: index].sink!))
            }
        }
        self.statistics.deliveries += tally.delivered
        self.statistics.deliveredBytes +=
            (tally.delivered - selection.compressedDeliveries) * frame.wireLength + selection.compressedBytes
        self.statistics.compressedDeliveries += selection.compressedDeliveries
        self.statistics.slowConsumerDrops += tally.dropped
        self.finishIterating()
        return tally.delivered
    }

    /// Writes `frame` to one connection (the echo endpoint's answer) and flushes it, with the same writability
    /// check and slow-consumer policy as a channel delivery. Returns true if it was written. An echo is not a
    /// published message, so it is not counted in `deliveries` (which, against frames encoded, is buffer reuse);
    /// a slow consumer's drops and disconnects are counted as usual.
    @discardableResult
    package func deliver(_ frame: Frame, compressed: CompressedFrames? = nil, toConnection id: ConnectionID) -> Bool {
        self.eventLoop.preconditionInEventLoop()
        guard self.slab.isValid(id), self.isDeliverable(id.index) else { return false }
        self.isIterating = true
        var selection = FrameSelection(plain: frame, compressed: compressed)
        let sink = self.sharedSink ?? self.slab[index: id.index].sink!
        let outcome = self.deliver(&selection, frame.bytes, index: id.index, through: sink)
        if outcome == .dropped { self.statistics.slowConsumerDrops += 1 }
        self.finishIterating()
        return outcome == .delivered
    }

    private enum DeliveryOutcome {
        case delivered
        case dropped
        /// Just disconnected as a slow consumer.
        case skipped
    }

    /// A fan-out's counts of delivered and dropped messages.
    private struct Tally {
        var delivered = 0
        var dropped = 0

        @inline(__always)
        mutating func add(_ outcome: DeliveryOutcome) {
            switch outcome {
            case .delivered: self.delivered += 1
            case .dropped: self.dropped += 1
            case .skipped: break
            }
        }
    }

    /// The frames of one delivery: the plain one, the message's shared compressed forms if any, and the ones
    /// this shard already fetched (so the shared lock is taken once per window size, not per subscriber).
    private struct FrameSelection {
        let plain: Frame
        let compressed: CompressedFrames?
        var fetched = WindowBitsSlots<Frame>()
        var compressedDeliveries = 0
        var compressedBytes = 0
    }

    /// Whether the connection in block `index` takes deliveries: in use and not closing. Field by field, not a copy
    /// of the whole block (which retains its sink and subscription set).
    @inline(__always)
    private func isDeliverable(_ index: UInt32) -> Bool {
        !self.slab[index: index].isClosing && self.slab[index: index].isInUse
    }

    /// One deliverable connection's share of a delivery, through its sink; the caller adds up the shard counters.
    /// `plain` is `selection.plain.bytes`, lent by the caller.
    @inline(__always)
    private func deliver(
        _ selection: inout FrameSelection,
        _ plain: ByteBuffer,
        index: UInt32,
        through sink: any ConnectionSink
    ) -> DeliveryOutcome {
        if self.slab[index: index].isWritable {
            let windowBits = self.slab[index: index].deflateWindowBits
            if windowBits != 0, let compressed = selection.compressed {
                let frame = self.frame(for: windowBits, from: compressed, &selection)
                sink.write(frame.bytes, slot: index)
                if frame.isCompressed {
                    selection.compressedDeliveries += 1
                    selection.compressedBytes += frame.wireLength
                }
            } else {
                sink.write(plain, slot: index)
            }
            sink.flush(slot: index)
            self.slab[index: index].deliveredMessages &+= 1
            return .delivered
        }
        switch self.settings.slowConsumerPolicy {
        case .drop:
            self.slab[index: index].droppedMessages &+= 1
            return .dropped
        case .disconnect:
            self.slab[index: index].isClosing = true
            self.statistics.slowConsumerDisconnects += 1
            sink.close(slot: index, code: .policyViolation, reason: "slow consumer", because: .slowConsumer)
            return .skipped
        }
    }

    private func frame(
        for windowBits: UInt8,
        from compressed: CompressedFrames,
        _ selection: inout FrameSelection
    ) -> Frame {
        if let frame = selection.fetched[windowBits] { return frame }
        let frame = compressed.frame(windowBits: windowBits) { plain in
            self.compress(plain, windowBits: windowBits, evenIfLarger: compressed.alwaysCompress)
        }
        selection.fetched[windowBits] = frame
        return frame
    }

    /// Compresses a message's payload with this shard's deflater for `windowBits`; nil if that did not make it
    /// smaller (or zlib failed), and the plain frame is sent instead.
    private func compress(_ plain: Frame, windowBits: UInt8, evenIfLarger: Bool) -> Frame? {
        let deflater: MessageDeflater
        if let existing = self.deflaters[windowBits] {
            deflater = existing
        } else {
            guard let created = try? MessageDeflater(windowBits: windowBits, allocator: self.allocator) else {
                return nil
            }
            self.deflaters[windowBits] = created
            deflater = created
        }
        guard let payload = deflater.compress(plain.payload, evenIfLarger: evenIfLarger) else { return nil }
        self.statistics.compressedFrames += 1
        self.statistics.compressionInputBytes += plain.payloadLength
        self.statistics.compressionOutputBytes += payload.readableBytes
        return Frame(opcode: plain.opcode, compressedPayload: payload, allocator: self.allocator)
    }

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

    private func finishIterating() {
        self.isIterating = false
        while let (id, reason) = self.deferredReleases.popLast() {
            self.release(id, reason: reason)
        }
    }
}

@available(*, unavailable)
extension Shard: Sendable {}
