import NIOCore

/// A message from the cluster that arrived while its channel's stream waits for the messages before it (a gap being
/// filled from the cluster's history): kept, already encoded, until the fill ends, then placed in order.
package struct HeldArrival: Sendable {
    package var payload: ByteBuffer
    package var opcode: WebSocketOpcode
    /// The raw protocol's rendition, encoded (and counted) when the message arrived.
    package var native: Rendition
    package var anyCompression: Bool
    package var anyChorusV1: Bool
    package var options: PublishOptions
}
