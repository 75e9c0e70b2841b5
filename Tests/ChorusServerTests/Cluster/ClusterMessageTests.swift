import ChorusCore
import ChorusRedis
import ChorusServer
import NIOCore
import Testing

@Suite("Cluster wire format and reconnect back-off")
struct ClusterMessageTests {
    @Test("PUBLISH chorus:<channel> carries 0xC1, the opcode, then the payload unchanged")
    func encodeDecode() throws {
        let payload = ByteBuffer(bytes: [0x00, 0xFF, 0x0D, 0x0A])
        let command = ClusterMessage.publishCommand(
            payload, opcode: .binary, to: try ChannelName(validating: "a.b"), allocator: ByteBufferAllocator())
        var bytes = command.bytes
        guard case .value(let value) = try RESPParser().next(from: &bytes), let parts = value.elements, parts.count == 3,
            case .bulkString(let message?) = parts[2]
        else {
            Issue.record("not a three-part command")
            return
        }
        #expect(parts[0].string == "PUBLISH" && parts[1].string == "chorus:a.b")
        #expect(Array(message.readableBytesView) == [0xC1, 0x02, 0x00, 0xFF, 0x0D, 0x0A])
        let decoded = try #require(ClusterMessage.decode(message))
        #expect(decoded.opcode == .binary && decoded.payload == payload)
        #expect(ClusterMessage.decode(ByteBuffer(bytes: [0xC1, 0x01])).map { $0.opcode == .text && $0.payload.readableBytes == 0 } == true)
        // Another version, an unknown opcode, or too short: not ours.
        for foreign: [UInt8] in [[0xC2, 0x01, 0x41], [0xC1, 0x08], [0xC1], [], Array("hello".utf8)] {
            #expect(ClusterMessage.decode(ByteBuffer(bytes: foreign)) == nil, "\(foreign)")
        }
        #expect(ClusterMessage.channel(fromRedis: ByteBuffer(string: "chorus:ok")) == (try ChannelName(validating: "ok")))
        #expect(ClusterMessage.channel(fromRedis: ByteBuffer(string: "other:ok")) == nil)
        #expect(ClusterMessage.channel(fromRedis: ByteBuffer(string: "chorus:bad name")) == nil)
    }

    @Test("reconnect delays double from 100 ms to the 5 s ceiling, jittered down by at most half, never overflowing")
    func backoff() {
        let settings = ClusterSettings(url: RedisURL(host: "h"))
        let full = (0..<8).map { settings.reconnectDelay(attempt: $0, random: 1).nanoseconds / 1_000_000 }
        #expect(full == [100, 200, 400, 800, 1600, 3200, 5000, 5000])
        #expect(settings.reconnectDelay(attempt: 3, random: 0.5) == .milliseconds(400))
        #expect(settings.reconnectDelay(attempt: 10_000, random: 1) == .seconds(5))
    }
}
