/// The cluster bus's state and counters, as metrics and readiness read them.
package struct ClusterStatus: Sendable, Equatable {
    /// Both Redis connections are up and logged in.
    package var connected = false
    /// Messages received from Redis in Chorus's format (delivered locally when anyone here follows them).
    package var messagesIn = 0
    /// Messages this node published to Redis (confirmed by Redis).
    package var messagesOut = 0
    /// Times the connection to Redis was made again after being lost or failing.
    package var reconnects = 0
    /// Publishes that did not reach Redis: the bus was down (delivered locally only) or the connection dropped
    /// before Redis confirmed them (answered 503).
    package var publishFailures = 0
    /// Messages from Redis that were not in Chorus's format, too large, or not valid UTF-8 for a text message.
    package var malformed = 0

    package init() {}
}
