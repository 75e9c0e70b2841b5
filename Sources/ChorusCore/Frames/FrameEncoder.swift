import NIOCore

/// Writes complete, unmasked server frames (FIN set) into one exactly sized buffer.
///
/// Server frames are never masked, so the bytes are the same for every subscriber: encode once, then share.
/// One buffer per frame (header and payload together) means one write per subscriber and no copy on fan-out.
package enum FrameEncoder {
    /// Control frame payloads are limited to 125 bytes (RFC 6455 §5.5).
    private static let maxControlPayload = 125
    /// A close payload is a 2-byte code plus the reason, within the control limit.
    private static let maxCloseReasonBytes = maxControlPayload - 2

    /// Header size for a payload of this length: 2 (7-bit length), 4 (16-bit) or 10 (64-bit).
    package static func headerLength(payloadLength: Int) -> Int {
        precondition(payloadLength >= 0, "payload length must not be negative")
        switch payloadLength {
        case 0...125: return 2
        case 126...0xFFFF: return 4
        default: return 10
        }
    }

    /// A data or control frame carrying the readable bytes of `payload`. `reservedBits` (as they sit in the
    /// first header byte: 0x40 is RSV1, "compressed" under permessage-deflate) are for data frames only.
    package static func encode(
        opcode: WebSocketOpcode,
        payload: ByteBuffer,
        reservedBits: UInt8 = 0
    ) -> ByteBuffer {
        precondition(reservedBits & ~0x70 == 0, "only RSV1-3 are reserved bits")
        let length = payload.readableBytes
        var frame = ExactBuffer.allocate(capacity: headerLength(payloadLength: length) + length)
        writeHeader(opcode: opcode, payloadLength: length, reservedBits: reservedBits, into: &frame)
        frame.writeImmutableBuffer(payload)
        return frame
    }

    /// A data or control frame carrying `payload`.
    package static func encode(
        opcode: WebSocketOpcode,
        payload: UnsafeRawBufferPointer
    ) -> ByteBuffer {
        var frame = ExactBuffer.allocate(capacity: headerLength(payloadLength: payload.count) + payload.count)
        writeHeader(opcode: opcode, payloadLength: payload.count, into: &frame)
        frame.writeBytes(payload)
        return frame
    }

    /// A Close frame; the reason is cut to at most 123 bytes, at a character boundary so it stays valid UTF-8.
    package static func close(code: CloseCode, reason: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        let utf8 = reason.utf8
        var reasonLength = min(utf8.count, maxCloseReasonBytes)
        if reasonLength < utf8.count {
            // Back up over continuation bytes (10xxxxxx) so the cut lands before a lead byte.
            let bytes = Array(utf8.prefix(reasonLength + 1))
            while reasonLength > 0, bytes[reasonLength] & 0xC0 == 0x80 {
                reasonLength -= 1
            }
        }
        let payloadLength = 2 + reasonLength
        var frame = allocator.buffer(capacity: headerLength(payloadLength: payloadLength) + payloadLength)
        writeHeader(opcode: .close, payloadLength: payloadLength, into: &frame)
        frame.writeInteger(code.rawValue)
        frame.writeBytes(utf8.prefix(reasonLength))
        return frame
    }

    /// The Close frame that answers a peer's Close: empty when the peer sent no code, else just that code.
    /// The answers to no code, 1000 and 1001 (nearly every close) are shared, immutable buffers: closing a
    /// connection allocates no frame.
    package static func closeEcho(code: UInt16?, allocator: ByteBufferAllocator) -> ByteBuffer {
        guard let code else { return Self.emptyCloseEcho }
        switch code {
        case CloseCode.normal.rawValue: return Self.normalCloseEcho
        case CloseCode.goingAway.rawValue: return Self.goingAwayCloseEcho
        default: return Self.makeCloseEcho(code: code, allocator: allocator)
        }
    }

    private static let emptyCloseEcho = makeCloseEcho(code: nil, allocator: ByteBufferAllocator())
    private static let normalCloseEcho = makeCloseEcho(
        code: CloseCode.normal.rawValue,
        allocator: ByteBufferAllocator()
    )
    private static let goingAwayCloseEcho = makeCloseEcho(
        code: CloseCode.goingAway.rawValue,
        allocator: ByteBufferAllocator()
    )

    private static func makeCloseEcho(code: UInt16?, allocator: ByteBufferAllocator) -> ByteBuffer {
        guard let code else {
            var frame = allocator.buffer(capacity: 2)
            writeHeader(opcode: .close, payloadLength: 0, into: &frame)
            return frame
        }
        var frame = allocator.buffer(capacity: 4)
        writeHeader(opcode: .close, payloadLength: 2, into: &frame)
        frame.writeInteger(code)
        return frame
    }

    /// The Pong that answers a Ping, echoing its payload (at most 125 bytes).
    package static func pong(payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        precondition(payload.readableBytes <= maxControlPayload, "control frame payload must be at most 125 bytes")
        return encode(opcode: .pong, payload: payload)
    }

    /// A Ping for liveness checks (payload at most 125 bytes).
    package static func ping(payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        precondition(payload.readableBytes <= maxControlPayload, "control frame payload must be at most 125 bytes")
        return encode(opcode: .ping, payload: payload)
    }

    /// Writes a frame header (FIN set) for a payload of `payloadLength` bytes.
    package static func writeHeader(
        opcode: WebSocketOpcode,
        payloadLength: Int,
        reservedBits: UInt8 = 0,
        into frame: inout ByteBuffer
    ) {
        frame.writeInteger(0x80 | reservedBits | opcode.rawValue)  // FIN; RSV bits only for an extension
        switch payloadLength {
        case 0...125:
            frame.writeInteger(UInt8(payloadLength))
        case 126...0xFFFF:
            frame.writeInteger(UInt8(126))
            frame.writeInteger(UInt16(payloadLength))
        default:
            frame.writeInteger(UInt8(127))
            frame.writeInteger(UInt64(payloadLength))
        }
    }
}
