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
    private let counters = NIOLockedValueBox(HubCounters())
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
            ChannelInterest { channel, interested in bus.interestChanged(in: channel, interested: interested) }
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
    }

    /// The shard owned by `loop`. Must be called on `loop`.
    public func shard(on loop: any EventLoop) -> Shard {
        guard let index = self.shardIndexByLoop[ObjectIdentifier(loop)] else {
            fatalError("Internal inconsistency: no shard for event loop \(loop)")
        }
        return self.shards[index].value
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
        let accepted = ContinuousClock.now
        guard self.admitPublish() else {
            self.counters.withLockedValue { $0.overloaded[source.rawValue] += 1 }
            return eventLoop.makeFailedFuture(PublishOverloaded(limit: self.maxQueuedPublishes))
        }
        let (frame, compressed) = self.encode(payload, opcode: opcode, source: source)
        var futures: [EventLoopFuture<Int>] = []
        futures.reserveCapacity(self.shards.count)
        for (index, shard) in self.shards.enumerated() {
            let promise = shard.eventLoop.makePromise(of: Int.self)
            shard.eventLoop.execute {
                self.queuedPublishes.withLockedValue { $0[index] -= 1 }
                promise.succeed(shard.value.deliver(frame, compressed: compressed, to: channel))
            }
            futures.append(promise.futureResult)
        }
        let delivered = EventLoopFuture.reduce(0, futures, on: eventLoop, +)
        guard let observer = self.observer else { return delivered }
        return delivered.map { count in
            observer.fannedOut(after: ContinuousClock.now - accepted)
            return count
        }
    }

    /// Takes a place in every shard's queue, or none if any shard already has `maxQueuedPublishes` waiting: a
    /// message goes to all loops or to none, so a refused publisher can retry without anyone getting it twice.
    private func admitPublish() -> Bool {
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
        guard let bus = self.clusterBus else {
            return self.publish(payload, opcode: opcode, to: channel, source: source, on: eventLoop).map {
                .delivered($0)
            }
        }
        return bus.publish(payload, opcode: opcode, to: channel, on: eventLoop).flatMap { outcome in
            switch outcome {
            case .sent(let receivers):
                return eventLoop.makeSucceededFuture(.clustered(receivers: receivers))
            case .notConnected:
                return self.publish(payload, opcode: opcode, to: channel, source: source, on: eventLoop).map {
                    .localOnly($0)
                }
            }
        }
    }

    /// The plain frame, and a holder for its compressed forms when the message is large enough and some
    /// connection negotiated permessage-deflate (nothing is compressed yet: shards do that on first need).
    private func encode(
        _ payload: ByteBuffer,
        opcode: WebSocketOpcode,
        source: PublishSource
    ) -> (Frame, CompressedFrames?) {
        let frame = Frame(opcode: opcode, payload: payload, allocator: self.allocator)
        let anyCompression = self.counters.withLockedValue {
            $0.framesEncoded += 1
            $0.frameBytesEncoded += frame.wireLength
            $0.published[source.rawValue] += 1
            return $0.compressionConnections > 0
        }
        self.observer?.published(payloadBytes: frame.payloadLength, source: source)
        guard anyCompression, frame.payloadLength >= self.compressionMinBytes else { return (frame, nil) }
        return (frame, CompressedFrames(plain: frame))
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
