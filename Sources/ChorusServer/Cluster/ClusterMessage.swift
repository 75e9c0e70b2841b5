import ChorusCore
import ChorusRedis
import NIOCore

/// How a published message travels between nodes: `PUBLISH chorus:<channel> <message>`, where the message is
///
/// | byte | meaning |
/// |---|---|
/// | 0 | `0xC1`: Chorus cluster format, version 1 (anything else is refused, so a later format can coexist) |
/// | 1 | the WebSocket opcode to deliver it with: `0x01` text, `0x02` binary |
/// | 2… | the payload, unchanged |
///
/// Two bytes, so a payload is copied once into the command and once out of it on each receiving node (into
/// that node's one encoded frame).
package enum ClusterMessage {
    /// The Redis channel prefix: Chorus's channel `news` is Redis's `chorus:news`.
    package static let channelPrefix = "chorus:"
    /// The pattern `--redis-pattern` subscribes to.
    package static let pattern = "chorus:*"
    /// Format marker and version.
    package static let version: UInt8 = 0xC1

    /// `PUBLISH chorus:<channel> <header><payload>`, encoded in one buffer.
    package static func publishCommand(
        _ payload: ByteBuffer,
        opcode: WebSocketOpcode,
        to channel: ChannelName,
        allocator: ByteBufferAllocator
    ) -> RESPCommand {
        let redisChannel = Self.channelPrefix + channel.value
        let messageLength = 2 + payload.readableBytes
        var bytes = allocator.buffer(capacity: 64 + redisChannel.utf8.count + messageLength)
        bytes.writeString("*3\r\n$7\r\nPUBLISH\r\n$\(redisChannel.utf8.count)\r\n\(redisChannel)\r\n$\(messageLength)\r\n")
        bytes.writeInteger(Self.version)
        bytes.writeInteger(opcode == .text ? UInt8(0x01) : UInt8(0x02))
        bytes.writeImmutableBuffer(payload)
        bytes.writeString("\r\n")
        return RESPCommand(name: "PUBLISH", encoded: bytes)
    }

    /// The opcode and payload of a message, or nil when it is not in this format.
    package static func decode(_ message: ByteBuffer) -> (opcode: WebSocketOpcode, payload: ByteBuffer)? {
        guard message.readableBytes >= 2,
            message.getInteger(at: message.readerIndex, as: UInt8.self) == Self.version,
            let opcodeByte = message.getInteger(at: message.readerIndex + 1, as: UInt8.self)
        else { return nil }
        let opcode: WebSocketOpcode
        switch opcodeByte {
        case 0x01: opcode = .text
        case 0x02: opcode = .binary
        default: return nil
        }
        return (opcode, message.getSlice(at: message.readerIndex + 2, length: message.readableBytes - 2)!)
    }

    /// Chorus's channel for a Redis channel name, or nil when it is not one of ours or not a valid name.
    package static func channel(fromRedis name: ByteBuffer) -> ChannelName? {
        let text = String(buffer: name)
        guard text.hasPrefix(Self.channelPrefix) else { return nil }
        return try? ChannelName(validating: text.dropFirst(Self.channelPrefix.count))
    }
}
