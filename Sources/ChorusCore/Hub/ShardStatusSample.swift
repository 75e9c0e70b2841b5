import NIOCore

/// What a shard reports to the status page once a second (see `Shard.statusSample`): its counters and gauges, and
/// its busiest channels since the previous sample. Light, unlike `ShardSnapshot`: nothing per connection.
package struct ShardStatusSample: Sendable {
    /// One channel's share of this shard's traffic since the previous sample.
    package struct ChannelActivity: Sendable {
        package var channel: ChannelName
        package var subscribers: Int
        package var deliveries: Int

        package init(channel: ChannelName, subscribers: Int, deliveries: Int) {
            self.channel = channel
            self.subscribers = subscribers
            self.deliveries = deliveries
        }
    }

    package var statistics = ShardStatistics()
    package var connections = 0
    package var subscriptions = 0
    /// Channels with at least one subscriber on this shard (a channel may appear in several shards).
    package var channels: [ChannelName] = []
    /// The channels with the most deliveries since the previous sample, most first (system channels left out).
    package var busiest: [ChannelActivity] = []

    package init() {}
}

extension Shard {
    /// This shard's figures for the status page, and its `limit` busiest channels since the previous call, whose
    /// counts it resets. Must run on the shard's loop; O(channels), once a second only while the page is watched.
    package func statusSample(busiest limit: Int) -> ShardStatusSample {
        self.eventLoop.preconditionInEventLoop()
        var sample = ShardStatusSample()
        sample.statistics = self.statistics
        sample.connections = self.connectionCount
        sample.subscriptions = self.subscriptions
        sample.channels = self.channelNames
        for index in self.topics.indices {
            guard let topic = self.topics[index] else { continue }
            self.topics[index]!.recentDeliveries = 0
            guard !topic.name.isSystem, topic.recentDeliveries > 0 else { continue }
            let activity = ShardStatusSample.ChannelActivity(
                channel: topic.name,
                subscribers: topic.subscribers.count,
                deliveries: topic.recentDeliveries
            )
            // A short list kept sorted: inserting is cheap at this size.
            let place = sample.busiest.firstIndex { $0.deliveries < activity.deliveries } ?? sample.busiest.endIndex
            guard place < limit else { continue }
            sample.busiest.insert(activity, at: place)
            if sample.busiest.count > limit { sample.busiest.removeLast() }
        }
        return sample
    }
}
