import NIOCore

/// Payloads: data frames unmasked into the message buffer (validated or inflated), control frames read whole.
extension InboundFrameDecoder {
    // MARK: - Payloads

    /// Unmasks as much of the current data frame's payload as `input` holds into the message buffer.
    mutating func readPayload(
        from input: inout ByteBuffer,
        pool: InboundBufferPool,
        inflater: MessageInflater?
    ) -> InboundEvent? {
        let count = min(self.payloadRemaining, input.readableBytes)
        guard var message = self.message else {
            fatalError("Internal inconsistency: data payload without a message buffer")
        }
        self.message = nil  // moved out so writing does not copy
        let isText = self.messageKind == .text && !self.messageIsCompressed
        var key = self.maskKey
        var valid = true
        message.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { destination in
            input.withUnsafeReadableBytes { source in
                key = Self.unmask(
                    UnsafeRawBufferPointer(rebasing: source[..<count]),
                    into: destination.baseAddress!,
                    key: key
                )
            }
            if isText {
                // Validate right after unmasking, while the bytes are hot, and fail mid-message if needed.
                valid = self.validator.feed(UnsafeRawBufferPointer(rebasing: destination[..<count]))
            }
            return count
        }
        input.moveReaderIndex(forwardBy: count)
        self.message = message
        self.maskKey = key
        self.payloadRemaining -= count
        guard valid else {
            return self.fail(.invalidPayload, "text message is not valid UTF-8", pool: pool)
        }
        if self.payloadRemaining == 0 {
            return self.finishFrame(pool: pool, inflater: inflater)
        }
        return nil
    }

    /// Called when a data frame's payload is complete; returns the message if that was the final frame.
    mutating func finishFrame(pool: InboundBufferPool, inflater: MessageInflater?) -> InboundEvent? {
        guard self.frameIsFinal else { return nil }
        guard let kind = self.messageKind, var message = self.message else {
            fatalError("Internal inconsistency: final frame without a message")
        }
        if self.messageIsCompressed {
            guard let inflater else {
                fatalError("Internal inconsistency: a compressed message is only started with an inflater")
            }
            self.message = nil  // moved out so inflate's append does not copy
            let outcome = inflater.inflate(&message, maxBytes: self.maxMessageBytes, pool: pool)
            pool.release(message)
            switch outcome {
            case .inflated(let inflated):
                message = inflated
                self.message = inflated  // released by `fail` below if it is invalid
            case .tooBig:
                return self.fail(.messageTooBig, "message inflates past \(self.maxMessageBytes) bytes", pool: pool)
            case .corrupt:
                return self.fail(.protocolError, "compressed message is not valid deflate data", pool: pool)
            }
            if kind == .text {
                guard self.validator.feed(message), self.validator.isAtCharacterBoundary else {
                    return self.fail(.invalidPayload, "text message is not valid UTF-8", pool: pool)
                }
            }
            self.messageIsCompressed = false
        }
        let event: InboundEvent
        switch kind {
        case .text:
            guard self.validator.isAtCharacterBoundary else {
                return self.fail(.invalidPayload, "text message ends inside a UTF-8 sequence", pool: pool)
            }
            self.validator.reset()
            event = .text(message)
        case .binary:
            event = .binary(message)
        }
        self.messageKind = nil
        self.message = nil
        self.handedOut = message
        return event
    }

    /// Unmasks a whole control frame's payload (reader index just past its header) and interprets it.
    mutating func controlFrame(
        _ opcode: WebSocketOpcode,
        length: Int,
        key: UInt32,
        from buffer: inout ByteBuffer,
        pool: InboundBufferPool
    ) -> InboundEvent {
        var payload = pool.acquire(minimumCapacity: length)
        if length > 0 {
            payload.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { destination in
                buffer.withUnsafeReadableBytes { source in
                    _ = Self.unmask(
                        UnsafeRawBufferPointer(rebasing: source[..<length]),
                        into: destination.baseAddress!,
                        key: key
                    )
                }
                return length
            }
            buffer.moveReaderIndex(forwardBy: length)
        }
        // Tracked as handed out, so it goes back to the pool on the next call or on failure.
        self.handedOut = payload
        switch opcode {
        case .ping:
            return .ping(payload)
        case .pong:
            return .pong(payload)
        case .close:
            return self.closeEvent(payload, pool: pool)
        case .continuation, .text, .binary:
            fatalError("Internal inconsistency: \(opcode) is not a control opcode")
        }
    }

    private mutating func closeEvent(_ payload: ByteBuffer, pool: InboundBufferPool) -> InboundEvent {
        var payload = payload
        switch payload.readableBytes {
        case 0:
            return .close(code: nil, reason: "")
        case 1:
            return self.fail(.protocolError, "close frame payload of 1 byte", pool: pool)
        default:
            let code = payload.readInteger(as: UInt16.self)!
            guard CloseCode.isValidOnWire(code) else {
                return self.fail(.protocolError, "invalid close code \(code)", pool: pool)
            }
            var validator = UTF8Validator()
            guard validator.feed(payload), validator.isAtCharacterBoundary else {
                return self.fail(.invalidPayload, "close reason is not valid UTF-8", pool: pool)
            }
            return .close(code: code, reason: payload.readString(length: payload.readableBytes)!)
        }
    }
}
