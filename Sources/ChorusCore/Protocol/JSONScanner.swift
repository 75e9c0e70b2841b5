import NIOCore

/// A strict, allocation-free JSON validator (RFC 8259): it finds where one value ends and checks that a payload
/// is one JSON text, without building anything.
///
/// It runs on every published text payload under the `chorus.v1` wire protocol, so it is one byte loop over an
/// `UnsafeRawBufferPointer`: containers are tracked in a 64-bit word (one bit per level, object or array)
/// instead of by recursion or a heap stack, which is also what bounds nesting at `maxDepth`.
///
/// Deliberate choices where the RFC leaves room:
/// - Escaped lone surrogates (`"\ud800"`) are accepted: RFC 8259 §8.2 notes that the ABNF allows them, and the
///   scanner checks grammar, not what a decoder would make of the text.
/// - Raw bytes inside strings must be well-formed UTF-8 (RFC 8259 §8.1, Unicode Table 3-7, as `UTF8Validator`),
///   so raw surrogates, overlong forms and bytes 0xF5–0xFF are refused. A byte order mark is not whitespace.
/// - Numbers of any length and magnitude are accepted: the grammar has no limit (§6 lets a decoder set one).
package enum JSONScanner {
    /// Containers nested deeper than this are refused (`[` at depth 64 is fine, the 65th is not).
    /// At most 64: `valueEnd` keeps one bit per open container in a `UInt64`.
    package static let maxDepth = 64

    /// The index just past the one JSON value (RFC 8259) that starts at `bytes[start]` (no leading whitespace
    /// skipped), or nil when no valid value starts there. Nesting deeper than `maxDepth` (64) is refused.
    package static func valueEnd(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        precondition(start >= 0 && start <= bytes.count, "start \(start) outside 0...\(bytes.count)")
        let end = bytes.count
        var index = start
        // Bit 0 is the innermost open container, set for an object; `depth` counts the open ones. The 64 levels
        // allowed fill the word exactly.
        var objects: UInt64 = 0
        var depth = 0

        while true {
            // A value starts at `index`.
            guard index < end else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                guard depth < Self.maxDepth else { return nil }
                index = Self.skipWhitespace(bytes, index + 1)
                if index < end, bytes[index] == UInt8(ascii: "}") {
                    index += 1
                } else {
                    guard let next = Self.member(bytes, index) else { return nil }
                    objects = objects << 1 | 1
                    depth += 1
                    index = next
                    continue
                }
            case UInt8(ascii: "["):
                guard depth < Self.maxDepth else { return nil }
                index = Self.skipWhitespace(bytes, index + 1)
                if index < end, bytes[index] == UInt8(ascii: "]") {
                    index += 1
                } else {
                    objects <<= 1
                    depth += 1
                    continue
                }
            case UInt8(ascii: "\""):
                guard let next = Self.stringEnd(bytes, index) else { return nil }
                index = next
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                guard let next = Self.numberEnd(bytes, index) else { return nil }
                index = next
            case UInt8(ascii: "t"):
                guard Self.matches(bytes, index, 0x74, 0x72, 0x75, 0x65) else { return nil }  // true
                index += 4
            case UInt8(ascii: "f"):
                guard Self.matches(bytes, index + 1, 0x61, 0x6C, 0x73, 0x65) else { return nil }  // (f)alse
                index += 5
            case UInt8(ascii: "n"):
                guard Self.matches(bytes, index, 0x6E, 0x75, 0x6C, 0x6C) else { return nil }  // null
                index += 4
            default:
                return nil
            }

            // A value ended at `index`: close containers until one continues with another element.
            while true {
                if depth == 0 { return index }
                index = Self.skipWhitespace(bytes, index)
                guard index < end else { return nil }
                let byte = bytes[index]
                let inObject = objects & 1 != 0
                if byte == UInt8(ascii: ",") {
                    index = Self.skipWhitespace(bytes, index + 1)
                    if inObject {
                        guard let next = Self.member(bytes, index) else { return nil }
                        index = next
                    }
                    break
                }
                guard byte == (inObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) else { return nil }
                index += 1
                objects >>= 1
                depth -= 1
            }
        }
    }

    /// Whether `bytes` is exactly one JSON text: optional whitespace, one value, optional whitespace (RFC 8259 §2).
    package static func isJSONText(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let start = Self.skipWhitespace(bytes, 0)
        guard let end = Self.valueEnd(in: bytes, from: start) else { return false }
        return Self.skipWhitespace(bytes, end) == bytes.count
    }

    /// Whether the readable bytes of `buffer` are exactly one JSON text; they are not consumed.
    package static func isJSONText(_ buffer: ByteBuffer) -> Bool {
        buffer.withUnsafeReadableBytes { Self.isJSONText($0) }
    }

    // MARK: - Productions

    /// The first index at or after `index` that is not JSON whitespace (space, tab, LF, CR).
    @inline(__always)
    private static func skipWhitespace(_ bytes: UnsafeRawBufferPointer, _ index: Int) -> Int {
        var index = index
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return index
            }
        }
        return index
    }

    /// Reads `"key" ws : ws` from `index` (the key's opening quote); returns where the member's value starts.
    @inline(__always)
    private static func member(_ bytes: UnsafeRawBufferPointer, _ index: Int) -> Int? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), let keyEnd = Self.stringEnd(bytes, index)
        else { return nil }
        let colon = Self.skipWhitespace(bytes, keyEnd)
        guard colon < bytes.count, bytes[colon] == UInt8(ascii: ":") else { return nil }
        return Self.skipWhitespace(bytes, colon + 1)
    }

    /// Whether the four bytes from `index` are `b0 b1 b2 b3`.
    @inline(__always)
    private static func matches(
        _ bytes: UnsafeRawBufferPointer,
        _ index: Int,
        _ b0: UInt8,
        _ b1: UInt8,
        _ b2: UInt8,
        _ b3: UInt8
    ) -> Bool {
        index + 4 <= bytes.count && bytes[index] == b0 && bytes[index + 1] == b1 && bytes[index + 2] == b2
            && bytes[index + 3] == b3
    }

    /// The index past the string whose opening quote is at `index`, or nil when it is not a valid string.
    private static func stringEnd(_ bytes: UnsafeRawBufferPointer, _ index: Int) -> Int? {
        let end = bytes.count
        var index = index + 1
        while true {
            // Eight plain bytes at a time: none a control character, quote, backslash or non-ASCII.
            while index + 8 <= end, Self.allPlain(bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) {
                index += 8
            }
            guard index < end else { return nil }
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                return index + 1
            case UInt8(ascii: "\\"):
                guard index + 1 < end else { return nil }
                switch bytes[index + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 2
                case UInt8(ascii: "u"):
                    // Any four hex digits, lone surrogates included (see the type's comment).
                    guard index + 6 <= end, Self.isHexDigit(bytes[index + 2]), Self.isHexDigit(bytes[index + 3]),
                        Self.isHexDigit(bytes[index + 4]), Self.isHexDigit(bytes[index + 5])
                    else { return nil }
                    index += 6
                default:
                    return nil
                }
            case 0x00..<0x20:
                return nil  // control characters must be escaped
            case 0x20..<0x80:
                index += 1
            default:
                guard let next = Self.utf8SequenceEnd(bytes, index, lead: byte) else { return nil }
                index = next
            }
        }
    }

    /// Whether none of the eight bytes in `word` is below 0x20, a quote, a backslash or 0x80 and above.
    @inline(__always)
    private static func allPlain(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        // The classic "has a byte less than n" and "has a zero byte" bit tricks: each is non-zero exactly when
        // some byte qualifies (borrows can only set bits above a qualifying byte, never invent one).
        let below20 = (word &- 0x20 &* ones) & ~word
        let quote = word ^ (0x22 &* ones)
        let backslash = word ^ (0x5C &* ones)
        let hasQuote = (quote &- ones) & ~quote
        let hasBackslash = (backslash &- ones) & ~backslash
        return (word | below20 | hasQuote | hasBackslash) & highs == 0
    }

    /// The index past the well-formed UTF-8 sequence whose lead byte (0x80 or above) is at `index`, or nil.
    /// The ranges are Unicode Table 3-7, the same as `UTF8Validator`'s, inlined to stay in this loop.
    @inline(__always)
    private static func utf8SequenceEnd(_ bytes: UnsafeRawBufferPointer, _ index: Int, lead: UInt8) -> Int? {
        let length: Int
        var lower: UInt8 = 0x80
        var upper: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: (length, lower) = (3, 0xA0)  // excludes overlong 3-byte forms
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: (length, upper) = (3, 0x9F)  // excludes surrogates U+D800–DFFF
        case 0xF0: (length, lower) = (4, 0x90)  // excludes overlong 4-byte forms
        case 0xF1...0xF3: length = 4
        case 0xF4: (length, upper) = (4, 0x8F)  // excludes code points above U+10FFFF
        default: return nil  // 0x80–0xC1 (stray continuation, overlong 2-byte) and 0xF5–0xFF
        }
        guard index + length <= bytes.count else { return nil }
        let second = bytes[index + 1]
        guard second >= lower, second <= upper else { return nil }
        for offset in 2..<length where bytes[index + offset] & 0xC0 != 0x80 {
            return nil
        }
        return index + length
    }

    @inline(__always)
    private static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
            UInt8(ascii: "A")...UInt8(ascii: "F"):
            return true
        default:
            return false
        }
    }

    @inline(__always)
    private static func isDigit(_ bytes: UnsafeRawBufferPointer, _ index: Int) -> Bool {
        index < bytes.count && bytes[index] &- UInt8(ascii: "0") < 10
    }

    /// The index past the number that starts at `index`: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    private static func numberEnd(_ bytes: UnsafeRawBufferPointer, _ index: Int) -> Int? {
        var index = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard Self.isDigit(bytes, index) else { return nil }
        // A leading zero stands alone: "01" is the number 0 followed by a stray "1", which the caller refuses.
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while Self.isDigit(bytes, index) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard Self.isDigit(bytes, index) else { return nil }
            while Self.isDigit(bytes, index) { index += 1 }
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard Self.isDigit(bytes, index) else { return nil }
            while Self.isDigit(bytes, index) { index += 1 }
        }
        return index
    }
}
