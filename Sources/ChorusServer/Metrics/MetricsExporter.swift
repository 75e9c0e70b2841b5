import ChorusCore
import NIOConcurrencyHelpers
import NIOCore
import Prometheus

/// Serves `/metrics`: gathers every shard's counters on its own loop (one hop per loop per scrape, nothing
/// on the delivery path), folds them into the registry and renders the Prometheus text format.
public final class MetricsExporter: Sendable {
    /// The exposition format's content type.
    package static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    package let metrics: ChorusMetrics
    private let hub: Hub
    private let state: ServerState
    /// Scrapes are serialised: counters are set from totals and the sampled histogram is rebuilt.
    private let scrape = NIOLockedValueBox<ScrapeState>(ScrapeState())

    private struct ScrapeState {
        var connectionMemory: ValueHistogram?
        /// Resident memory with no connections open, measured when the server started listening.
        var baselineResidentBytes: Int?
    }

    public init(metrics: ChorusMetrics, hub: Hub, state: ServerState) {
        self.metrics = metrics
        self.hub = hub
        self.state = state
    }

    /// Records the idle resident memory that `chorus_memory_per_connection_bytes` is measured against.
    package func recordBaseline() {
        let resident = ProcessMetrics.sample().residentBytes
        self.scrape.withLockedValue { $0.baselineResidentBytes = resident }
    }

    /// The idle resident memory recorded by `recordBaseline` (nil before it).
    package var baselineResidentBytes: Int? { self.scrape.withLockedValue { $0.baselineResidentBytes } }

    /// Collects every shard and renders the exposition text.
    public func render(on eventLoop: any EventLoop) -> EventLoopFuture<ByteBuffer> {
        self.hub.collect(on: eventLoop) { $0.snapshot() }.map { snapshots in
            var bytes: [UInt8] = []
            self.scrape.withLockedValue { scrape in
                self.update(from: snapshots, scrape: &scrape)
                self.metrics.registry.emit(into: &bytes)
            }
            return ByteBuffer(bytes: bytes)
        }
    }

    private func update(from snapshots: [ShardSnapshot], scrape: inout ScrapeState) {
        let m = self.metrics
        var statistics = ShardStatistics()
        var channels = Set<ChannelName>()
        var total = ShardSnapshot()
        for snapshot in snapshots {
            statistics.add(snapshot.statistics)
            channels.formUnion(snapshot.channels)
            total.add(snapshot)
        }
        m.connections.set(Int64(total.connections))
        m.connectionsAccepted.set(total: statistics.connectionsAccepted)
        for reason in CloseReason.allCases {
            m.connectionsClosed[reason.rawValue].set(total: statistics.closed(reason))
        }
        for reason in HandshakeRejectionReason.allCases {
            m.handshakesRejected[reason.rawValue].set(total: self.state.rejections(reason))
        }
        m.acceptFailures.set(total: self.state.acceptFailureCount)
        m.admission.update(from: self.state)
        m.channels.set(Int64(channels.count))
        m.subscriptions.set(Int64(total.subscriptions))

        let hubCounters = self.hub.hubCounters
        for source in PublishSource.allCases {
            m.messagesPublished[source.rawValue].set(total: hubCounters.published[source.rawValue])
            m.publishesOverloaded[source.rawValue].set(total: hubCounters.overloaded[source.rawValue])
        }
        m.framesEncoded.set(total: hubCounters.framesEncoded + statistics.framesEncoded)
        m.frameBytesEncoded.set(total: hubCounters.frameBytesEncoded)
        m.deliveries.set(total: statistics.deliveries)
        m.deliveredBytes.set(total: statistics.deliveredBytes)
        m.slowConsumerDrops.set(total: statistics.slowConsumerDrops)
        m.slowConsumerDisconnects.set(total: statistics.slowConsumerDisconnects)
        m.pongsReplaced.set(total: statistics.pongsReplaced)
        m.outboundPendingBytes.set(Int64(total.pendingOutboundBytes))
        if let bus = self.hub.clusterBus as? RedisClusterBus { m.cluster.update(from: bus.snapshot) }
        m.compression.update(from: statistics, hub: hubCounters)
        m.streams.update(from: self.hub)

        m.poolAcquired.set(total: total.poolAcquired)
        m.poolHits.set(total: total.poolHits)
        m.poolMisses.set(total: total.poolMisses)
        m.poolFreeBuffers.set(Int64(total.poolFreeBuffers))
        m.poolBytes.set(Int64(total.poolBytes))
        m.blocksInUse.set(Int64(total.blocksInUse))
        m.blocksFree.set(Int64(total.blocksFree))
        m.blocksAllocated.set(total: total.blocksAllocated)
        m.blocksReused.set(total: total.blocksReused)

        // A histogram of the connections open now: rebuilt on every scrape, so it never mixes in closed ones.
        if let previous = scrape.connectionMemory { m.registry.unregisterValueHistogram(previous) }
        let histogram = m.registry.makeValueHistogram(
            descriptor: .named(ChorusMetrics.connectionMemoryName, help: ChorusMetrics.connectionMemoryHelp),
            buckets: ChorusMetrics.connectionMemoryBuckets
        )
        for snapshot in snapshots {
            for bytes in snapshot.connectionMemory { histogram.record(Double(bytes)) }
        }
        scrape.connectionMemory = histogram

        let process = ProcessMetrics.sample()
        m.process.update(with: process)
        let baseline = scrape.baselineResidentBytes ?? process.residentBytes
        let perConnection = total.connections > 0 ? max(0, process.residentBytes - baseline) / total.connections : 0
        m.memoryPerConnection.set(Int64(perConnection))
    }
}

extension ShardSnapshot {
    /// Adds another shard's numbers (channels and per-connection samples are combined by the caller).
    mutating func add(_ other: ShardSnapshot) {
        self.connections += other.connections
        self.subscriptions += other.subscriptions
        self.blocksInUse += other.blocksInUse
        self.blocksFree += other.blocksFree
        self.blocksAllocated += other.blocksAllocated
        self.blocksReused += other.blocksReused
        self.poolAcquired += other.poolAcquired
        self.poolHits += other.poolHits
        self.poolMisses += other.poolMisses
        self.poolFreeBuffers += other.poolFreeBuffers
        self.poolBytes += other.poolBytes
        self.pendingOutboundBytes += other.pendingOutboundBytes
    }
}
