import ChorusTestSupport
import NIOCore
import NIOEmbedded
import Testing

@testable import ChorusCore
@testable import ChorusNIO

@Suite("WebSocketConnectionHandler on EmbeddedChannel")
struct WebSocketConnectionHandlerTests {
    /// An active channel whose only handler is the connection handler, as after a real upgrade.
    private func connect(_ hub: Hub, _ loop: EmbeddedEventLoop, channels: [String]) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let handler = WebSocketConnectionHandler(
            hub: hub,
            shard: hub.shard(on: loop),
            channels: try channels.map { try ChannelName(validating: $0) }
        )
        try channel.pipeline.syncOperations.addHandler(handler)
        return channel
    }

    @Test("a publish reaches two connections as the very same buffer storage")
    func encodeOnceAcrossHandlers() throws {
        let loop = EmbeddedEventLoop()
        let hub = Hub(loops: [loop], settings: ShardSettings())
        let first = try self.connect(hub, loop, channels: ["news"])
        let second = try self.connect(hub, loop, channels: ["news", "sport"])
        let delivered = hub.publish(
            ByteBuffer(string: "breaking"),
            opcode: .text,
            to: try ChannelName(validating: "news"),
            source: .http,
            on: loop
        )
        loop.run()
        #expect(try delivered.wait() == 2)
        let a = try #require(try first.readOutbound(as: ByteBuffer.self))
        let b = try #require(try second.readOutbound(as: ByteBuffer.self))
        #expect(a == ByteBuffer(bytes: [0x81, 8] + Array("breaking".utf8)))
        let addressA = a.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let addressB = b.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(addressA == addressB)
        #expect(hub.hubCounters.framesEncoded == 1)
        #expect(hub.shard(on: loop).statistics.deliveries == 2)
        _ = try first.finish(acceptAlreadyClosed: true)
        _ = try second.finish(acceptAlreadyClosed: true)
    }

    @Test("ping gets a pong with the same payload; close is echoed and the block released")
    func pingAndClose() throws {
        let loop = EmbeddedEventLoop()
        let hub = Hub(loops: [loop], settings: ShardSettings())
        let channel = try self.connect(hub, loop, channels: ["x"])
        #expect(hub.shard(on: loop).connectionCount == 1)
        try channel.writeInbound(ByteBuffer(bytes: ClientFrame(opcode: 0x9, payload: Array("hey".utf8)).bytes))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(bytes: [0x8A, 3] + Array("hey".utf8)))
        try channel.writeInbound(ByteBuffer(bytes: ClientFrame(opcode: 0x8, payload: [0x03, 0xE8]).bytes))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(bytes: [0x88, 2, 0x03, 0xE8]))
        loop.run()
        #expect(!channel.isActive)
        #expect(hub.shard(on: loop).connectionCount == 0)
        #expect(hub.shard(on: loop).statistics.closed(.normal) == 1)
        #expect(hub.shard(on: loop).subscriptions == 0)
    }
}
