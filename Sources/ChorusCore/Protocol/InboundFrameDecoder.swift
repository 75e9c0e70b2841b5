import NIOCore

/// Turns a client's bytes into messages and control frames, enforcing RFC 6455's server-side rules.
///
/// Pure code over bytes (no Channel), so any transport can drive it. It never keeps a reference to
/// `input`'s storage: a partial frame header (or partial control frame, ≤ 131 bytes) is copied into a
/// pooled stash, and data payloads are unmasked straight into a pooled message buffer as they arrive.
/// Oversized messages are refused at the frame header, so at most `maxMessageBytes` plus one header is
/// ever buffered. An idle decoder holds no buffers.
package struct InboundFrameDecoder {
    private enum MessageKind {
        case text
        case binary
    }

    /// Result of looking at the start of a frame.
    private enum Step {
        /// The buffer needs at least this many readable bytes before anything can be decided.
        case needMore(Int)
        case event(InboundEvent)
        /// A data frame header was consumed; its payload now streams into the message buffer.
        case payloadStarted
    }

    /// A data message (all fragments together) larger than this fails with 1009.
    package let maxMessageBytes: Int
    /// RSV bits (as they sit in the first header byte, e.g. 0x40 for RSV1) that text and binary frames may
    /// carry. Zero until an extension such as permessage-deflate is negotiated; control and continuation
    /// frames never may. With an inflater passed to `next`, RSV1 on a message's first frame means
    /// permessage-deflate compressed; without one, allowed bits are only let through.
    package var allowedReservedBits: UInt8 = 0

    /// The start of a frame that did not fit in the last input: at most a header or one control frame.
    private var stash: ByteBuffer?
    /// The data message being assembled, unmasked.
    private var message: ByteBuffer?
    /// The buffer inside the last returned event; back to the pool on the next call.
    private var handedOut: ByteBuffer?
    /// Non-nil from the first frame of a data message until its final frame completes.
    private var messageKind: MessageKind?
    /// Payload bytes of the current data frame still to come.
    private var payloadRemaining = 0
    /// Masking key, rotated so its low byte applies to the next payload byte.
    private var maskKey: UInt32 = 0
    private var frameIsFinal = false
    /// The current data message had RSV1 on its first frame: permessage-deflate compressed. Its bytes are
    /// checked as UTF-8 only after inflating.
    private var messageIsCompressed = false
    private var validator = UTF8Validator()
    /// Set after a failure or `releaseBuffers`; the decoder then only discards input.
    private var finished = false

    package init(maxMessageBytes: Int) {
        precondition(maxMessageBytes >= 0, "maxMessageBytes must not be negative")
        self.maxMessageBytes = maxMessageBytes
    }

    /// True when no frame or message is partially received, i.e. the decoder holds no stash or message buffer.
    package var isIdle: Bool {
        self.stash == nil && self.messageKind == nil
    }

    /// Bytes of buffer capacity currently held (stash, message assembly and the last event's buffer),
    /// for per-connection memory accounting.
    package var bufferedCapacity: Int {
        (self.stash?.capacity ?? 0) + (self.message?.capacity ?? 0) + (self.handedOut?.capacity ?? 0)
    }

    /// Consumes bytes from `input` and returns the next event, or nil when more bytes are needed
    /// (in which case it has consumed ALL of `input`, stashing an incomplete frame in a pooled buffer).
    /// The ByteBuffer inside a returned event is only valid until the next call to next()/releaseBuffers();
    /// the decoder reuses/returns it to the pool on the next call. Callers copy if they keep it.
    /// Call it until it returns nil: that last call is what hands the event buffer back to the pool.
    ///
    /// `inflater` inflates compressed messages (RSV1, allowed through `allowedReservedBits`); the caller passes
    /// its shard's shared one only for connections that negotiated permessage-deflate, so the decoder itself
    /// holds no compression state.
    package mutating func next(
        from input: inout ByteBuffer,
        pool: InboundBufferPool,
        inflater: MessageInflater? = nil
    ) -> InboundEvent? {
        if let handedOut = self.handedOut.take() { pool.release(consume handedOut) }
        if self.finished {
            input.moveReaderIndex(forwardBy: input.readableBytes)
            return nil
        }
        while true {
            if self.payloadRemaining > 0 {
                if input.readableBytes == 0 { return nil }
                if let event = self.readPayload(from: &input, pool: pool, inflater: inflater) { return event }
                continue
            }
            let step: Step
            if var stash = self.stash {
                self.stash = nil  // moved out so appending does not copy
                var current = self.parseFrameStart(&stash, pool: pool, inflater: inflater)
                // Top up only to what the parser asked for, so the stash never holds more than one frame start.
                while case .needMore(let required) = current {
                    let take = min(required - stash.readableBytes, input.readableBytes)
                    guard take > 0 else {
                        self.stash = stash
                        return nil
                    }
                    var piece = input.readSlice(length: take)!
                    stash.writeBuffer(&piece)
                    current = self.parseFrameStart(&stash, pool: pool, inflater: inflater)
                }
                pool.release(stash)
                step = current
            } else {
                if input.readableBytes == 0 { return nil }
                step = self.parseFrameStart(&input, pool: pool, inflater: inflater)
                if case .needMore = step {
                    var stash = pool.acquire(minimumCapacity: input.readableBytes)
                    stash.writeBuffer(&input)
                    self.stash = stash
                    return nil
                }
            }
            switch step {
            case .needMore:
                fatalError("Internal inconsistency: needMore handled above")
            case .event(let event):
                return event
            case .payloadStarted:
                continue
            }
        }
    }

    /// Returns every buffer it holds to the pool (call when the connection closes). The decoder then
    /// discards any further input.
    package mutating func releaseBuffers(to pool: InboundBufferPool) {
        self.releaseAll(to: pool)
        self.finished = true
    }

    // MARK: - Frame headers

    /// Reads a frame header (and a whole control frame) from `buffer` if enough bytes are there;
    /// consumes nothing when it returns `.needMore` or a failure.
    private mutating func parseFrameStart(
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

    // MARK: - Payloads

    /// Unmasks as much of the current data frame's payload as `input` holds into the message buffer.
    private mutating func readPayload(
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
    private mutating func finishFrame(pool: InboundBufferPool, inflater: MessageInflater?) -> InboundEvent? {
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
    private mutating func controlFrame(
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

    // MARK: - Helpers

    private mutating func fail(_ code: CloseCode, _ reason: String, pool: InboundBufferPool) -> InboundEvent {
        self.releaseAll(to: pool)
        self.finished = true
        return .failure(code, reason: reason)
    }

    private mutating func fail(_ code: CloseCode, _ reason: String, pool: InboundBufferPool) -> Step {
        .event(self.fail(code, reason, pool: pool))
    }

    private mutating func releaseAll(to pool: InboundBufferPool) {
        // Each taken out as it is released, and held by nothing else then: a buffer the decoder or a local still
        // held would look shared to the pool, which would replace it with a fresh allocation (two mallocs on
        // every connection's close, when the three were first copied into locals that lived on).
        if let stash = self.stash.take() { pool.release(consume stash) }
        if let message = self.message.take() { pool.release(consume message) }
        if let handedOut = self.handedOut.take() { pool.release(consume handedOut) }
        self.messageKind = nil
        self.messageIsCompressed = false
        self.payloadRemaining = 0
        self.validator.reset()
    }

    /// XORs `source` with the masking key into `destination`, 8 bytes at a time where possible.
    /// Returns the key rotated so its low byte applies to the byte after `source`.
    @inline(__always)
    private static func unmask(
        _ source: UnsafeRawBufferPointer,
        into destination: UnsafeMutableRawPointer,
        key: UInt32
    ) -> UInt32 {
        let count = source.count
        var index = 0
        // Little-endian views: the key's low byte masks the lowest-addressed byte.
        let wideKey = UInt64(key) | UInt64(key) << 32
        while index + 8 <= count {
            let word = UInt64(littleEndian: source.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            destination.storeBytes(of: (word ^ wideKey).littleEndian, toByteOffset: index, as: UInt64.self)
            index += 8
        }
        var key = key
        while index < count {
            destination.storeBytes(
                of: source[index] ^ UInt8(truncatingIfNeeded: key),
                toByteOffset: index,
                as: UInt8.self
            )
            key = key >> 8 | key << 24
            index += 1
        }
        return key
    }
}
