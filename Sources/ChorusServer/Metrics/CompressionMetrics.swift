import ChorusCore
import Prometheus

/// The permessage-deflate metrics (issue #7), kept apart so the main list stays readable. Shards count on
/// their own loops; a scrape folds the totals in here.
struct CompressionMetrics: Sendable {
    let compressedFrames: Counter
    let inputBytes: Counter
    let outputBytes: Counter
    let compressedDeliveries: Counter
    let connections: Gauge

    init(registry r: PrometheusCollectorRegistry) {
        self.compressedFrames = r.makeCounter(
            descriptor: .named(
                "chorus_compressed_frames_total",
                help: "Published messages compressed for permessage-deflate: at most one per message and window size."
            )
        )
        self.inputBytes = r.makeCounter(
            descriptor: .named(
                "chorus_compression_input_bytes_total",
                help: "Payload bytes of the messages compressed for permessage-deflate."
            )
        )
        self.outputBytes = r.makeCounter(
            descriptor: .named(
                "chorus_compression_output_bytes_total",
                help: "Compressed payload bytes they became; divided by input bytes, the compression ratio."
            )
        )
        self.compressedDeliveries = r.makeCounter(
            descriptor: .named(
                "chorus_compressed_deliveries_total",
                help: "Compressed frames written to subscribers (also counted in chorus_deliveries_total)."
            )
        )
        self.connections = r.makeGauge(
            descriptor: .named(
                "chorus_compression_connections",
                help: "Open WebSocket connections that negotiated permessage-deflate."
            )
        )
    }

    /// Sets every value from the shards' summed counters and the hub's.
    func update(from statistics: ShardStatistics, hub: Hub.HubCounters) {
        self.compressedFrames.set(total: statistics.compressedFrames)
        self.inputBytes.set(total: statistics.compressionInputBytes)
        self.outputBytes.set(total: statistics.compressionOutputBytes)
        self.compressedDeliveries.set(total: statistics.compressedDeliveries)
        self.connections.set(Int64(hub.compressionConnections))
    }
}
