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

    private var reader: JSONReader

    init(bytes: UnsafeRawBufferPointer) {
        self.reader = JSONReader(bytes: bytes)
    }

    mutating func parse() throws(ControlMessageError) -> ControlMessage {
        var action: (key: Key, value: String)?
        var data: String?

        try self.reader.readObject { (name, reader) throws(ControlMessageError) in
            let key = try Self.key(named: name)
            guard reader.peek() == UInt8(ascii: "\"") else {
                throw reader.error("value of \"\(name)\" must be a string")
            }
            let value = try reader.parseString()
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

}
