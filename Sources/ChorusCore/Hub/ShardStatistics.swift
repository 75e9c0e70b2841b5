/// Counters a shard keeps on its own event loop: plain integers, no atomics on the delivery path.
package struct ShardStatistics: Sendable {
    /// Data frames of published messages written to subscribers.
    package var deliveries = 0
    /// `chorus.v1` renditions this shard encoded itself (see `Shard.deliver`); the hub counts the others.
    package var framesEncoded = 0
    /// Bytes of those frames.
    package var deliveredBytes = 0
    /// Messages skipped for a non-writable subscriber (`drop` policy).
    package var slowConsumerDrops = 0
    /// Subscribers closed because they were not writable (`disconnect` policy).
    package var slowConsumerDisconnects = 0
    /// Pongs that replaced an unwritten pong of the same connection (RFC 6455 §5.5.3: only the most recent
    /// ping needs an answer), so a peer that pings and does not read holds one pong, not one per ping.
    package var pongsReplaced = 0
    /// Messages compressed for permessage-deflate (at most one per message and window size, whichever shard
    /// made it), and the payload bytes that went in and came out.
    package var compressedFrames = 0
    package var compressionInputBytes = 0
    package var compressionOutputBytes = 0
    /// Compressed frames written to subscribers (also counted in `deliveries`).
    package var compressedDeliveries = 0
    /// Connections registered with this shard.
    package var connectionsAccepted = 0
    /// Connections released, by reason (indexed by `CloseReason.rawValue`).
    package var connectionsClosed = [Int](repeating: 0, count: CloseReason.allCases.count)

    package init() {}

    /// Connections closed for `reason`.
    package func closed(_ reason: CloseReason) -> Int { self.connectionsClosed[reason.rawValue] }

    /// Adds another shard's counters to these (for reporting across shards).
    package mutating func add(_ other: ShardStatistics) {
        self.deliveries += other.deliveries
        self.deliveredBytes += other.deliveredBytes
        self.framesEncoded += other.framesEncoded
        self.slowConsumerDrops += other.slowConsumerDrops
        self.slowConsumerDisconnects += other.slowConsumerDisconnects
        self.connectionsAccepted += other.connectionsAccepted
        self.pongsReplaced += other.pongsReplaced
        self.compressedFrames += other.compressedFrames
        self.compressionInputBytes += other.compressionInputBytes
        self.compressionOutputBytes += other.compressionOutputBytes
        self.compressedDeliveries += other.compressedDeliveries
        for index in self.connectionsClosed.indices {
            self.connectionsClosed[index] += other.connectionsClosed[index]
        }
    }
}
