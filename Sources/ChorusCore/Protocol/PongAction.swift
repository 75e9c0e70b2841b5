/// What a transport does with the answer to a peer's ping (`Shard.pingReceived`).
package enum PongAction: Equatable, Sendable {
    /// Write the pong now.
    case write
    /// Keep this pong in place of the connection's unwritten one, and write it once that slot is free (the
    /// earlier pong was written, or the queue it waited behind drained).
    case replaceWaiting
    /// Send nothing: the connection is closing, or was just closed for flooding or as a slow consumer.
    case none
}
