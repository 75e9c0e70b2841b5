/// The wire protocol a connection speaks: chosen once, at its upgrade, and kept with the connection (one byte).
/// `ConnectionEngine` dispatches the connection's data messages by it (docs/architecture.md, "Adding a wire protocol").
package enum WireProtocol: UInt8, Sendable {
    /// Chorus's own: text messages are commands (subscribe, unsubscribe, publish), binary ones are refused
    /// (1003); deliveries are the published payloads as they are.
    case native
    /// The conformance endpoint (`--echo-path`): every data message comes back as it came; nothing is parsed.
    case echo
    /// `chorus.v1` (`Sec-WebSocket-Protocol: chorus.v1` or `?protocol=chorus.v1`): deliveries carry their channel,
    /// offset and epoch; subscriptions answer and can recover what a connection missed; a harmless mistake is
    /// answered with an error instead of a close (README, "Never miss a message").
    case chorusV1
}
