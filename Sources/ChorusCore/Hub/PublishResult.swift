/// What `Hub.broadcast` reached: the answer a publisher gets.
public enum PublishResult: Sendable, Equatable {
    /// Single node: written to this many local subscribers.
    case delivered(Int)
    /// Cluster mode: sent through the bus to this many receiving nodes, each of which delivers it to its own
    /// subscribers when it comes back (this node too).
    case clustered(receivers: Int)
    /// Cluster mode with the bus down: written to this many local subscribers only; other nodes missed it.
    case localOnly(Int)
}
