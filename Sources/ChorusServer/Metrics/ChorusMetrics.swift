import ChorusCore
import Prometheus

/// Every metric Chorus exports, created once with its name and help text. The names are a contract:
/// `dashboards/` and the alert rules depend on them.
public struct ChorusMetrics: Sendable {
    package let registry: PrometheusCollectorRegistry

    let buildInfo: Gauge
    let connections: Gauge
    let connectionsAccepted: Counter
    let connectionsClosed: [Counter]  // indexed by CloseReason.rawValue
    let handshakesRejected: [Counter]  // indexed by HandshakeRejectionReason.rawValue
    let acceptFailures: Counter
    let channels: Gauge
    let subscriptions: Gauge
    let messagesPublished: [Counter]  // indexed by PublishSource.rawValue
    let publishesOverloaded: [Counter]  // indexed by PublishSource.rawValue
    let messageSize: ValueHistogram
    let framesEncoded: Counter
    let frameBytesEncoded: Counter
    let deliveries: Counter
    let deliveredBytes: Counter
    let slowConsumerDrops: Counter
    let slowConsumerDisconnects: Counter
    let pongsReplaced: Counter
    let outboundPendingBytes: Gauge
    let poolAcquired: Counter
    let poolHits: Counter
    let poolMisses: Counter
    let poolFreeBuffers: Gauge
    let poolBytes: Gauge
    let blocksInUse: Gauge
    let blocksFree: Gauge
    let blocksAllocated: Counter
    let blocksReused: Counter
    let blockBytes: Gauge
    let memoryPerConnection: Gauge
    let fanout: DurationHistogram
    let compression: CompressionMetrics
    let streams: StreamMetrics
    let process: ProcessMetrics
    let cluster: ClusterMetrics
    let admission: AdmissionMetrics

