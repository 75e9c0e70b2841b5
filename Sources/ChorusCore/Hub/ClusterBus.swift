import NIOCore

/// The bridge between this node's hub and the other nodes (cluster mode). The engine knows only this seam;
/// the Redis implementation lives in ChorusServer.
///
/// A bus sends every publish to all nodes, this one included, and each node delivers what comes back through
/// `Hub.publish`, so every subscriber gets a message exactly once however many nodes there are.
public protocol ClusterBus: Sendable {
    /// Sends a message to every node, with the place in its channel's stream that the cluster gives it (the same on
    /// every node); `publisher`, a connection of this node, does not receive it. The future (on `eventLoop`) says whether it went out; it fails when the message was handed to the
    /// bus but its fate is unknown (the connection dropped before the reply).
    func publish(
        _ payload: ByteBuffer,
        opcode: WebSocketOpcode,
        to channel: ChannelName,
        isJSON: Bool,
        excluding publisher: PublisherConnection?,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<ClusterPublishOutcome>

    /// The cluster's position of `channel` and up to `limit` of its messages after `offset`, oldest first, from the
    /// cluster's copy of its history (for a recovery this node's history cannot answer). Fails when the bus is down.
    func readStream(
        _ channel: ChannelName,
        after offset: UInt64,
        limit: Int,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<ClusterStreamRead>

    /// This node gained its first local subscriber of `channel` (`interested`), or lost its last one.
    /// Called in order, once per change of the node-wide answer, never on the delivery path.
    func interestChanged(in channel: ChannelName, interested: Bool)

    /// Whether the bus can currently reach the other nodes (for readiness).
    var isConnected: Bool { get }
}

/// What a `ClusterBus.publish` did.
public enum ClusterPublishOutcome: Sendable, Equatable {
    /// Sent; `receivers` nodes (this one included, when it has subscribers) will deliver it, at `position` in its
    /// channel's stream (nil from a bus that assigns none).
    case sent(receivers: Int, position: StreamPosition?)
    /// The bus is down: nothing was sent, so the hub delivers locally instead.
    case notConnected
}
