import NIOConcurrencyHelpers
import NIOCore

/// The front door of the engine: encodes each published message once and hands the same frame to every
/// shard, with one `execute` per event loop (never one task per subscriber).
///
/// HTTP and client publishes come in through `broadcast`, which hands them to the cluster bus in cluster mode and
/// to `publish` otherwise; the bus hands what Redis delivers to `publish` on every node.
public final class Hub: Sendable {
    /// One shard per event loop, in the group's order.
    package let shards: [NIOLoopBound<Shard>]
    private let shardIndexByLoop: [ObjectIdentifier: Int]
    private let allocator: ByteBufferAllocator
    /// Messages smaller than this are never compressed.
    private let compressionMinBytes: Int
    private let observer: (any PublishObserver)?
    /// The bridge to other nodes in cluster mode (nil: a single node).
    package let clusterBus: (any ClusterBus)?
    /// Channels with local subscribers, kept only in cluster mode (the bus subscribes to just those).
    package let interest: ChannelInterest?
    let counters = NIOLockedValueBox(HubCounters())
    /// Every channel's stream (offsets, epochs, history). Its lock is held while a publish takes its offset and is
    /// handed to the shards' loops, so that every loop receives each channel's messages in offset order, and while a
    /// `chorus.v1` subscription takes its starting point and is queued behind them (see `subscribe(_:to:since:…)`).
    package let streams: NIOLockedValueBox<StreamRegistry>
    /// Publishes handed to each shard's loop and not yet run there, by shard index: the bounded queue between
    /// loops. One lock per publish and one per shard task, never per delivery.
    private let queuedPublishes: NIOLockedValueBox<[Int]>
    private let maxQueuedPublishes: Int
    /// Counters kept by the hub itself: one lock per publish, never per delivery.
    package struct HubCounters: Sendable {
        /// Frames encoded (one per published message).
        package var framesEncoded = 0
        /// Bytes of those frames, headers included.
        package var frameBytesEncoded = 0
        /// Published messages by source (indexed by `PublishSource.rawValue`).
        package var published = [Int](repeating: 0, count: PublishSource.allCases.count)
        /// Open connections that negotiated permessage-deflate: while there are none, a publish prepares no
        /// compressed frames at all.
        package var compressionConnections = 0
        /// Publishes refused because an event loop had `maxQueuedPublishes` waiting, by source.
        package var overloaded = [Int](repeating: 0, count: PublishSource.allCases.count)
        /// Open connections speaking `chorus.v1`: while there are none (and history is off), a publish encodes no
        /// `chorus.v1` rendition.
        package var chorusV1Connections = 0
        /// Resyncs told to `chorus.v1` subscribers, by reason (indexed by `ResyncReason.rawValue`).
        package var resyncs = [Int](repeating: 0, count: ResyncReason.allCases.count)
        /// Messages from the cluster at or below their channel's latest offset here, dropped.
        package var staleMessages = 0
        /// Gaps in a channel's cluster stream filled from the cluster's history (no resync needed), and the
        /// messages read back to fill them.
        package var gapsFilled = 0
        package var gapFilledMessages = 0
    }

    /// Creates a shard on each of `loops`. Must be called before any connection is accepted.
    ///
    /// With a `clusterBus`, `broadcast` goes through it, and the bus is told when a channel gains its first
    /// subscriber on this node or loses its last one.
    public init(
        loops: [any EventLoop],
        settings: ShardSettings,
        observer: (any PublishObserver)? = nil,
        clusterBus: (any ClusterBus)? = nil,
        allocator: ByteBufferAllocator = .init()
    ) {
        precondition(!loops.isEmpty, "a hub needs at least one event loop")
        let interest = clusterBus.map { bus in
            ChannelInterest { channel, interested in
                // A system channel is this node's own: never subscribed to in Redis.
                guard !channel.isSystem else { return }
                bus.interestChanged(in: channel, interested: interested)
            }
        }
        var shards: [NIOLoopBound<Shard>] = []
        var indexByLoop: [ObjectIdentifier: Int] = [:]
        for (index, loop) in loops.enumerated() {
            // Each shard is created on its own loop and from then on used only there.
            let make: @Sendable () -> NIOLoopBound<Shard> = {
                NIOLoopBound(
                    Shard(eventLoop: loop, settings: settings, allocator: allocator, interest: interest),
                    eventLoop: loop
                )
            }
            let shard = loop.inEventLoop ? make() : try! loop.submit(make).wait()
            shards.append(shard)
            indexByLoop[ObjectIdentifier(loop)] = index
        }
        self.shards = shards
        self.shardIndexByLoop = indexByLoop
        self.queuedPublishes = NIOLockedValueBox([Int](repeating: 0, count: shards.count))
        self.maxQueuedPublishes = settings.maxQueuedPublishes
        self.allocator = allocator
        self.compressionMinBytes = settings.compressionMinBytes
        self.observer = observer
        self.clusterBus = clusterBus
        self.interest = interest
        self.streams = NIOLockedValueBox(StreamRegistry(settings: settings.history))
    }

