import NIOCore
import NIOEmbedded
import Testing

@testable import ChorusCore

/// The queue between a publisher and the loops is bounded: past `maxQueuedPublishes` waiting on any loop, a
/// publish is refused as a whole and counted, and nothing of it reaches any subscriber.
@Suite("Hub: bounded publish queue")
struct PublishQueueTests {
    @Test("past the limit on any loop a publish is refused everywhere, counted, and later ones pass once loops catch up")
    func refusedAsAWhole() throws {
        let loops = [EmbeddedEventLoop(), EmbeddedEventLoop()]
        var settings = ShardSettings()
        settings.maxQueuedPublishes = 2
        let hub = Hub(loops: loops, settings: settings)
        let news = try ChannelName(validating: "news")
        let sinks = [RecordingSink(), RecordingSink()]
        for (loop, sink) in zip(loops, sinks) {
            let shard = hub.shard(on: loop)
            #expect(shard.subscribe(shard.register(sink), to: news) == .subscribed)
        }
        func publish(_ text: String) -> EventLoopFuture<Int> {
            hub.publish(ByteBuffer(string: text), opcode: .text, to: news, source: .http, on: loops[0])
        }

        // Neither loop has run: two publishes wait on each, the third is refused.
        let first = publish("1")
        let second = publish("2")
        let third = publish("3")
        #expect(throws: PublishOverloaded(limit: 2)) { try third.wait() }
        #expect(hub.hubCounters.overloaded[PublishSource.http.rawValue] == 1)
        #expect(hub.hubCounters.framesEncoded == 2)

        // One loop catching up is not enough: the other still has two waiting, and a message goes to all or none.
        loops[0].run()
        #expect(throws: PublishOverloaded(limit: 2)) { try publish("4").wait() }
        loops[1].run()
        #expect(try first.wait() == 2 && second.wait() == 2)

        let fifth = publish("5")
        loops.forEach { $0.run() }
        #expect(try fifth.wait() == 2)
        #expect(hub.hubCounters.overloaded[PublishSource.http.rawValue] == 2)
        // Each subscriber got exactly the accepted messages, in order: 1, 2, 5.
        for sink in sinks {
            #expect(sink.written.map { String(buffer: $0).dropFirst(2) } == ["1", "2", "5"])
        }
    }
}
