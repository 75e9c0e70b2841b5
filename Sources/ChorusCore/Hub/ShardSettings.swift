import NIOCore

/// The per-connection limits a shard and its connections enforce. One value per shard, not per connection.
public struct ShardSettings: Sendable {
    /// Largest inbound message, in bytes; larger ones close the connection with 1009.
    package var maxMessageBytes: Int = 64 * 1024
    /// Channels one connection may follow at once.
    package var maxSubscriptions: Int = 64
    /// Whether clients may publish with `{"publish": …}`.
    package var clientPublish: Bool = false
    /// Control frames (pings and pongs) a connection may send per second; one more closes it with 1008. 0: no
    /// limit.
    package var maxControlFramesPerSecond: Int = 100
    /// What to do with a subscriber that is not writable.
    package var slowConsumerPolicy: SlowConsumerPolicy = .disconnect
    /// How long a closing connection waits for the peer's close frame before the socket is closed.
    package var closeTimeout: TimeAmount = .seconds(5)
    /// How long a client may take to send a complete request head (the transports' requests being read).
    package var handshakeTimeout: TimeAmount = .seconds(10)
    /// How often open connections are pinged; silent for two whole intervals, they are closed (1001).
    package var pingInterval: TimeAmount = .seconds(30)
    /// Published messages smaller than this go uncompressed even to permessage-deflate clients.
    package var compressionMinBytes: Int = 256
    /// Capacity of one pooled inbound assembly buffer.
    package var inboundBufferBytes: Int = 4096
    /// Free inbound buffers a shard keeps for reuse.
    package var maxPooledBuffers: Int = 256
    /// Publishes one event loop may have waiting to be fanned out. A publish that would pass it on any loop is
    /// refused as a whole (`PublishOverloaded`) instead of growing the queue between loops without bound.
    package var maxQueuedPublishes: Int = 10_000
    /// Channels' history and recovery (the hub keeps the streams).
    package var history = HistorySettings()

    public init() {}

    /// Keeps each channel's last `messages` messages in history (for embedding and the benchmarks' gates; the server
    /// sets `history` from its configuration).
    public mutating func keepHistory(messages: Int) {
        self.history.size = messages
    }
}
