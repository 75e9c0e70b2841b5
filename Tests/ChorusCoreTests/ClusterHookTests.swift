import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing

@testable import ChorusCore

/// A bus that records what the hub tells it and answers publishes as told.
final class RecordingBus: ClusterBus {
    let changes = NIOLockedValueBox<[(String, Bool)]>([])
    let published = NIOLockedValueBox<[String]>([])
    let answer: ClusterPublishOutcome

    init(answer: ClusterPublishOutcome) { self.answer = answer }

    func publish(
        _ payload: ByteBuffer,
        opcode: WebSocketOpcode,
        to channel: ChannelName,
        isJSON: Bool,
        excluding publisher: PublisherConnection?,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<ClusterPublishOutcome> {
        self.published.withLockedValue { $0.append(String(buffer: payload)) }
        return eventLoop.makeSucceededFuture(self.answer)
    }

    func readStream(
        _ channel: ChannelName,
        after offset: UInt64,
        limit: Int,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<ClusterStreamRead> {
        eventLoop.makeSucceededFuture(ClusterStreamRead(position: nil, messages: []))
    }

    func interestChanged(in channel: ChannelName, interested: Bool) {
        self.changes.withLockedValue { $0.append((channel.value, interested)) }
    }

    var isConnected: Bool { self.answer != .notConnected }
}

@Suite("Hub and shards: the cluster bus seam")
struct ClusterHookTests {
    private func name(_ text: String) throws -> ChannelName { try ChannelName(validating: text) }

    @Test("the bus hears of a channel once when its first subscriber on any shard arrives and once when the last leaves")
    func interestAggregatedOverShards() throws {
        let loops = [EmbeddedEventLoop(), EmbeddedEventLoop()]
        let bus = RecordingBus(answer: .sent(receivers: 1, position: nil))
        let hub = Hub(loops: loops, settings: ShardSettings(), clusterBus: bus)
        let shards = loops.map { hub.shard(on: $0) }
        let news = try self.name("news")
        let a = shards[0].register(RecordingSink())
        let b = shards[0].register(RecordingSink())
        let c = shards[1].register(RecordingSink())
        #expect(shards[0].subscribe(a, to: news) == .subscribed)
        #expect(shards[0].subscribe(b, to: news) == .subscribed)
        #expect(shards[1].subscribe(c, to: news) == .subscribed)
        #expect(bus.changes.withLockedValue { $0.map(\.0) } == ["news"])
        #expect(hub.interest?.contains(news) == true)
        shards[0].unsubscribe(a, from: news)
        shards[0].release(b, reason: .normal)  // the last on shard 0, but shard 1 still has one
        #expect(bus.changes.withLockedValue { $0.count } == 1)
        shards[1].release(c, reason: .normal)
        #expect(bus.changes.withLockedValue { $0.map { "\($0.0)=\($0.1)" } } == ["news=true", "news=false"])
        #expect(hub.interest?.contains(news) == false)
    }

    @Test("without a bus the hub tracks no interest and broadcast delivers locally")
    func singleNode() throws {
        let loop = EmbeddedEventLoop()
        let hub = Hub(loops: [loop], settings: ShardSettings())
        #expect(hub.interest == nil)
        let sink = RecordingSink()
        _ = hub.shard(on: loop).subscribe(hub.shard(on: loop).register(sink), to: try self.name("c"))
        let result = hub.broadcast(ByteBuffer(string: "x"), opcode: .text, to: try self.name("c"), source: .http, on: loop)
        loop.run()
        let published = try result.wait()
        #expect(published.reach == .delivered(1))
        #expect(published.position?.offset == 1)
        #expect(sink.written.count == 1)
    }

    @Test("with the bus up, broadcast only sends to the bus (delivery comes back through it); with it down, locally")
    func broadcastThroughBus() throws {
        for (answer, expected, localWrites) in [
            (ClusterPublishOutcome.sent(receivers: 3, position: nil), PublishResult.Reach.clustered(receivers: 3), 0),
            (.notConnected, .localOnly(1), 1),
        ] {
            let loop = EmbeddedEventLoop()
            let bus = RecordingBus(answer: answer)
            let hub = Hub(loops: [loop], settings: ShardSettings(), clusterBus: bus)
            let sink = RecordingSink()
            _ = hub.shard(on: loop).subscribe(hub.shard(on: loop).register(sink), to: try self.name("c"))
            let result = hub.broadcast(ByteBuffer(string: "x"), opcode: .text, to: try self.name("c"), source: .http, on: loop)
            loop.run()
            #expect(try result.wait().reach == expected)
            #expect(bus.published.withLockedValue { $0 } == ["x"])
            #expect(sink.written.count == localWrites)
            #expect(hub.hubCounters.framesEncoded == localWrites)
        }
    }
}
