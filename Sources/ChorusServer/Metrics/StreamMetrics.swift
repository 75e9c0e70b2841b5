import ChorusCore
import NIOConcurrencyHelpers
import NIOCore
import Prometheus

/// The metrics of channels' streams, history and recovery: what history holds and what recoveries did.
struct StreamMetrics: Sendable {
    let streams: Gauge
    let channelsWithHistory: Gauge
    let historyMessages: Gauge
    let historyBytes: Gauge
    let chunkBytes: Gauge
    let evicted: Counter
    let expired: Counter
    let recoveries: [Counter]  // indexed by RecoveryOutcome.rawValue
    let replayed: Counter
    let resyncs: [Counter]  // indexed by ResyncReason.rawValue
    let stale: Counter
    let gapsFilled: Counter
    let gapFilledMessages: Counter

    init(registry r: PrometheusCollectorRegistry) {
        self.streams = r.makeGauge(
            descriptor: .named(
                "chorus_streams",
                help: "Channels whose offset and epoch this node keeps (published to within a day, or subscribed)."
            )
        )
        self.channelsWithHistory = r.makeGauge(
            descriptor: .named("chorus_history_channels", help: "Channels with at least one message in history.")
        )
        self.historyMessages = r.makeGauge(
            descriptor: .named("chorus_history_messages", help: "Messages held in history, all channels together.")
        )
        self.historyBytes = r.makeGauge(
            descriptor: .named(
                "chorus_history_bytes",
                help: "Bytes held in history (the chorus.v1 frames written to subscribers, shared, not copies) and "
                    + "streams' bookkeeping, against --history-max-bytes."
            )
        )
        self.chunkBytes = r.makeGauge(
            descriptor: .named(
                "chorus_history_chunk_bytes",
                help: "Bytes of the 64 KiB chunks history's frames are carved from, alive: the memory behind "
                    + "chorus_history_bytes' frames, and behind the deliveries of them still in progress."
            )
        )
        self.evicted = r.makeCounter(
            descriptor: .named(
                "chorus_streams_evicted_total",
                help: "Streams dropped to stay within --history-max-bytes, least recently published first (new epoch)."
            )
        )
        self.expired = r.makeCounter(
            descriptor: .named(
                "chorus_streams_expired_total",
                help: "Streams dropped a day after their last publish (their next message starts a new epoch)."
            )
        )
        self.recoveries = RecoveryOutcome.allCases.map { outcome in
            r.makeCounter(
                descriptor: .named(
                    "chorus_recoveries_total",
                    help: "chorus.v1 subscriptions that asked to recover from an offset, by outcome."
                ),
                labels: [("outcome", outcome.label)]
            )
        }
        self.resyncs = ResyncReason.allCases.map { reason in
            r.makeCounter(
                descriptor: .named(
                    "chorus_resyncs_total",
                    help: "Cluster mode: times chorus.v1 subscribers of a channel were told to resync, by reason "
                        + "(gap: messages never reached this node; epoch: Redis lost the channel's stream)."
                ),
                labels: [("reason", reason.label)]
            )
        }
        self.stale = r.makeCounter(
            descriptor: .named(
                "chorus_cluster_stale_messages_total",
                help: "Cluster mode: messages from Redis at or below their channel's latest offset here, dropped."
            )
        )
        self.gapsFilled = r.makeCounter(
            descriptor: .named(
                "chorus_cluster_gaps_filled_total",
                help: "Cluster mode: gaps in a channel's stream on this node filled from Redis's history (no resync)."
            )
        )
        self.gapFilledMessages = r.makeCounter(
            descriptor: .named(
                "chorus_cluster_gap_filled_messages_total",
                help: "Cluster mode: messages that skipped this node, read back from Redis's history and delivered."
            )
        )
        self.replayed = r.makeCounter(
            descriptor: .named(
                "chorus_recovery_replayed_messages_total",
                help: "Messages replayed from history to recovering subscribers."
            )
        )
    }

    /// Sets every value from the hub's streams (expiring what is due first).
    func update(from hub: Hub) {
        let counters = hub.hubCounters
        for reason in ResyncReason.allCases {
            self.resyncs[reason.rawValue].set(total: counters.resyncs[reason.rawValue])
        }
        self.stale.set(total: counters.staleMessages)
        self.gapsFilled.set(total: counters.gapsFilled)
        self.gapFilledMessages.set(total: counters.gapFilledMessages)
        let now = NIODeadline.now()
        hub.streams.withLockedValue { streams in
            streams.expire(now: now)
            self.streams.set(Int64(streams.streamCount))
            self.channelsWithHistory.set(Int64(streams.streamsWithHistory))
            self.historyMessages.set(Int64(streams.historyMessages))
            self.historyBytes.set(Int64(streams.totalBytes))
            self.chunkBytes.set(Int64(streams.arena.liveBytes))
            self.evicted.set(total: streams.evictedStreams)
            self.expired.set(total: streams.expiredStreams)
            for outcome in RecoveryOutcome.allCases {
                self.recoveries[outcome.rawValue].set(total: streams.recoveries[outcome.rawValue])
            }
            self.replayed.set(total: streams.replayedMessages)
        }
    }
}
