import NIOCore

/// The one seam between a shard and a connection's socket.
///
/// A shard never touches a transport directly: it writes shared frames, flushes, and asks for a close through
/// this protocol. Every call names the connection's slot (its block's index in the shard's slab), so one sink
/// may serve every connection of a loop (the epoll transport keeps its per-connection records beside the slab,
/// with no object per connection), while the NIO transport's per-connection handler ignores it. Every call is
/// made on the shard's own event loop.
package protocol ConnectionSink: AnyObject {
    /// Queues `bytes` (a complete, shared frame) without flushing. Must not copy it.
    func write(_ bytes: ByteBuffer, slot: UInt32)
    /// Flushes everything queued.
    func flush(slot: UInt32)
    /// Starts the closing handshake with `code` and `reason`; the sink later reports its release to the shard.
    func close(slot: UInt32, code: CloseCode, reason: String, because cause: CloseReason)
    /// The close handshake we started got no answer within the close timeout (`Shard.runDueDeadlines`).
    func closeTimedOut(slot: UInt32)
    /// Outbound bytes queued and not yet taken by the kernel (read at scrape time only).
    func pendingOutboundBytes(slot: UInt32) -> Int
    /// Capacity of the inbound buffers the connection holds right now (read at scrape time only).
    func bufferedInboundBytes(slot: UInt32) -> Int
    /// Bytes of the transport's own fixed record for the connection, kept beside its block (read at scrape time
    /// only). 0 by default: the NIO transport's per-connection objects are not sized here.
    func recordBytes(slot: UInt32) -> Int
}

extension ConnectionSink {
    package func recordBytes(slot: UInt32) -> Int { 0 }
}