    /// The shard owned by `loop`. Must be called on `loop`.
    public func shard(on loop: any EventLoop) -> Shard {
        self.shards[self.shardIndex(on: loop)].value
    }

    /// Encodes `payload` once as a text or binary frame and delivers it to every local subscriber of
    /// `channel`. The future (on `eventLoop`) carries the number of subscribers it was written to.
    public func publish(
        _ payload: ByteBuffer,
        opcode: WebSocketOpcode,
        to channel: ChannelName,
        source: PublishSource,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<Int> {
        self.publish(payload, opcode: opcode, to: channel, source: source, on: eventLoop, options: PublishOptions()).1
    }

    /// Gives the message its place in the channel's stream (the next offset, or `options.position` when the cluster
    /// assigned it), encodes it once per wire protocol in use, keeps it in the channel's history and delivers it to
    /// every local subscriber. Returns the position and, on `eventLoop`, the number of subscribers it was written to.
    package func publish(
        _ payload: ByteBuffer,
        opcode: WebSocketOpcode,
        to channel: ChannelName,
        source: PublishSource,
        on eventLoop: any EventLoop,
        options: PublishOptions
    ) -> (StreamPosition?, EventLoopFuture<Int>) {
        let accepted = ContinuousClock.now
        guard self.admitPublish() else {
            self.counters.withLockedValue { $0.overloaded[source.rawValue] += 1 }
            return (nil, eventLoop.makeFailedFuture(PublishOverloaded(limit: self.maxQueuedPublishes)))
        }
        let (native, anyCompression, anyChorusV1) = self.encode(payload, opcode: opcode, source: source)
        let message = HeldArrival(
            payload: payload,
            opcode: opcode,
            native: native,
            anyCompression: anyCompression,
            anyChorusV1: anyChorusV1,
            options: options
        )
        return self.place(message, on: channel, on: eventLoop, accepted: accepted)
    }

    /// What became of a message from the cluster that `place` did not deliver.
    private enum Withheld {
        case stale
        case held
        case startFill(id: UInt64, last: StreamPosition, before: UInt64)
        case fillFull(id: UInt64)
    }

    /// `publish` after admission and the native encoding (also for a held message, encoded when it arrived).
    func place(
        _ message: HeldArrival,
        on channel: ChannelName,
        on eventLoop: any EventLoop,
        accepted: ContinuousClock.Instant
    ) -> (StreamPosition?, EventLoopFuture<Int>) {
        let options = message.options
        var futures: [EventLoopFuture<Int>] = []
        futures.reserveCapacity(self.shards.count)
        let now = NIODeadline.now()
        var withheld: Withheld?
        let position = self.streams.withLockedValue { streams -> StreamPosition? in
            let position: StreamPosition
            var resync: StreamPosition?
            if let assigned = options.position {
                let fillingGaps = options.fillsGaps && self.clusterBus != nil
                switch streams.record(channel, at: assigned, now: now, fillingGaps: fillingGaps) {
                case .next:
                    break
                case .stale:
                    withheld = .stale
                    return nil
                case .held(let id):
                    withheld = streams.hold(message, on: channel) ? .held : .fillFull(id: id)
                    return nil
                case .filling(let id, let last):
                    _ = streams.hold(message, on: channel)
                    withheld = .startFill(id: id, last: last, before: assigned.offset)
                    return nil
                case .gap(let last):
                    resync = last
                    self.counters.withLockedValue { $0.resyncs[ResyncReason.gap.rawValue] += 1 }
                case .newEpoch(let last):
                    resync = last
                    self.counters.withLockedValue { $0.resyncs[ResyncReason.newEpoch.rawValue] += 1 }
                }
                position = assigned
            } else {
                position = streams.advance(channel, now: now)
            }
            var delivery = Delivery(native: message.native, position: position, isJSON: options.isJSON)
            delivery.resync = resync.map { last in
                let reply = ChorusV1Replies.resync(channel, last)
                return FrameEncoder.encode(opcode: .text, payload: ByteBuffer(string: reply))
            }
            if message.anyChorusV1 || streams.settings.isOn {
                let (frame, dataRange) = ChorusV1Envelope.frame(
                    message.payload,
                    opcode: message.opcode,
                    isJSON: options.isJSON,
                    channel: channel,
                    position: position
                ) { streams.arena.frame(opcode: $0, payloadLength: $1, writePayload: $2) }
                let compressed = self.compressedForms(of: frame, message.anyCompression)
                let rendition = Rendition(plain: frame, compressed: compressed)
                delivery.chorusV1 = rendition
                streams.keep(
                    HistoryEntry(offset: position.offset, rendition: rendition, dataRange: dataRange),
                    on: channel
                )
                self.counters.withLockedValue {
                    $0.framesEncoded += 1
                    $0.frameBytesEncoded += frame.wireLength
                }
            }
            // Handed over under the lock: each loop then runs every channel's messages in offset order.
            for (index, shard) in self.shards.enumerated() {
                let promise = shard.eventLoop.makePromise(of: Int.self)
                // A `let`: a `var` captured by the task would be boxed, one more allocation per publish.
                let forShard = delivery.excluding(options.excluded?.shard == index ? options.excluded?.id : nil)
                shard.eventLoop.execute {
                    self.queuedPublishes.withLockedValue { $0[index] -= 1 }
                    promise.succeed(shard.value.deliver(forShard, to: channel))
                }
                futures.append(promise.futureResult)
            }
            return position
        }
        guard let position else {
            // Not delivered now: its places in the loops' queues are given back.
            self.queuedPublishes.withLockedValue { queued in
                for index in queued.indices { queued[index] -= 1 }
            }
            switch withheld {
            case .stale, nil:
                // Already delivered here (the cluster sent it twice).
                self.counters.withLockedValue { $0.staleMessages += 1 }
            case .held:
                break
            case .startFill(let id, let last, let before):
                self.fillGap(channel, id: id, after: last, before: before, on: eventLoop)
            case .fillFull(let id):
                // Too much arrived behind the gap: given up (a resync), then this message goes after the held ones.
                self.endFill(channel, id: id, read: nil, on: eventLoop)
                var late = message
                late.options.fillsGaps = false
                self.replay(late, on: channel, on: eventLoop)
            }
            return (options.position, eventLoop.makeSucceededFuture(0))
        }
        let delivered = EventLoopFuture.reduce(0, futures, on: eventLoop, +)
        guard let observer = self.observer else { return (position, delivered) }
        return (
            position,
            delivered.map { count in
                observer.fannedOut(after: ContinuousClock.now - accepted)
                return count
            }
        )
    }

    /// Starts a `chorus.v1` subscription of a connection on `loop` to `channel`: takes the channel's position now (and,
    /// with `since`, what the subscriber missed) and runs `start` on `loop` after every message published up to that
    /// position has reached that loop and before any later one does — so the subscription misses nothing and
    /// receives nothing twice, however publishes interleave.
    ///
    /// In cluster mode, a channel this node has no stream for takes the cluster's position first, and a recovery this
    /// node's history cannot answer reads the cluster's history; with the bus down it is answered from here.
    package func startSubscription(
        on loop: any EventLoop,
        to channel: ChannelName,
        since: StreamPosition?,
        then start: @escaping @Sendable (Shard, SubscriptionStart) -> Void
    ) {
        guard let bus = self.clusterBus, bus.isConnected, self.needsCluster(channel, since: since) else {
            return self.startSubscription(on: loop, to: channel, since: since, cluster: nil, then: start)
        }
        let limit = since == nil ? 0 : self.streams.withLockedValue { $0.settings.recoveryMaxMessages } + 1
        bus.readStream(channel, after: since?.offset ?? 0, limit: limit, on: loop).whenComplete { result in
            // Without an answer from the cluster, this node answers with what it has.
            let read = try? result.get()
            self.startSubscription(on: loop, to: channel, since: since, cluster: read, then: start)
        }
    }

    /// Whether a subscription must ask the cluster first: this node knows nothing of the channel, or cannot replay
    /// what the subscriber missed.
    private func needsCluster(_ channel: ChannelName, since: StreamPosition?) -> Bool {
        if channel.isSystem { return false }
        if let interest = self.interest, !interest.contains(channel) { return true }
        return self.streams.withLockedValue { streams in
            guard streams.existingPosition(of: channel) != nil else { return true }
            guard let since, streams.settings.isOn else { return false }
            return !streams.canRecoverLocally(channel, since: since)
        }
    }

    private func startSubscription(
        on loop: any EventLoop,
        to channel: ChannelName,
        since: StreamPosition?,
        cluster read: ClusterStreamRead?,
        then start: @escaping @Sendable (Shard, SubscriptionStart) -> Void
    ) {
        let shard = self.shards[self.shardIndex(on: loop)]
        // The cluster's messages as `chorus.v1` renditions (encoded here, for this subscriber only).
        var fromCluster: [HistoryEntry] = []
        if let read, let epoch = read.position?.epoch {
            fromCluster = read.messages.map { message in
                let (frame, dataRange) = ChorusV1Envelope.frame(
                    message.payload,
                    opcode: message.opcode,
                    isJSON: message.isJSON,
                    channel: channel,
                    position: StreamPosition(offset: message.offset, epoch: epoch)
                )
                return HistoryEntry(
                    offset: message.offset,
                    rendition: Rendition(plain: frame, compressed: nil),
                    dataRange: dataRange
                )
            }
        }
        let now = NIODeadline.now()
        self.streams.withLockedValue { streams in
            if let position = read?.position {
                streams.adopt(channel, at: position, refresh: !(self.interest?.contains(channel) ?? true), now: now)
            }
            let subscription: SubscriptionStart
            if let since {
                let recovery = streams.recover(channel, since: since, now: now, cluster: fromCluster)
                subscription = SubscriptionStart(
                    position: recovery.position,
                    recovery: recovery.outcome,
                    missed: recovery.missed
                )
            } else {
                subscription = SubscriptionStart(position: streams.position(of: channel, now: now))
            }
            // Queued under the lock, behind every delivery of a message up to `position`.
            shard.eventLoop.execute { start(shard.value, subscription) }
        }
    }

    /// Runs `body` on the shard of `loop`, queued behind everything already handed to that loop (deliveries and
    /// subscriptions being started).
    package func runInOrder(on loop: any EventLoop, _ body: @escaping @Sendable (Shard) -> Void) {
        let shard = self.shards[self.shardIndex(on: loop)]
        shard.eventLoop.execute { body(shard.value) }
    }

    /// The index of the shard owned by `loop`.
    package func shardIndex(on loop: any EventLoop) -> Int {
        guard let index = self.shardIndexByLoop[ObjectIdentifier(loop)] else {
            fatalError("Internal inconsistency: no shard for event loop \(loop)")
        }
        return index
    }

    /// Takes a place in every shard's queue, or none if any shard already has `maxQueuedPublishes` waiting: a
    /// message goes to all loops or to none, so a refused publisher can retry without anyone getting it twice.
    func admitPublish() -> Bool {
        self.queuedPublishes.withLockedValue { queued in
            for count in queued where count >= self.maxQueuedPublishes { return false }
            for index in queued.indices { queued[index] += 1 }
            return true
        }
    }

    /// Publishes from a publisher (HTTP or a client): through the cluster bus when there is one, so that every
    /// node (this one included) delivers it once when it comes back; locally otherwise. With the bus down the
    /// message is delivered locally only and the result says so. The future completes on `eventLoop`; it fails
    /// when the bus took the message but lost its connection before Redis confirmed it (then the message may or
    /// may not have gone out, and it is not delivered locally, so that nobody can get it twice).
    public func broadcast(
        _ payload: ByteBuffer,
        opcode: WebSocketOpcode,
        to channel: ChannelName,
        source: PublishSource,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<PublishResult> {
        self.broadcast(payload, opcode: opcode, to: channel, source: source, on: eventLoop, options: PublishOptions())
    }

    /// `broadcast` with a publish's options (a JSON payload, a publisher that does not want its message back).
    package func broadcast(
        _ payload: ByteBuffer,
        opcode: WebSocketOpcode,
        to channel: ChannelName,
        source: PublishSource,
        on eventLoop: any EventLoop,
        options: PublishOptions
    ) -> EventLoopFuture<PublishResult> {
        guard let bus = self.clusterBus else {
            return self.publishHere(
                payload,
                opcode: opcode,
                to: channel,
                source: source,
                on: eventLoop,
                options: options
            )
        }
        return bus.publish(
            payload,
            opcode: opcode,
            to: channel,
            isJSON: options.isJSON,
            excluding: options.excluded,
            on: eventLoop
        ).flatMap { outcome in
            switch outcome {
            case .sent(let receivers, let position):
                let result = PublishResult(reach: .clustered(receivers: receivers), position: position)
                return eventLoop.makeSucceededFuture(result)
            case .notConnected:
                return self.publishHere(
                    payload,
                    opcode: opcode,
                    to: channel,
                    source: source,
                    on: eventLoop,
                    options: options,
                    busDown: true
                )
            }
        }
    }

    /// `publish` as a publisher's answer: delivered here, on a single node or (`busDown`) with Redis away.
    private func publishHere(
        _ payload: ByteBuffer,
        opcode: WebSocketOpcode,
        to channel: ChannelName,
        source: PublishSource,
        on eventLoop: any EventLoop,
        options: PublishOptions,
        busDown: Bool = false
    ) -> EventLoopFuture<PublishResult> {
        let (position, delivered) = self.publish(
            payload,
            opcode: opcode,
            to: channel,
            source: source,
            on: eventLoop,
            options: options
        )
        return delivered.map { PublishResult(reach: busDown ? .localOnly($0) : .delivered($0), position: position) }
    }

    /// The raw rendition (the plain frame, and a holder for its compressed forms when the message is large enough
    /// and some connection negotiated permessage-deflate: nothing is compressed yet, shards do that on first need),
    /// and whether any connection speaks `chorus.v1`.
    private func encode(
        _ payload: ByteBuffer,
        opcode: WebSocketOpcode,
        source: PublishSource
    ) -> (Rendition, anyCompression: Bool, anyChorusV1: Bool) {
        let frame = Frame(opcode: opcode, payload: payload)
        let (anyCompression, anyChorusV1) = self.counters.withLockedValue {
            $0.framesEncoded += 1
            $0.frameBytesEncoded += frame.wireLength
            $0.published[source.rawValue] += 1
            return ($0.compressionConnections > 0, $0.chorusV1Connections > 0)
        }
        self.observer?.published(payloadBytes: frame.payloadLength, source: source)
        return (
            Rendition(plain: frame, compressed: self.compressedForms(of: frame, anyCompression)), anyCompression,
            anyChorusV1
        )
    }

    /// A holder for the compressed forms of `frame`, or nil when no connection compresses or it is too small.
    private func compressedForms(of frame: Frame, _ anyCompression: Bool) -> CompressedFrames? {
        guard anyCompression, frame.payloadLength >= self.compressionMinBytes else { return nil }
        return CompressedFrames(plain: frame)
    }

    /// Counts a connection that speaks `chorus.v1`, from its upgrade to its release.
    package func chorusV1ConnectionOpened() {
        self.counters.withLockedValue { $0.chorusV1Connections += 1 }
    }

    /// Uncounts a connection counted by `chorusV1ConnectionOpened`.
    package func chorusV1ConnectionClosed() {
        self.counters.withLockedValue { $0.chorusV1Connections -= 1 }
    }

    /// Counts a connection that negotiated permessage-deflate, from its upgrade to its release.
    package func compressionConnectionOpened() {
        self.counters.withLockedValue { $0.compressionConnections += 1 }
    }

    /// Uncounts a connection counted by `compressionConnectionOpened`.
    package func compressionConnectionClosed() {
        self.counters.withLockedValue { $0.compressionConnections -= 1 }
    }

    /// A snapshot of the hub's own counters.
    package var hubCounters: HubCounters { self.counters.withLockedValue { $0 } }

    // MARK: Whole-server views

    /// Runs `body` on every shard's loop and collects the results in shard order.
    package func collect<T: Sendable>(
        on eventLoop: any EventLoop,
        _ body: @escaping @Sendable (Shard) -> T
    ) -> EventLoopFuture<[T]> {
        let futures = self.shards.map { shard in
            shard.eventLoop.submit { body(shard.value) }
        }
        return EventLoopFuture.whenAllSucceed(futures, on: eventLoop)
    }

    /// Every shard's counters, added up.
    package func statistics(on eventLoop: any EventLoop) -> EventLoopFuture<ShardStatistics> {
        self.collect(on: eventLoop) { $0.statistics }.map { all in
            all.reduce(into: ShardStatistics()) { $0.add($1) }
        }
    }

    /// Starts the closing handshake on every connection of every shard.
    package func closeAll(code: CloseCode, reason: String, because cause: CloseReason) {
        for shard in self.shards {
            shard.eventLoop.execute { shard.value.closeAll(code: code, reason: reason, because: cause) }
        }
    }
}
