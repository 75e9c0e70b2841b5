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
    /// The payload length, excluding the header (32 bits: a frame sits in every history entry and queued write).
    private let storedPayloadLength: UInt32

    /// The payload length, excluding the header.
    package var payloadLength: Int { Int(self.storedPayloadLength) }

    /// Encodes `payload` once into a new frame of exactly its size. The payload is copied exactly once, here.
    public init(opcode: WebSocketOpcode, payload: ByteBuffer) {
        precondition(opcode == .text || opcode == .binary, "a Frame carries a data message")
        self.bytes = FrameEncoder.encode(opcode: opcode, payload: payload)
        self.opcode = opcode
        self.isCompressed = false
        self.storedPayloadLength = UInt32(payload.readableBytes)
    }

    /// Encodes a message of `payloadLength` bytes that `writePayload` writes after the header, straight into the
    /// frame's buffer (an envelope around a payload: still one copy of the payload).
    package init(
        opcode: WebSocketOpcode,
        payloadLength: Int,
        writePayload: (inout ByteBuffer) -> Void
    ) {
        precondition(opcode == .text || opcode == .binary, "a Frame carries a data message")
        var bytes = ExactBuffer.allocate(
            capacity: FrameEncoder.headerLength(payloadLength: payloadLength) + payloadLength
        )
        FrameEncoder.writeHeader(opcode: opcode, payloadLength: payloadLength, into: &bytes)
        writePayload(&bytes)
        precondition(
            bytes.readableBytes == FrameEncoder.headerLength(payloadLength: payloadLength) + payloadLength,
            "the payload written is not the length announced"
        )
        self.bytes = bytes
        self.opcode = opcode
        self.isCompressed = false
        self.storedPayloadLength = UInt32(payloadLength)
    }

    /// A frame already encoded in `bytes` (header and payload, uncompressed), for storage that holds many frames.
    package init(encoded bytes: ByteBuffer, opcode: WebSocketOpcode, payloadLength: Int) {
        precondition(
            bytes.readableBytes == FrameEncoder.headerLength(payloadLength: payloadLength) + payloadLength,
            "the frame's bytes are not the length announced"
        )
        self.bytes = bytes
        self.opcode = opcode
        self.isCompressed = false
        self.storedPayloadLength = UInt32(payloadLength)
    }

    /// Encodes an already deflated message (RFC 7692 §7.2.1: trailing `00 00 ff ff` removed) with RSV1 set.
    package init(opcode: WebSocketOpcode, compressedPayload: ByteBuffer) {
        precondition(opcode == .text || opcode == .binary, "a Frame carries a data message")
        self.bytes = FrameEncoder.encode(opcode: opcode, payload: compressedPayload, reservedBits: 0x40)
        self.opcode = opcode
        self.isCompressed = true
        self.storedPayloadLength = UInt32(compressedPayload.readableBytes)
    }

    /// The payload as it is on the wire: a slice of `bytes`, sharing its storage.
    package var payload: ByteBuffer {
        self.bytes.getSlice(
            at: self.bytes.readerIndex + self.headerLength,
            length: self.payloadLength
        )!
    }

    /// The length of the frame's header (the payload starts there).
    package var headerLength: Int { FrameEncoder.headerLength(payloadLength: self.payloadLength) }

    /// The number of bytes written to a socket for one delivery.
    package var wireLength: Int { self.bytes.readableBytes }
}
