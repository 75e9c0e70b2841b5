import NIOCore

/// A request a client sends as a text message: `{"subscribe":"news"}`, `{"unsubscribe":"news"}` or
/// `{"publish":"news","data":"…"}`.
///
/// Parsed by a small strict JSON reader rather than a general decoder: the grammar is one flat object of
/// strings, and strictness (no unknown or duplicate keys, no trailing bytes) gives clients precise errors.
package enum ControlMessage: Equatable, Sendable {
    case subscribe(ChannelName)
    case unsubscribe(ChannelName)
    case publish(ChannelName, data: String)

    /// Parses the readable bytes of `text` (not consumed). Error reasons are short enough for a close frame.
    package static func parse(_ text: ByteBuffer) throws(ControlMessageError) -> ControlMessage {
        let result = text.withUnsafeReadableBytes { bytes in
            var parser = ControlMessageParser(bytes: bytes)
            return Result { () throws(ControlMessageError) in try parser.parse() }
        }
        return try result.get()
    }
}

/// Why a text message is not a valid control message; the reason fits in a close frame (≤ 123 bytes).
package struct ControlMessageError: Error, Equatable, Sendable {
    package var reason: String

    package init(reason: String) {
        self.reason = reason
    }
}

/// A strict reader for exactly one flat JSON object whose values are strings.
private struct ControlMessageParser {
    private enum Key {
        case subscribe
        case unsubscribe
        case publish
        case data
    }

    /// Keys longer than this are not echoed back in errors, to keep reasons short.
    private static let maxEchoedKeyBytes = 32

    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    mutating func parse() throws(ControlMessageError) -> ControlMessage {
        var action: (key: Key, value: String)?
        var data: String?

        self.skipWhitespace()
        guard self.consume(UInt8(ascii: "{")) else { throw self.error("expected a JSON object") }
        self.skipWhitespace()
        if !self.consume(UInt8(ascii: "}")) {
            while true {
                self.skipWhitespace()
                guard self.peek() == UInt8(ascii: "\"") else { throw self.error("expected a string key") }
                let name = try self.parseString()
                let key = try Self.key(named: name)
                self.skipWhitespace()
                guard self.consume(UInt8(ascii: ":")) else { throw self.error("expected ':' after a key") }
                self.skipWhitespace()
                guard self.peek() == UInt8(ascii: "\"") else {
                    throw self.error("value of \"\(name)\" must be a string")
                }
                let value = try self.parseString()
                switch key {
                case .subscribe, .unsubscribe, .publish:
                    if let action {
                        throw ControlMessageError(
                            reason: action.key == key ? "duplicate key \"\(name)\"" : "more than one action"
                        )
                    }
                    action = (key, value)
                case .data:
                    guard data == nil else { throw ControlMessageError(reason: "duplicate key \"data\"") }
                    data = value
                }
                self.skipWhitespace()
                if self.consume(UInt8(ascii: ",")) { continue }
                if self.consume(UInt8(ascii: "}")) { break }
                throw self.error("expected ',' or '}'")
            }
        }
        self.skipWhitespace()
        guard self.index == self.bytes.count else {
            throw ControlMessageError(reason: "unexpected characters after the JSON object")
        }

        guard let action else {
            throw ControlMessageError(reason: "expected one of \"subscribe\", \"unsubscribe\" or \"publish\"")
        }
        let channel: ChannelName
        do {
            channel = try ChannelName(validating: action.value)
        } catch {
            throw ControlMessageError(reason: error.reason)
        }
        switch action.key {
        case .subscribe, .unsubscribe:
            guard data == nil else { throw ControlMessageError(reason: "\"data\" is only allowed with \"publish\"") }
            return action.key == .subscribe ? .subscribe(channel) : .unsubscribe(channel)
        case .publish:
            guard let data else { throw ControlMessageError(reason: "\"publish\" requires \"data\"") }
            return .publish(channel, data: data)
        case .data:
            fatalError("Internal inconsistency: data is not an action")
        }
    }

    private static func key(named name: String) throws(ControlMessageError) -> Key {
        switch name {
        case "subscribe": return .subscribe
        case "unsubscribe": return .unsubscribe
        case "publish": return .publish
        case "data": return .data
        default:
            throw ControlMessageError(
                reason: name.utf8.count <= maxEchoedKeyBytes ? "unknown key \"\(name)\"" : "unknown key"
            )
        }
    }

    // MARK: - Strings

    /// Reads a JSON string starting at its opening quote, decoding every escape including surrogate pairs.
    private mutating func parseString() throws(ControlMessageError) -> String {
        self.index += 1  // opening quote
        var output: [UInt8] = []
        while true {
            guard let byte = self.peek() else { throw self.error("unterminated string") }
            self.index += 1
            switch byte {
            case UInt8(ascii: "\""):
                // Raw bytes came from the caller; do not trust them to be UTF-8.
                var validator = UTF8Validator()
                guard output.withUnsafeBytes({ validator.feed($0) }), validator.isAtCharacterBoundary else {
                    throw ControlMessageError(reason: "string is not valid UTF-8")
                }
                return String(decoding: output, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try self.parseEscape(into: &output)
            case 0x00..<0x20:
                throw ControlMessageError(reason: "unescaped control character in string")
            default:
                output.append(byte)
            }
        }
    }

    private mutating func parseEscape(into output: inout [UInt8]) throws(ControlMessageError) {
        guard let byte = self.peek() else { throw self.error("unterminated string") }
        self.index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(byte)
        case UInt8(ascii: "b"): output.append(0x08)
        case UInt8(ascii: "f"): output.append(0x0C)
        case UInt8(ascii: "n"): output.append(0x0A)
        case UInt8(ascii: "r"): output.append(0x0D)
        case UInt8(ascii: "t"): output.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try self.parseHex4()
            switch scalar {
            case 0xD800...0xDBFF:
                guard self.consume(UInt8(ascii: "\\")), self.consume(UInt8(ascii: "u")) else {
                    throw ControlMessageError(reason: "unpaired surrogate in \\u escape")
                }
                let low = try self.parseHex4()
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw ControlMessageError(reason: "unpaired surrogate in \\u escape")
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            case 0xDC00...0xDFFF:
                throw ControlMessageError(reason: "unpaired surrogate in \\u escape")
            default:
                break
            }
            guard let unicodeScalar = Unicode.Scalar(scalar) else {
                fatalError("Internal inconsistency: \(scalar) is not a scalar")
            }
            UTF8.encode(unicodeScalar) { output.append($0) }
        default:
            throw ControlMessageError(reason: "invalid escape in string")
        }
    }

    private mutating func parseHex4() throws(ControlMessageError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = self.peek() else { throw self.error("unterminated string") }
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw ControlMessageError(reason: "invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            self.index += 1
        }
        return value
    }

    // MARK: - Bytes

    private func peek() -> UInt8? {
        self.index < self.bytes.count ? self.bytes[self.index] : nil
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard self.peek() == byte else { return false }
        self.index += 1
        return true
    }

    private mutating func skipWhitespace() {
        while let byte = self.peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
            self.index += 1
        }
    }

    /// Reports running out of input as truncation, which is what it almost always is.
    private func error(_ reason: String) -> ControlMessageError {
        ControlMessageError(reason: self.index < self.bytes.count ? reason : "truncated JSON")
    }
}
