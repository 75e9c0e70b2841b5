import ChorusCore
import NIOCore

/// One second of the server, as the status page shows it: figures from what the metrics gather (the shards' counters
/// and gauges, the hub's counters, `/proc`), written as the JSON text published on `ChannelName.status`.
///
/// Rates are over `interval` (since the previous report; the first one after nobody watched averages over the
/// time unwatched). Busiest channels are by deliveries since the previous report, from a count each shard keeps per
/// channel (one add per publish), merged over the shards' own busiest.
struct StatusReport {
    /// How many busiest channels a report lists.
    static let busiestCount = 5

    var connections = 0
    var channels = 0
    var subscriptions = 0
    var intervalSeconds = 0.0
    var deliveriesPerSecond = 0.0
    var publishesPerSecond = 0.0
    /// Deliveries per encoded frame over the interval (over the whole run when nothing was encoded in it).
    var bufferReuse = 0.0
    var framesEncoded = 0
    var deliveries = 0
    var memoryPerConnection = 0
    var residentBytes = 0
    var cpuPercent = 0.0
    var slowConsumerDrops = 0
    var slowConsumerDisconnects = 0
    var pendingPublishesRefused = 0
    var clusterConnected: Bool?
    var busiest: [ShardStatusSample.ChannelActivity] = []
    var totals: StatusTotals

    init(
        samples: [ShardStatusSample],
        hub: Hub.HubCounters,
        process: ProcessMetrics.Sample,
        baselineResidentBytes: Int?,
        clusterConnected: Bool?,
        previous: StatusTotals,
        now: NIODeadline
    ) {
        var statistics = ShardStatistics()
        var channels = Set<ChannelName>()
        var busiest: [ChannelName: ShardStatusSample.ChannelActivity] = [:]
        for sample in samples {
            statistics.add(sample.statistics)
            self.connections += sample.connections
            self.subscriptions += sample.subscriptions
            channels.formUnion(sample.channels)
            for activity in sample.busiest {
                busiest[activity.channel, default: .init(channel: activity.channel, subscribers: 0, deliveries: 0)]
                    .add(activity)
            }
        }
        channels.remove(.status)
        self.channels = channels.count
        self.totals = StatusTotals(
            at: now,
            deliveries: statistics.deliveries,
            framesEncoded: hub.framesEncoded + statistics.framesEncoded,
            published: PublishSource.allCases.filter { $0 != .system }.reduce(0) { $0 + hub.published[$1.rawValue] },
            cpuSeconds: process.cpuSeconds
        )
        let interval = Double((now - previous.at).nanoseconds) / 1e9
        self.intervalSeconds = interval
        let perSecond = { (count: Int) in interval > 0 ? Double(count) / interval : 0 }
        self.deliveriesPerSecond = perSecond(self.totals.deliveries - previous.deliveries)
        self.publishesPerSecond = perSecond(self.totals.published - previous.published)
        self.cpuPercent = interval > 0 ? (self.totals.cpuSeconds - previous.cpuSeconds) / interval * 100 : 0
        let frames = self.totals.framesEncoded - previous.framesEncoded
        self.bufferReuse =
            frames > 0
            ? Double(self.totals.deliveries - previous.deliveries) / Double(frames)
            : Double(self.totals.deliveries) / Double(max(1, self.totals.framesEncoded))
        self.framesEncoded = self.totals.framesEncoded
        self.deliveries = self.totals.deliveries
        self.residentBytes = process.residentBytes
        // As `chorus_memory_per_connection_bytes`: resident memory above the idle baseline per open connection.
        let baseline = baselineResidentBytes ?? process.residentBytes
        self.memoryPerConnection =
            self.connections > 0 ? max(0, process.residentBytes - baseline) / self.connections : 0
        self.slowConsumerDrops = statistics.slowConsumerDrops
        self.slowConsumerDisconnects = statistics.slowConsumerDisconnects
        self.pendingPublishesRefused = hub.overloaded.reduce(0, +)
        self.clusterConnected = clusterConnected
        self.busiest = Array(busiest.values.sorted { $0.deliveries > $1.deliveries }.prefix(Self.busiestCount))
    }

    /// The report as one JSON object (channel names need no escaping: their alphabet is `[A-Za-z0-9_.:-]`).
    var json: String {
        let busiest = self.busiest.map { activity in
            let rate = Double(activity.deliveries) / max(self.intervalSeconds, 0.001)
            return #"{"channel":"\#(activity.channel.value)","subscribers":\#(activity.subscribers),"#
                + #""deliveries_per_second":\#(Self.rounded(rate))}"#
        }
        let cluster = self.clusterConnected.map { "\($0)" } ?? "null"
        return "{"
            + #""connections":\#(self.connections),"channels":\#(self.channels),"#
            + #""subscriptions":\#(self.subscriptions),"#
            + #""deliveries_per_second":\#(Self.rounded(self.deliveriesPerSecond)),"#
            + #""publishes_per_second":\#(Self.rounded(self.publishesPerSecond)),"#
            + #""buffer_reuse":\#(Self.rounded(self.bufferReuse)),"#
            + #""frames_encoded":\#(self.framesEncoded),"deliveries":\#(self.deliveries),"#
            + #""memory_per_connection":\#(self.memoryPerConnection),"resident_bytes":\#(self.residentBytes),"#
            + #""cpu_percent":\#(Self.rounded(self.cpuPercent)),"#
            + #""slow_consumer_drops":\#(self.slowConsumerDrops),"#
            + #""slow_consumer_disconnects":\#(self.slowConsumerDisconnects),"#
            + #""publishes_refused":\#(self.pendingPublishesRefused),"cluster_connected":\#(cluster),"#
            + #""interval_seconds":\#(Self.rounded(self.intervalSeconds)),"#
            + #""busiest_channels":[\#(busiest.joined(separator: ","))]"#
            + "}"
    }

    /// One decimal, written as JSON writes numbers (`12.5`, `3.0`).
    private static func rounded(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        return "\((value * 10).rounded() / 10)"
    }
}

extension ShardStatusSample.ChannelActivity {
    /// Adds another shard's share of the same channel.
    fileprivate mutating func add(_ other: Self) {
        self.subscribers += other.subscribers
        self.deliveries += other.deliveries
    }
}
