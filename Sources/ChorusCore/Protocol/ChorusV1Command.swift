import NIOCore

/// A request a `chorus.v1` client sends as a text message:
///
/// - `{"subscribe":"news"}`, or `{"subscribe":"news","since":{"offset":41,"epoch":"k3J9aB7x"}}` to recover what was
///   missed after that offset;
/// - `{"unsubscribe":"news"}`;
/// - `{"publish":"news","data":<any JSON value>}`, with `"echo":false` for a publisher that does not want its own
///   message back (by default it receives it, like any subscriber of the channel).
///
/// Strict like `ControlMessage`: no unknown or duplicate keys, no trailing bytes. Error reasons fit in a close frame.
package enum ChorusV1Command: Equatable, Sendable {
    case subscribe(ChannelName, since: StreamPosition?)
    case unsubscribe(ChannelName)
    case publish(ChannelName, data: PublishData, echo: Bool)

    /// A client publish's `data`: a JSON string is published as plain text (its raw subscribers receive the string
    /// itself), any other value as the JSON text it is.
    package enum PublishData: Equatable, Sendable {
        case text(String)
        /// Where the JSON value sits in the message.
        case json(Range<Int>)
    }

    /// Parses the readable bytes of `text` (not consumed). A `.json` range counts from its reader index.
    package static func parse(_ text: ByteBuffer) throws(ControlMessageError) -> ChorusV1Command {
        let result = text.withUnsafeReadableBytes { bytes in
            var parser = ChorusV1CommandParser(bytes: bytes)
            return Result { () throws(ControlMessageError) in try parser.parse() }
        }
        return try result.get()
    }
}

/// The strict reader of `ChorusV1Command`.
private struct ChorusV1CommandParser {
    private var reader: JSONReader

    init(bytes: UnsafeRawBufferPointer) {
        self.reader = JSONReader(bytes: bytes)
    }

    private enum Action {
        case subscribe
        case unsubscribe
        case publish
    }

    mutating func parse() throws(ControlMessageError) -> ChorusV1Command {
        var action: (action: Action, channel: String)?
        var since: StreamPosition?
        var data: ChorusV1Command.PublishData?
        var echo: Bool?

        try self.reader.readObject { (key, reader) throws(ControlMessageError) in
            switch key {
            case "subscribe", "unsubscribe", "publish":
                guard action == nil else { throw ControlMessageError(reason: "more than one action") }
                let kind: Action = key == "subscribe" ? .subscribe : key == "unsubscribe" ? .unsubscribe : .publish
                action = (kind, try Self.string(for: key, &reader))
            case "since":
                guard since == nil else { throw ControlMessageError(reason: #"duplicate key "since""#) }
                since = try Self.position(&reader)
            case "data":
                guard data == nil else { throw ControlMessageError(reason: #"duplicate key "data""#) }
                data = try Self.value(&reader)
            case "echo":
                guard echo == nil else { throw ControlMessageError(reason: #"duplicate key "echo""#) }
                echo = try Self.boolean(for: key, &reader)
            default:
                throw ControlMessageError(reason: key.utf8.count <= 32 ? "unknown key \"\(key)\"" : "unknown key")
            }
        }
        guard let action else {
            throw ControlMessageError(reason: #"expected one of "subscribe", "unsubscribe" or "publish""#)
        }
        let channel: ChannelName
        do {
            channel = try ChannelName(validating: action.channel)
        } catch {
            throw ControlMessageError(reason: error.reason)
        }
        switch action.action {
        case .subscribe:
            guard data == nil, echo == nil else {
                throw ControlMessageError(reason: #""data" and "echo" are only allowed with "publish""#)
            }
            return .subscribe(channel, since: since)
        case .unsubscribe:
            guard data == nil, echo == nil, since == nil else {
                throw ControlMessageError(reason: #""unsubscribe" takes no other key"#)
            }
            return .unsubscribe(channel)
        case .publish:
            guard since == nil else { throw ControlMessageError(reason: #""since" is only allowed with "subscribe""#) }
            guard let data else { throw ControlMessageError(reason: #""publish" requires "data""#) }
            return .publish(channel, data: data, echo: echo ?? true)
        }
    }

    private static func string(for key: String, _ reader: inout JSONReader) throws(ControlMessageError) -> String {
        guard reader.peek() == UInt8(ascii: "\"") else { throw reader.error("value of \"\(key)\" must be a string") }
        return try reader.parseString()
    }

    private static func boolean(for key: String, _ reader: inout JSONReader) throws(ControlMessageError) -> Bool {
        if reader.consume(literal: "true") { return true }
        if reader.consume(literal: "false") { return false }
        throw reader.error("value of \"\(key)\" must be true or false")
    }

    /// `{"offset":41,"epoch":"k3J9aB7x"}`.
    private static func position(_ reader: inout JSONReader) throws(ControlMessageError) -> StreamPosition {
        let malformed = ControlMessageError(reason: #""since" must be {"offset":<integer>,"epoch":"<epoch>"}"#)
        guard reader.consume(UInt8(ascii: "{")) else { throw malformed }
        var offset: UInt64?
        var epoch: Epoch?
        repeat {
            reader.skipWhitespace()
            guard reader.peek() == UInt8(ascii: "\"") else { throw malformed }
            let key = try reader.parseString()
            reader.skipWhitespace()
            guard reader.consume(UInt8(ascii: ":")) else { throw malformed }
            reader.skipWhitespace()
            switch key {
            case "offset" where offset == nil:
                guard let value = reader.parseUnsignedInteger() else { throw malformed }
                offset = value
            case "epoch" where epoch == nil:
                guard reader.peek() == UInt8(ascii: "\""), let value = Epoch(try reader.parseString()) else {
                    throw ControlMessageError(reason: "invalid epoch")
                }
                epoch = value
            default:
                throw malformed
            }
            reader.skipWhitespace()
        } while reader.consume(UInt8(ascii: ","))
        guard reader.consume(UInt8(ascii: "}")), let offset, let epoch else { throw malformed }
        return StreamPosition(offset: offset, epoch: epoch)
    }

    /// Any JSON value: a string decoded, anything else as the range of its bytes.
    private static func value(_ reader: inout JSONReader) throws(ControlMessageError) -> ChorusV1Command.PublishData {
        if reader.peek() == UInt8(ascii: "\"") { return .text(try reader.parseString()) }
        let start = reader.index
        guard let end = JSONScanner.valueEnd(in: reader.bytes, from: start) else {
            throw reader.error(#""data" is not a valid JSON value"#)
        }
        reader.index = end
        return .json(start..<end)
    }
}
