import NIOCore

/// The one seam between a shard and a connection's socket.
///
/// A shard never touches a transport directly: it writes shared frames, flushes, and asks for a close through
/// this protocol. The NIO transport implements it with its per-connection handler; a second transport
/// implements it the same way and reuses hub, shards, slab and frames unchanged. Every call is made on the
/// shard's own event loop.
package protocol ConnectionSink: AnyObject {
    /// Queues `bytes` (a complete, shared frame) without flushing. Must not copy it.
    func write(_ bytes: ByteBuffer)
    /// Flushes everything queued.
    func flush()
    /// Starts the closing handshake with `code` and `reason`; the sink later reports its release to the shard.
    func close(code: CloseCode, reason: String, because cause: CloseReason)
    /// Outbound bytes queued and not yet taken by the kernel (read at scrape time only).
    var pendingOutboundBytes: Int { get }
    /// Capacity of the inbound buffers the connection holds right now (read at scrape time only).
    var bufferedInboundBytes: Int { get }
}
