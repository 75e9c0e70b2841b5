import NIOConcurrencyHelpers

/// Which channels have at least one subscriber anywhere on this node, aggregated over the shards, and who to
/// tell when a channel's answer changes (the cluster bus, which subscribes in Redis only to those).
///
/// Shards report only when a channel appears on or vanishes from their own index (first subscriber in, last
/// one out), so this is touched on subscription changes, never per delivery.
package final class ChannelInterest: Sendable {
    /// For each channel, the number of shards that have a subscriber of it.
    private let shardsByChannel = NIOLockedValueBox([ChannelName: Int]())
    private let listener: @Sendable (ChannelName, Bool) -> Void

    /// `listener` is called with (channel, true) when the first shard gains the channel and (channel, false)
    /// when the last shard loses it. It runs under this object's lock, so calls arrive in order; it must only
    /// hand the change on (for example with `eventLoop.execute`), never call back in.
    package init(listener: @escaping @Sendable (ChannelName, Bool) -> Void) {
        self.listener = listener
    }

    /// A shard gained its first subscriber of `channel`.
    package func shardGained(_ channel: ChannelName) {
        self.shardsByChannel.withLockedValue { counts in
            counts[channel, default: 0] += 1
            if counts[channel] == 1 { self.listener(channel, true) }
        }
    }

    /// A shard lost its last subscriber of `channel`.
    package func shardLost(_ channel: ChannelName) {
        self.shardsByChannel.withLockedValue { counts in
            guard let count = counts[channel] else {
                fatalError("Internal inconsistency: channel lost by a shard that never gained it")
            }
            if count == 1 {
                counts[channel] = nil
                self.listener(channel, false)
            } else {
                counts[channel] = count - 1
            }
        }
    }

    /// Whether any shard has a subscriber of `channel` (one lock; used once per message from the bus).
    package func contains(_ channel: ChannelName) -> Bool {
        self.shardsByChannel.withLockedValue { $0[channel] != nil }
    }

    /// Every channel with a local subscriber.
    package var channels: Set<ChannelName> {
        self.shardsByChannel.withLockedValue { Set($0.keys) }
    }
}
