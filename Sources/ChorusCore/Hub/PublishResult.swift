/// Why `Hub.publish` refused a message: an event loop already has `limit` publishes waiting to be fanned out
/// (it is falling behind). Nothing was delivered anywhere; the publisher may retry later.
public struct PublishOverloaded: Error, Sendable, Equatable {
    /// The per-loop limit (`--max-queued-publishes`).
    public var limit: Int

    public init(limit: Int) { self.limit = limit }
}

/// What `Hub.broadcast` did: the answer a publisher gets.
public struct PublishResult: Sendable, Equatable {
    /// Where the message went.
    public enum Reach: Sendable, Equatable {
        /// Single node: written to this many local subscribers.
        case delivered(Int)
        /// Cluster mode: sent through the bus to this many receiving nodes, each of which delivers it to its own
        /// subscribers when it comes back (this node too).
        case clustered(receivers: Int)
        /// Cluster mode with the bus down: written to this many local subscribers only; other nodes missed it.
        case localOnly(Int)
    }

    public var reach: Reach
    /// The message's place in its channel's stream, when this node assigned or learned it.
    public var position: StreamPosition?

    public init(reach: Reach, position: StreamPosition? = nil) {
        self.reach = reach
        self.position = position
    }
}
