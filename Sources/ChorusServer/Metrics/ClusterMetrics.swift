import Prometheus

/// Cluster-mode metrics (always exported: a single node shows `chorus_cluster_connected 0` and zero counts).
/// Set from the bus's own counters at scrape time, like the shard counters.
struct ClusterMetrics: Sendable {
    let connected: Gauge
    let messagesIn: Counter
    let messagesOut: Counter
    let reconnects: Counter
    let publishFailures: Counter

    init(registry r: PrometheusCollectorRegistry) {
        self.connected = r.makeGauge(
            descriptor: .named(
                "chorus_cluster_connected",
                help: "1 while both Redis connections of cluster mode are up, else 0 (always 0 on a single node)."
            )
        )
        let messagesHelp = "Messages through Redis: out = published by this node, in = received from the cluster."
        self.messagesIn = r.makeCounter(
            descriptor: .named("chorus_cluster_messages_total", help: messagesHelp),
            labels: [("direction", "in")]
        )
        self.messagesOut = r.makeCounter(
            descriptor: .named("chorus_cluster_messages_total", help: messagesHelp),
            labels: [("direction", "out")]
        )
        self.reconnects = r.makeCounter(
            descriptor: .named(
                "chorus_cluster_reconnects_total",
                help: "Times the connection to Redis was made again after it was lost or could not be made."
            )
        )
        self.publishFailures = r.makeCounter(
            descriptor: .named(
                "chorus_cluster_publish_failures_total",
                help: "Publishes that did not reach Redis: delivered locally only (Redis down) or answered 503."
            )
        )
    }

    func update(from status: ClusterStatus) {
        self.connected.set(Int64(status.connected ? 1 : 0))
        self.messagesIn.set(total: status.messagesIn)
        self.messagesOut.set(total: status.messagesOut)
        self.reconnects.set(total: status.reconnects)
        self.publishFailures.set(total: status.publishFailures)
    }
}
