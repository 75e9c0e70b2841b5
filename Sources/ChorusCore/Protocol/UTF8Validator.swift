import NIOCore

/// An incremental UTF-8 validator for text messages that arrive in fragments and partial reads.
///
/// It is a small DFA over the well-formed byte sequences of Unicode Table 3-7: each state knows how many
/// continuation bytes are still due and the range the next one must fall in. Because the ranges already
/// exclude overlong forms, surrogates (U+D800–DFFF) and code points above U+10FFFF, it fails on the first
/// byte after which no continuation could be valid, so a bad message is rejected without reading the rest.
package struct UTF8Validator: Sendable {
    /// Continuation bytes still due for the current sequence (0 at a character boundary).
    private var pending: UInt8 = 0
    /// Inclusive range for the next continuation byte; only narrower than 0x80...0xBF right after a lead byte.
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF
    private var failed = false

    package init() {}

    /// True when not in the middle of a multi-byte sequence (and nothing invalid was seen).
    package var isAtCharacterBoundary: Bool {
        self.pending == 0 && !self.failed
    }

    /// Forgets everything, ready for the next message.
    package mutating func reset() {
        self = UTF8Validator()
    }

    /// Feeds the next bytes of the stream. Returns false once the stream can never become valid; stays false.
    package mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if self.failed { return false }
        var index = 0
        let count = bytes.count
        while index < count {
            if self.pending == 0 {
                // ASCII fast path: 8 bytes at a time while none has the high bit set.
                while index + 8 <= count,
                    bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0
                {
                    index += 8
                }
                if index == count { break }
                let byte = bytes[index]
                index += 1
                if !self.lead(byte) {
                    self.failed = true
                    return false
                }
            } else {
                let byte = bytes[index]
                index += 1
                guard byte >= self.lower, byte <= self.upper else {
                    self.failed = true
                    return false
                }
                self.pending -= 1
                self.lower = 0x80
                self.upper = 0xBF
            }
        }
        return true
    }

    /// Feeds the readable bytes of `buffer` without consuming them.
    package mutating func feed(_ buffer: ByteBuffer) -> Bool {
        buffer.withUnsafeReadableBytes { self.feed($0) }
    }

    /// Classifies a byte at a character boundary; false when it can never start a valid character.
    @inline(__always)
    private mutating func lead(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x00...0x7F:
            return true
        case 0xC2...0xDF:
            self.expect(1, 0x80, 0xBF)
        case 0xE0:
            self.expect(2, 0xA0, 0xBF)  // excludes overlong 3-byte forms
        case 0xE1...0xEC, 0xEE...0xEF:
            self.expect(2, 0x80, 0xBF)
        case 0xED:
            self.expect(2, 0x80, 0x9F)  // excludes surrogates U+D800–DFFF
        case 0xF0:
            self.expect(3, 0x90, 0xBF)  // excludes overlong 4-byte forms
        case 0xF1...0xF3:
            self.expect(3, 0x80, 0xBF)
        case 0xF4:
            self.expect(3, 0x80, 0x8F)  // excludes code points above U+10FFFF
        default:
            return false  // 0x80–0xC1 (stray continuation, overlong 2-byte) and 0xF5–0xFF
        }
        return true
    }

    @inline(__always)
    private mutating func expect(_ pending: UInt8, _ lower: UInt8, _ upper: UInt8) {
        self.pending = pending
        self.lower = lower
        self.upper = upper
    }
}
