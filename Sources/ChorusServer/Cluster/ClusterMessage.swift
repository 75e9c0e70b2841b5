import ChorusCore
import ChorusRedis
import NIOCore

/// How a published message travels between nodes: `PUBLISH chorus:<channel> <message>`, sent by the publish
/// script (`ClusterScripts`), which also assigns the message's offset and keeps it in the channel's Redis stream. The
/// message is
///
/// | byte | meaning |
/// |---|---|
/// | 0 | `0xC2`: Chorus cluster format, version 2 (`0xC1`, version 1 without a position, is still read) |
/// | 1 | the WebSocket opcode to deliver it with: `0x01` text, `0x02` binary |
/// | 2 | flags: bit 0 set when the text payload is one JSON text; bit 1 when a publisher is left out |
/// | 3… | with bit 1: 18 bytes naming the publisher (node 8, shard 2, slot 4, generation 4; big-endian) |
/// | then | the epoch's length E (1–32), then the epoch |
/// | then | the offset, 20 ASCII digits (zero-padded: Redis's Lua writes it with `%020d`) |
/// | then | the payload, unchanged |
///
/// The node that publishes sends the header (up to the epoch) and the payload; the script adds the position.
package enum ClusterMessage {
    /// The Redis channel prefix: Chorus's channel `news` is Redis's `chorus:news`.
    package static let channelPrefix = "chorus:"
    /// The pattern `--redis-pattern` subscribes to.
    package static let pattern = "chorus:*"
    /// Format markers.
    package static let version: UInt8 = 0xC2
    package static let versionWithoutPosition: UInt8 = 0xC1
    /// Digits of the offset.
    static let offsetDigits = 20

    /// A decoded message.
    package struct Decoded {
        package var opcode: WebSocketOpcode
        package var isJSON: Bool
        /// nil for a version-1 message.
        package var position: StreamPosition?
        /// The node and connection that published it and asked not to receive it.
        package var excluded: (node: UInt64, connection: PublisherConnection)?
        package var payload: ByteBuffer
    }

    /// The header the publishing node puts before the position.
    package static func header(
        opcode: WebSocketOpcode,
        isJSON: Bool,
        excluding publisher: (node: UInt64, connection: PublisherConnection)? = nil
    ) -> ByteBuffer {
        var header = ByteBuffer()
        header.writeInteger(Self.version)
        header.writeInteger(opcode == .text ? UInt8(0x01) : UInt8(0x02))
        header.writeInteger((isJSON ? UInt8(0x01) : 0) | (publisher != nil ? 0x02 : 0))
        if let publisher {
            header.writeInteger(publisher.node)
            header.writeInteger(UInt16(truncatingIfNeeded: publisher.connection.shard))
            header.writeInteger(publisher.connection.id.index)
            header.writeInteger(publisher.connection.id.generation)
        }
        return header
    }

    /// The message's parts, or nil when it is not in a known format.
    package static func decode(_ message: ByteBuffer) -> Decoded? {
        var message = message
        guard let version = message.readInteger(as: UInt8.self), let opcodeByte = message.readInteger(as: UInt8.self)
        else { return nil }
        let opcode: WebSocketOpcode
        switch opcodeByte {
        case 0x01: opcode = .text
        case 0x02: opcode = .binary
        default: return nil
        }
        switch version {
        case Self.versionWithoutPosition:
            return Decoded(opcode: opcode, isJSON: false, position: nil, excluded: nil, payload: message)
        case Self.version:
            guard let flags = message.readInteger(as: UInt8.self) else { return nil }
            var excluded: (node: UInt64, connection: PublisherConnection)?
            if flags & 0x02 != 0 {
                guard let node = message.readInteger(as: UInt64.self), let shard = message.readInteger(as: UInt16.self),
                    let index = message.readInteger(as: UInt32.self), let generation = message.readInteger(as: UInt32.self)
                else { return nil }
                let id = ConnectionID(index: index, generation: generation)
                excluded = (node, PublisherConnection(shard: Int(shard), id: id))
            }
            guard let epochLength = message.readInteger(as: UInt8.self),
                let epochText = message.readString(length: Int(epochLength)), let epoch = Epoch(epochText),
                let digits = message.readString(length: Self.offsetDigits), let offset = UInt64(digits)
            else { return nil }
            return Decoded(
                opcode: opcode,
                isJSON: flags & 0x01 != 0,
                position: StreamPosition(offset: offset, epoch: epoch),
                excluded: excluded,
                payload: message
            )
        default:
            return nil
        }
    }

    /// Chorus's channel for a Redis channel name, or nil when it is not one of ours or not a valid name.
    package static func channel(fromRedis name: ByteBuffer) -> ChannelName? {
        let text = String(buffer: name)
        guard text.hasPrefix(Self.channelPrefix) else { return nil }
        return try? ChannelName(validating: text.dropFirst(Self.channelPrefix.count))
    }
}
