import NIOCore

/// The `chorus.v1` rendition of a published message: the payload with its channel, offset and epoch, encoded once
/// and shared by every `chorus.v1` subscriber (README, "Never miss a message").
///
/// - Text: `{"channel":"news","offset":42,"epoch":"k3J9aB7x","data":…}`, with a payload that is JSON embedded as
///   it is and any other text as a JSON string.
/// - Binary: a header, then the payload unchanged: `0x01` (the format), the channel name's length (1 byte) and name,
///   the offset (8 bytes, big-endian), the epoch's length (1 byte) and epoch.
///
/// Channel names and epochs are ASCII from alphabets that need no escaping.
package enum ChorusV1Envelope {
    /// The first byte of a binary envelope: the version of its layout.
    package static let binaryFormat: UInt8 = 0x01

    /// The rendition of `payload` (a text message's payload is valid UTF-8; `isJSON` says it is one JSON text),
    /// published on `channel` at `position`, and where its data sits in the frame.
    package static func frame(
        _ payload: ByteBuffer,
        opcode: WebSocketOpcode,
        isJSON: Bool,
        channel: ChannelName,
        position: StreamPosition
    ) -> (frame: Frame, dataRange: Range<Int>) {
        Self.frame(payload, opcode: opcode, isJSON: isJSON, channel: channel, position: position) {
            Frame(opcode: $0, payloadLength: $1, writePayload: $2)
        }
    }

    /// The same, with its storage from `make` (given the opcode, the payload's length and what writes the payload):
    /// a buffer of its own, or a `FrameArena`'s chunk.
    package static func frame(
        _ payload: ByteBuffer,
        opcode: WebSocketOpcode,
        isJSON: Bool,
        channel: ChannelName,
        position: StreamPosition,
        make: (WebSocketOpcode, Int, (inout ByteBuffer) -> Void) -> Frame
    ) -> (frame: Frame, dataRange: Range<Int>) {
        switch opcode {
        case .binary:
            let headerLength = 1 + 1 + channel.value.utf8.count + 8 + 1 + position.epoch.value.utf8.count
            let frame = make(.binary, headerLength + payload.readableBytes) {
                $0.writeInteger(Self.binaryFormat)
                $0.writeInteger(UInt8(channel.value.utf8.count))
                $0.writeString(channel.value)
                $0.writeInteger(position.offset, endianness: .big)
                $0.writeInteger(UInt8(position.epoch.value.utf8.count))
                $0.writeString(position.epoch.value)
                $0.writeImmutableBuffer(payload)
            }
            let start = frame.headerLength + headerLength
            return (frame, start..<(start + payload.readableBytes))
        default:
            // Written piece by piece: the prefix as one interpolated string would be allocated per message.
            let offsetDigits = Self.decimalLength(position.offset)
            let keys: Int = Self.keysLength
            let names: Int = channel.value.utf8.count + position.epoch.value.utf8.count
            let prefixLength: Int = keys + names + offsetDigits
            let dataLength = isJSON ? payload.readableBytes : JSONString.quotedLength(of: payload)
            let frame = make(.text, prefixLength + dataLength + 1) {
                $0.writeStaticString(Self.channelKey)
                $0.writeString(channel.value)
                $0.writeStaticString(Self.offsetKey)
                Self.writeDecimal(position.offset, digits: offsetDigits, into: &$0)
                $0.writeStaticString(Self.epochKey)
                $0.writeString(position.epoch.value)
                $0.writeStaticString(Self.dataKey)
                if isJSON { $0.writeImmutableBuffer(payload) } else { JSONString.writeQuoted(payload, into: &$0) }
                $0.writeInteger(UInt8(ascii: "}"))
            }
            let start = frame.headerLength + prefixLength
            return (frame, start..<(start + dataLength))
        }
    }

    private static let channelKey: StaticString = #"{"channel":""#
    private static let offsetKey: StaticString = #"","offset":"#
    private static let epochKey: StaticString = #","epoch":""#
    private static let dataKey: StaticString = #"","data":"#
    private static let keysLength =
        [channelKey, offsetKey, epochKey, dataKey].reduce(0) { $0 + $1.utf8CodeUnitCount }

    private static func decimalLength(_ value: UInt64) -> Int {
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        return digits
    }

    private static func writeDecimal(_ value: UInt64, digits: Int, into buffer: inout ByteBuffer) {
        var divisor: UInt64 = 1
        for _ in 1..<digits { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            buffer.writeInteger(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }
}
