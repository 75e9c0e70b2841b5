import NIOCore

/// Frame headers: RFC 6455's rules on opcodes, reserved bits, masking and lengths, checked before any payload is
/// buffered.
extension InboundFrameDecoder {
    // MARK: - Frame headers

    /// Reads a frame header (and a whole control frame) from `buffer` if enough bytes are there;
    /// consumes nothing when it returns `.needMore` or a failure.
    mutating func parseFrameStart(
        _ buffer: inout ByteBuffer,
        pool: InboundBufferPool,
        inflater: MessageInflater?
    ) -> Step {
        let available = buffer.readableBytes
        guard available >= 2 else { return .needMore(2) }
        let start = buffer.readerIndex
        let byte0 = buffer.getInteger(at: start, as: UInt8.self)!
        let byte1 = buffer.getInteger(at: start + 1, as: UInt8.self)!
        let isFinal = byte0 & 0x80 != 0

        guard let opcode = WebSocketOpcode(rawValue: byte0 & 0x0F) else {
            return self.fail(.protocolError, "unknown opcode \(byte0 & 0x0F)", pool: pool)
        }
        let allowedReserved: UInt8
        switch opcode {
        case .text, .binary:
            allowedReserved = self.allowedReservedBits
        case .continuation, .close, .ping, .pong:
            allowedReserved = 0
        }
        guard byte0 & 0x70 & ~allowedReserved == 0 else {
            return self.fail(.protocolError, "reserved bits set without a negotiated extension", pool: pool)
        }
        guard byte1 & 0x80 != 0 else {
            return self.fail(.protocolError, "client frame is not masked", pool: pool)
        }
        let length7 = Int(byte1 & 0x7F)

        switch opcode {
        case .close, .ping, .pong:
            guard isFinal else {
                return self.fail(.protocolError, "fragmented control frame", pool: pool)
            }
            guard length7 <= 125 else {
                return self.fail(.protocolError, "control frame payload longer than 125 bytes", pool: pool)
            }
            // Control frames are small, so they are only handled whole: 2 header + 4 mask + payload.
            let frameLength = 6 + length7
            guard available >= frameLength else { return .needMore(frameLength) }
            let key = buffer.getInteger(at: start + 2, endianness: .little, as: UInt32.self)!
            buffer.moveReaderIndex(forwardBy: 6)
            return .event(self.controlFrame(opcode, length: length7, key: key, from: &buffer, pool: pool))
        case .continuation:
            guard self.messageKind != nil else {
                return self.fail(.protocolError, "continuation frame without a message in progress", pool: pool)
            }
        case .text, .binary:
            guard self.messageKind == nil else {
                return self.fail(.protocolError, "new data frame before the previous message ended", pool: pool)
            }
        }

        let headerLength: Int
        switch length7 {
        case 126: headerLength = 8
        case 127: headerLength = 14
        default: headerLength = 6
        }
        guard available >= headerLength else { return .needMore(headerLength) }
        let payloadLength: Int
        switch length7 {
        case 126:
            payloadLength = Int(buffer.getInteger(at: start + 2, as: UInt16.self)!)
        case 127:
            let raw = buffer.getInteger(at: start + 2, as: UInt64.self)!
            guard raw & (1 << 63) == 0 else {
                return self.fail(.protocolError, "frame length has the most significant bit set", pool: pool)
            }
            payloadLength = Int(raw)
        default:
            payloadLength = length7
        }
        // Refuse before buffering anything of the payload. Written to avoid overflow on 63-bit lengths.
        let assembled = self.message?.readableBytes ?? 0
        guard payloadLength <= self.maxMessageBytes - assembled else {
            return self.fail(.messageTooBig, "message longer than \(self.maxMessageBytes) bytes", pool: pool)
        }

        let key = buffer.getInteger(at: start + headerLength - 4, endianness: .little, as: UInt32.self)!
        buffer.moveReaderIndex(forwardBy: headerLength)
        switch opcode {
        case .text:
            self.messageKind = .text
            self.messageIsCompressed = byte0 & 0x40 != 0 && inflater != nil
        case .binary:
            self.messageKind = .binary
            self.messageIsCompressed = byte0 & 0x40 != 0 && inflater != nil
        case .continuation, .close, .ping, .pong:
            break
        }
        if self.message == nil {
            self.message = pool.acquire(minimumCapacity: payloadLength)
        }
        self.payloadRemaining = payloadLength
        self.maskKey = key
        self.frameIsFinal = isFinal
        if payloadLength == 0, let event = self.finishFrame(pool: pool, inflater: inflater) {
            return .event(event)
        }
        return .payloadStarted
    }
}
