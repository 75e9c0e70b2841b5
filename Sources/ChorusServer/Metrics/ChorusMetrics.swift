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
    let channels: Gauge
    let subscriptions: Gauge
    let messagesPublished: [Counter]  // indexed by PublishSource.rawValue
    let messageSize: ValueHistogram
    let framesEncoded: Counter
    let frameBytesEncoded: Counter
    let deliveries: Counter
    let deliveredBytes: Counter
    let slowConsumerDrops: Counter
    let slowConsumerDisconnects: Counter
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
    let process: ProcessMetrics

    static let connectionMemoryName = "chorus_connection_memory_bytes"
    static let connectionMemoryHelp =
        "Bytes each open connection accounts for, sampled at scrape time: its metadata block, subscription "
        + "storage, inbound assembly buffers and queued outbound bytes (not NIO's channel object or kernel buffers)."
    static let connectionMemoryBuckets: [Double] = [
        64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536, 262_144, 1_048_576,
    ]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), version: String) {
        self.registry = registry
        let r = registry
        self.buildInfo = r.makeGauge(
            descriptor: .init(
                metricName: "chorus_build_info",
                unitName: "",
                helpText: "Always 1; the version label names the running Chorus build."
            ),
            labels: [("version", version)]
        )
        self.buildInfo.set(to: 1.0)
        self.connections = r.makeGauge(
            descriptor: .init(metricName: "chorus_connections", unitName: "", helpText: "Open WebSocket connections.")
        )
        self.connectionsAccepted = r.makeCounter(
            descriptor: .init(
                metricName: "chorus_connections_accepted_total",
                unitName: "",
                helpText: "WebSocket connections accepted (upgrades completed)."
            )
        )
        self.connectionsClosed = CloseReason.allCases.map { reason in
            r.makeCounter(
                descriptor: .init(
                    metricName: "chorus_connections_closed_total",
                    unitName: "",
                    helpText: "WebSocket connections closed, by reason."
                ),
                labels: [("reason", reason.label)]
            )
        }
        self.handshakesRejected = HandshakeRejectionReason.allCases.map { reason in
            r.makeCounter(
                descriptor: .init(
                    metricName: "chorus_handshakes_rejected_total",
                    unitName: "",
                    helpText: "WebSocket upgrade requests refused before the upgrade, by reason."
                ),
                labels: [("reason", reason.label)]
            )
        }
        self.channels = r.makeGauge(
            descriptor: .init(
                metricName: "chorus_channels",
                unitName: "",
                helpText: "Channels with at least one local subscriber."
            )
        )
        self.subscriptions = r.makeGauge(
            descriptor: .init(
                metricName: "chorus_subscriptions",
                unitName: "",
                helpText: "Subscriptions across all connections (a connection on three channels counts three)."
            )
        )
        self.messagesPublished = PublishSource.allCases.map { source in
            r.makeCounter(
                descriptor: .init(
                    metricName: "chorus_messages_published_total",
                    unitName: "",
                    helpText: "Messages published, by where they came from."
                ),
                labels: [("source", source.label)]
            )
        }
        self.messageSize = r.makeValueHistogram(
            descriptor: .init(
                metricName: "chorus_message_size_bytes",
                unitName: "",
                helpText: "Payload size of published messages, in bytes."
            ),
            buckets: [64, 256, 1024, 4096, 16384, 65536, 262_144, 1_048_576]
        )
        self.framesEncoded = r.makeCounter(
            descriptor: .init(
                metricName: "chorus_frames_encoded_total",
                unitName: "",
                helpText: "WebSocket frames encoded for published messages: one per message, however many subscribers."
            )
        )
        self.frameBytesEncoded = r.makeCounter(
            descriptor: .init(
                metricName: "chorus_frame_bytes_encoded_total",
                unitName: "",
                helpText: "Bytes of the encoded frames (header plus payload)."
            )
        )
        self.deliveries = r.makeCounter(
            descriptor: .init(
                metricName: "chorus_deliveries_total",
                unitName: "",
                helpText:
                    "Published messages written to subscribers; deliveries divided by frames encoded is buffer reuse."
            )
        )
        self.deliveredBytes = r.makeCounter(
            descriptor: .init(
                metricName: "chorus_delivered_bytes_total",
                unitName: "",
                helpText:
                    "Bytes written to subscribers from shared frames; minus encoded bytes, the bytes never copied."
            )
        )
        self.slowConsumerDrops = r.makeCounter(
            descriptor: .init(
                metricName: "chorus_slow_consumer_drops_total",
                unitName: "",
                helpText: "Messages skipped for subscribers over their pending-bytes limit (slow-consumer policy drop)."
            )
        )
        self.slowConsumerDisconnects = r.makeCounter(
            descriptor: .init(
                metricName: "chorus_slow_consumer_disconnects_total",
                unitName: "",
                helpText: "Subscribers closed with 1008 for going over their pending-bytes limit (policy disconnect)."
            )
        )
        self.outboundPendingBytes = r.makeGauge(
            descriptor: .init(
                metricName: "chorus_outbound_pending_bytes",
                unitName: "",
                helpText: "Outbound bytes queued in Chorus (not yet taken by the kernel), summed over connections."
            )
        )
        self.poolAcquired = r.makeCounter(
            descriptor: .init(
                metricName: "chorus_buffer_pool_acquired_total",
                unitName: "",
                helpText: "Inbound assembly buffers taken from the per-loop pools."
            )
        )
        self.poolHits = r.makeCounter(
            descriptor: .init(
                metricName: "chorus_buffer_pool_hits_total",
                unitName: "",
                helpText: "Inbound buffer acquisitions served by a pooled buffer."
            )
        )
        self.poolMisses = r.makeCounter(
            descriptor: .init(
                metricName: "chorus_buffer_pool_misses_total",
                unitName: "",
                helpText:
                    "Inbound buffer acquisitions that had to allocate (pool empty or message larger than a pooled buffer)."
            )
        )
        self.poolFreeBuffers = r.makeGauge(
            descriptor: .init(
                metricName: "chorus_buffer_pool_free_buffers",
                unitName: "",
                helpText: "Inbound buffers waiting in the pools for reuse."
            )
        )
        self.poolBytes = r.makeGauge(
            descriptor: .init(
                metricName: "chorus_buffer_pool_bytes",
                unitName: "",
                helpText: "Bytes held by the free pooled buffers."
            )
        )
        self.blocksInUse = r.makeGauge(
            descriptor: .init(
                metricName: "chorus_metadata_blocks",
                unitName: "",
                helpText: "Per-connection metadata blocks in the slabs, by state."
            ),
            labels: [("state", "in_use")]
        )
        self.blocksFree = r.makeGauge(
            descriptor: .init(
                metricName: "chorus_metadata_blocks",
                unitName: "",
                helpText: "Per-connection metadata blocks in the slabs, by state."
            ),
            labels: [("state", "free")]
        )
        self.blocksAllocated = r.makeCounter(
            descriptor: .init(
                metricName: "chorus_metadata_blocks_allocated_total",
                unitName: "",
                helpText: "Metadata blocks created because no free block was available."
            )
        )
        self.blocksReused = r.makeCounter(
            descriptor: .init(
                metricName: "chorus_metadata_blocks_reused_total",
                unitName: "",
                helpText: "Connections that reused a released metadata block (reset, generation bumped)."
            )
        )
        self.blockBytes = r.makeGauge(
            descriptor: .init(
                metricName: "chorus_metadata_block_bytes",
                unitName: "",
                helpText: "Size of one per-connection metadata block in bytes (its memory stride)."
            )
        )
        self.blockBytes.set(Int64(MemoryLayout<ConnectionBlock>.stride))
        self.memoryPerConnection = r.makeGauge(
            descriptor: .init(
                metricName: "chorus_memory_per_connection_bytes",
                unitName: "",
                helpText: "Resident memory above the process's idle baseline divided by open connections; 0 with none."
            )
        )
        self.fanout = r.makeDurationHistogram(
            descriptor: .init(
                metricName: "chorus_publish_fanout_seconds",
                unitName: "",
                helpText: "Time from a publish being accepted to every event loop having written and flushed it."
            ),
            buckets: [
                .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
                .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            ]
        )
        self.process = ProcessMetrics(registry: r)
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

extension Counter {
    /// Sets a counter to a total kept elsewhere (shard counters are the source of truth).
    func set(total: Int) {
        self.reset()
        self.increment(by: Int64(total))
    }
}
