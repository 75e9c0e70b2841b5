/// The wire protocol a connection speaks: chosen once, at its upgrade, and kept with the connection (one byte).
/// `ConnectionEngine` dispatches the connection's data messages by it (README, "Adding a wire protocol").
package enum WireProtocol: UInt8, Sendable {
    /// Chorus's own: text messages are commands (subscribe, unsubscribe, publish), binary ones are refused
    /// (1003); deliveries are the published payloads as they are.
    case native
    /// The conformance endpoint (`--echo-path`): every data message comes back as it came; nothing is parsed.
    case echo
}
