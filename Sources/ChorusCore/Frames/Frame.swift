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
    /// Whether the payload is permessage-deflate compressed (RSV1 set): only for clients that negotiated it.
    package let isCompressed: Bool
    /// The payload length, excluding the header.
    package let payloadLength: Int

    /// Encodes `payload` once into a new frame. The payload is copied exactly once, here.
    public init(opcode: WebSocketOpcode, payload: ByteBuffer, allocator: ByteBufferAllocator) {
        precondition(opcode == .text || opcode == .binary, "a Frame carries a data message")
        self.bytes = FrameEncoder.encode(opcode: opcode, payload: payload, allocator: allocator)
        self.opcode = opcode
        self.isCompressed = false
        self.payloadLength = payload.readableBytes
    }

    /// Encodes an already deflated message (RFC 7692 §7.2.1: trailing `00 00 ff ff` removed) with RSV1 set.
    package init(opcode: WebSocketOpcode, compressedPayload: ByteBuffer, allocator: ByteBufferAllocator) {
        precondition(opcode == .text || opcode == .binary, "a Frame carries a data message")
        self.bytes = FrameEncoder.encode(
            opcode: opcode,
            payload: compressedPayload,
            reservedBits: 0x40,
            allocator: allocator
        )
        self.opcode = opcode
        self.isCompressed = true
        self.payloadLength = compressedPayload.readableBytes
    }

    /// The payload as it is on the wire: a slice of `bytes`, sharing its storage.
    package var payload: ByteBuffer {
        self.bytes.getSlice(
            at: self.bytes.readerIndex + FrameEncoder.headerLength(payloadLength: self.payloadLength),
            length: self.payloadLength
        )!
    }

    /// The number of bytes written to a socket for one delivery.
    package var wireLength: Int { self.bytes.readableBytes }
}
