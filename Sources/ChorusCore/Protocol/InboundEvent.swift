import NIOCore

/// What the decoder produced from a client's bytes: a whole message, a control frame, or a protocol failure.
///
/// Buffers inside an event belong to the decoder's pool and are valid only until the next call to
/// `InboundFrameDecoder.next(from:pool:)` or `releaseBuffers(to:)`; copy what you keep.
package enum InboundEvent: Sendable {
    /// A complete, unmasked, UTF-8-validated text message.
    case text(ByteBuffer)
    /// A complete, unmasked binary message.
    case binary(ByteBuffer)
    /// An unmasked Ping payload of at most 125 bytes; answer with a Pong echoing it.
    case ping(ByteBuffer)
    /// An unmasked Pong payload.
    case pong(ByteBuffer)
    /// The peer's Close. `code` is nil when the frame had no payload; otherwise it passed
    /// `CloseCode.isValidOnWire`, and `reason` is valid UTF-8.
    case close(code: UInt16?, reason: String)
    /// The peer broke the protocol; close with this code. The decoder returns nil from now on.
    case failure(CloseCode, reason: String)
}
