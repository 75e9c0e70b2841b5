import NIOCore

/// An immutable, complete server-to-client data frame (header and payload in one buffer).
///
/// Server frames are never masked, so the bytes are identical for every subscriber: a published message is
/// encoded once into a `Frame` and every subscriber's socket is handed the same storage. Never mutate
/// `bytes`; any mutation would copy it.
public struct Frame: Sendable {
    /// The frame as it goes on the wire: RFC 6455 header followed by the payload.
    package let bytes: ByteBuffer
    /// Text or binary.
    package let opcode: WebSocketOpcode
    /// The payload length, excluding the header.
    package let payloadLength: Int

    /// Encodes `payload` once into a new frame. The payload is copied exactly once, here.
    public init(opcode: WebSocketOpcode, payload: ByteBuffer, allocator: ByteBufferAllocator) {
        precondition(opcode == .text || opcode == .binary, "a Frame carries a data message")
        self.bytes = FrameEncoder.encode(opcode: opcode, payload: payload, allocator: allocator)
        self.opcode = opcode
        self.payloadLength = payload.readableBytes
    }

    /// The number of bytes written to a socket for one delivery.
    package var wireLength: Int { self.bytes.readableBytes }
}
