import NIOCore

/// Turns a client's bytes into messages and control frames, enforcing RFC 6455's server-side rules.
///
/// Pure code over bytes (no Channel), so any transport can drive it. It never keeps a reference to
/// `input`'s storage: a partial frame header (or partial control frame, ≤ 131 bytes) is copied into a
/// pooled stash, and data payloads are unmasked straight into a pooled message buffer as they arrive.
/// Oversized messages are refused at the frame header, so at most `maxMessageBytes` plus one header is
/// ever buffered. An idle decoder holds no buffers.
package struct InboundFrameDecoder {
    enum MessageKind {
        case text
        case binary
    }

    /// Result of looking at the start of a frame.
    enum Step {
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
    var message: ByteBuffer?
    /// The buffer inside the last returned event; back to the pool on the next call.
    var handedOut: ByteBuffer?
    /// Non-nil from the first frame of a data message until its final frame completes.
    var messageKind: MessageKind?
    /// Payload bytes of the current data frame still to come.
    var payloadRemaining = 0
    /// Masking key, rotated so its low byte applies to the next payload byte.
    var maskKey: UInt32 = 0
    var frameIsFinal = false
    /// The current data message had RSV1 on its first frame: permessage-deflate compressed. Its bytes are
    /// checked as UTF-8 only after inflating.
    var messageIsCompressed = false
    var validator = UTF8Validator()
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

    // MARK: - Helpers

    mutating func fail(_ code: CloseCode, _ reason: String, pool: InboundBufferPool) -> InboundEvent {
        self.releaseAll(to: pool)
        self.finished = true
        return .failure(code, reason: reason)
    }

    mutating func fail(_ code: CloseCode, _ reason: String, pool: InboundBufferPool) -> Step {
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
    static func unmask(
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
