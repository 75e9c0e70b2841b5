import NIOCore

/// What a shard reports at scrape time: its counters, its gauges, and one memory sample per connection.
/// Built on the shard's loop, read anywhere.
package struct ShardSnapshot: Sendable {
    package var statistics = ShardStatistics()
    package var connections = 0
    package var subscriptions = 0
    /// Channels with at least one subscriber on this shard (a channel may appear in several shards).
    package var channels: [ChannelName] = []
    package var blocksInUse = 0
    package var blocksFree = 0
    package var blocksAllocated = 0
    package var blocksReused = 0
    package var poolAcquired = 0
    package var poolHits = 0
    package var poolMisses = 0
    package var poolFreeBuffers = 0
    package var poolBytes = 0
    /// Outbound bytes queued across this shard's connections.
    package var pendingOutboundBytes = 0
    /// Bytes each live connection accounts for: its block, the transport's record, subscription storage,
    /// inbound buffers and pending outbound bytes.
    package var connectionMemory: [Int] = []

    package init() {}
}

extension Shard {
    /// A consistent view of this shard. Must run on its loop; O(connections), for scrapes only.
    package func snapshot() -> ShardSnapshot {
        self.eventLoop.preconditionInEventLoop()
        var pending = 0
        var memory: [Int] = []
        memory.reserveCapacity(self.connectionCount)
        for (index, block) in self.slab.blocks.enumerated() {
            guard let sink = block.sink else { continue }
            let outbound = sink.pendingOutboundBytes(slot: UInt32(index))
            pending += outbound
            memory.append(
                MemoryLayout<ConnectionBlock>.stride + sink.recordBytes(slot: UInt32(index)) + block.subscriptions.heapBytes
                    + sink.bufferedInboundBytes(slot: UInt32(index)) + outbound
            )
        }
        var snapshot = ShardSnapshot()
        snapshot.statistics = self.statistics
        snapshot.connections = self.connectionCount
        snapshot.subscriptions = self.subscriptions
        snapshot.channels = self.channelNames
        snapshot.blocksInUse = self.slab.inUse
        snapshot.blocksFree = self.slab.free
        snapshot.blocksAllocated = self.slab.allocatedTotal
        snapshot.blocksReused = self.slab.reusedTotal
        snapshot.poolAcquired = self.pool.acquired
        snapshot.poolHits = self.pool.hits
        snapshot.poolMisses = self.pool.misses
        snapshot.poolFreeBuffers = self.pool.freeBuffers
        snapshot.poolBytes = self.pool.bytesHeld
        snapshot.pendingOutboundBytes = pending
        snapshot.connectionMemory = memory
        return snapshot
    }
}
