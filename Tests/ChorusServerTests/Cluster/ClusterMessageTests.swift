import ChorusCore
import ChorusRedis
import ChorusServer
import NIOCore
import Testing

@Suite("Cluster wire format and reconnect back-off")
struct ClusterMessageTests {
    @Test("a message carries 0xC2, the opcode, the JSON flag, the epoch and a 20-digit offset, then the payload")
    func encodeDecode() throws {
        let payload: [UInt8] = [0x00, 0xFF, 0x0D, 0x0A]
        // What the publish script sends: the node's header, then the position, then the payload.
        var message = ClusterMessage.header(opcode: .binary, isJSON: false)
        #expect(Array(message.readableBytesView) == [0xC2, 0x02, 0x00])
        message.writeBytes([4] + Array("k3J9".utf8) + Array("00000000000000000042".utf8) + payload)
        let decoded = try #require(ClusterMessage.decode(message))
        #expect(decoded.opcode == .binary && !decoded.isJSON && Array(decoded.payload.readableBytesView) == payload)
        #expect(decoded.position == StreamPosition(offset: 42, epoch: try #require(Epoch("k3J9"))))
        var json = ClusterMessage.header(opcode: .text, isJSON: true)
        json.writeBytes([1] + Array("e".utf8) + Array("00000000000000000001".utf8) + Array("{}".utf8))
        #expect(ClusterMessage.decode(json).map { $0.isJSON && $0.opcode == .text && $0.position?.offset == 1 } == true)
        // Version 1 (no position) is still read.
        let old = try #require(ClusterMessage.decode(ByteBuffer(bytes: [0xC1, 0x01, 0x41])))
        #expect(old.opcode == .text && old.position == nil && old.payload == ByteBuffer(string: "A"))
        // Another version, an unknown opcode, a broken position, or too short: not ours.
        let broken: [[UInt8]] = [
            [0xC3, 0x01, 0x41], [0xC1, 0x08], [0xC1], [], Array("hello".utf8), [0xC2, 0x01, 0x00, 0x02, 0x41],
            [0xC2, 0x01, 0x00, 0x01, 0x41] + Array("12x".utf8), [0xC2, 0x01, 0x00, 0x01, 0x21] + Array(repeating: 0x30, count: 20),
        ]
        for foreign in broken {
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