    static let connectionMemoryName = "chorus_connection_memory_bytes"
    static let connectionMemoryHelp =
        "Bytes each open connection accounts for, sampled at scrape time: its metadata block, the epoll transport's "
        + "record, subscription storage, inbound assembly buffers and queued outbound bytes (not NIO's channel "
        + "object or kernel buffers)."
    static let connectionMemoryBuckets: [Double] = [
        64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536, 262_144, 1_048_576,
    ]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), version: String) {
        self.registry = registry
        let r = registry
        self.buildInfo = r.makeGauge(
            descriptor: .named(
                "chorus_build_info",
                help: "Always 1; the version label names the running Chorus build."
            ),
            labels: [("version", version)]
        )
        self.buildInfo.set(to: 1.0)
        self.connections = r.makeGauge(
            descriptor: .named("chorus_connections", help: "Open WebSocket connections.")
        )
        self.connectionsAccepted = r.makeCounter(
            descriptor: .named(
                "chorus_connections_accepted_total",
                help: "WebSocket connections accepted (upgrades completed)."
            )
        )
        self.connectionsClosed = CloseReason.allCases.map { reason in
            r.makeCounter(
                descriptor: .named("chorus_connections_closed_total", help: "WebSocket connections closed, by reason."),
                labels: [("reason", reason.label)]
            )
        }
        self.handshakesRejected = HandshakeRejectionReason.allCases.map { reason in
            r.makeCounter(
                descriptor: .named(
                    "chorus_handshakes_rejected_total",
                    help: "WebSocket upgrade requests refused before the upgrade, by reason."
                ),
                labels: [("reason", reason.label)]
            )
        }
        self.acceptFailures = r.makeCounter(
            descriptor: .named(
                "chorus_accept_failures_total",
                help: "Connections the kernel could not hand over for lack of descriptors or memory (accepting pauses briefly)."
            )
        )
        self.channels = r.makeGauge(
            descriptor: .named("chorus_channels", help: "Channels with at least one local subscriber.")
        )
        self.subscriptions = r.makeGauge(
            descriptor: .named(
                "chorus_subscriptions",
                help: "Subscriptions across all connections (a connection on three channels counts three)."
            )
        )
        /// One counter per publish source, indexed by `PublishSource.rawValue`.
        func bySource(_ name: String, help: String) -> [Counter] {
            PublishSource.allCases.map { source in
                r.makeCounter(descriptor: .named(name, help: help), labels: [("source", source.label)])
            }
        }
        self.messagesPublished = bySource("chorus_messages_published_total", help: "Messages published, by where they came from.")
        self.publishesOverloaded = bySource(
            "chorus_publishes_overloaded_total",
            help: "Publishes refused because an event loop already had --max-queued-publishes waiting, by source."
        )
        self.messageSize = r.makeValueHistogram(
            descriptor: .named("chorus_message_size_bytes", help: "Payload size of published messages, in bytes."),
            buckets: [64, 256, 1024, 4096, 16384, 65536, 262_144, 1_048_576]
        )
        self.framesEncoded = r.makeCounter(
            descriptor: .named(
                "chorus_frames_encoded_total",
                help: "WebSocket frames encoded for published messages: one per message, however many subscribers."
            )
        )
        self.frameBytesEncoded = r.makeCounter(
            descriptor: .named(
                "chorus_frame_bytes_encoded_total",
                help: "Bytes of the encoded frames (header plus payload)."
            )
        )
        self.deliveries = r.makeCounter(
            descriptor: .named(
                "chorus_deliveries_total",
                help: "Published messages written to subscribers; deliveries divided by frames encoded is buffer reuse."
            )
        )
        self.deliveredBytes = r.makeCounter(
            descriptor: .named(
                "chorus_delivered_bytes_total",
                help: "Bytes written to subscribers from shared frames; minus encoded bytes, the bytes never copied."
            )
        )
        self.slowConsumerDrops = r.makeCounter(
            descriptor: .named(
                "chorus_slow_consumer_drops_total",
                help: "Messages skipped for subscribers over their pending-bytes limit (slow-consumer policy drop)."
            )
        )
        self.slowConsumerDisconnects = r.makeCounter(
            descriptor: .named(
                "chorus_slow_consumer_disconnects_total",
                help: "Subscribers closed with 1008 for going over their pending-bytes limit (policy disconnect)."
            )
        )
        self.pongsReplaced = r.makeCounter(
            descriptor: .named(
                "chorus_pongs_replaced_total",
                help: "Pongs not sent because a newer ping's pong took their place while the connection's writes were "
                    + "waiting (RFC 6455 5.5.3)."
            )
        )
        self.outboundPendingBytes = r.makeGauge(
            descriptor: .named(
                "chorus_outbound_pending_bytes",
                help: "Outbound bytes queued in Chorus (not yet taken by the kernel), summed over connections."
            )
        )
        self.poolAcquired = r.makeCounter(
            descriptor: .named(
                "chorus_buffer_pool_acquired_total",
                help: "Inbound assembly buffers taken from the per-loop pools."
            )
        )
        self.poolHits = r.makeCounter(
            descriptor: .named(
                "chorus_buffer_pool_hits_total",
                help: "Inbound buffer acquisitions served by a pooled buffer."
            )
        )
        self.poolMisses = r.makeCounter(
            descriptor: .named(
                "chorus_buffer_pool_misses_total",
                help:
                    "Inbound buffer acquisitions that had to allocate (pool empty or message larger than a pooled buffer)."
            )
        )
        self.poolFreeBuffers = r.makeGauge(
            descriptor: .named(
                "chorus_buffer_pool_free_buffers",
                help: "Inbound buffers waiting in the pools for reuse."
            )
        )
        self.poolBytes = r.makeGauge(
            descriptor: .named("chorus_buffer_pool_bytes", help: "Bytes held by the free pooled buffers.")
        )
        self.blocksInUse = r.makeGauge(
            descriptor: .named(
                "chorus_metadata_blocks",
                help: "Per-connection metadata blocks in the slabs, by state."
            ),
            labels: [("state", "in_use")]
        )
        self.blocksFree = r.makeGauge(
            descriptor: .named(
                "chorus_metadata_blocks",
                help: "Per-connection metadata blocks in the slabs, by state."
            ),
            labels: [("state", "free")]
        )
        self.blocksAllocated = r.makeCounter(
            descriptor: .named(
                "chorus_metadata_blocks_allocated_total",
                help: "Metadata blocks created because no free block was available."
            )
        )
        self.blocksReused = r.makeCounter(
            descriptor: .named(
                "chorus_metadata_blocks_reused_total",
                help: "Connections that reused a released metadata block (reset, generation bumped)."
            )
        )
        self.blockBytes = r.makeGauge(
            descriptor: .named(
                "chorus_metadata_block_bytes",
                help: "Size of one per-connection metadata block in bytes (its memory stride)."
            )
        )
        self.blockBytes.set(Int64(MemoryLayout<ConnectionBlock>.stride))
        self.memoryPerConnection = r.makeGauge(
            descriptor: .named(
                "chorus_memory_per_connection_bytes",
                help: "Resident memory above the process's idle baseline divided by open connections; 0 with none."
            )
        )
        self.fanout = r.makeDurationHistogram(
            descriptor: .named(
                "chorus_publish_fanout_seconds",
                help: "Time from a publish being accepted to every event loop having written and flushed it."
            ),
            buckets: [
                .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
                .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            ]
        )
        self.process = ProcessMetrics(registry: r)
        self.cluster = ClusterMetrics(registry: r)
        self.admission = AdmissionMetrics(registry: r)
        self.compression = CompressionMetrics(registry: r)
        self.streams = StreamMetrics(registry: r)
    }
}

extension ChorusMetrics: PublishObserver {
    public func published(payloadBytes: Int, source: PublishSource) {
        self.messageSize.record(Double(payloadBytes))
    }

    public func fannedOut(after duration: Duration) {
        self.fanout.record(duration)
    }
}

extension MetricNameDescriptor {
    /// A metric named in full (the names are a contract, so they are spelled out rather than assembled).
    static func named(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}

extension Counter {
    /// Sets a counter to a total kept elsewhere (shard counters are the source of truth).
    func set(total: Int) {
        self.reset()
        self.increment(by: Int64(total))
    }
}
