import NIOCore
import NIOEmbedded
import Testing

@testable import ChorusCore

/// `Shard.pingReceived` / `pongReceived`: the answer to a ping and the control-frame rate limit, decided once for
/// both transports and checked here without sockets.
@Suite("Control frames: one waiting pong, a rate limit, the slow-consumer policy")
struct ControlFrameLimitTests {
    private func shard(limit: Int = 3, policy: SlowConsumerPolicy = .disconnect) -> (Shard, RecordingSink, ConnectionID) {
        var settings = ShardSettings()
        settings.maxControlFramesPerSecond = limit
        settings.slowConsumerPolicy = policy
        let shard = Shard(eventLoop: EmbeddedEventLoop(), settings: settings)
        let sink = RecordingSink()
        return (shard, sink, shard.register(sink))
    }

    /// A deadline `second` seconds (plus `fraction`) into uptime.
    private func at(_ second: Int64, _ fraction: Double = 0) -> NIODeadline {
        .uptimeNanoseconds(UInt64(second) * 1_000_000_000 + UInt64(fraction * 1e9))
    }

    @Test("a ping is answered at once while no pong waits, and replaces the waiting one otherwise (counted)")
    func replaceWaitingPong() {
        let (shard, sink, id) = self.shard(limit: 0)
        #expect(shard.pingReceived(id, pongWaiting: false, now: self.at(100)) == .write)
        #expect(shard.pingReceived(id, pongWaiting: true, now: self.at(100)) == .replaceWaiting)
        #expect(shard.pingReceived(id, pongWaiting: true, now: self.at(100)) == .replaceWaiting)
        #expect(shard.statistics.pongsReplaced == 2)
        #expect(sink.closes.isEmpty)
    }

    @Test("the limit counts pings and pongs per second; the one past it closes with 1008, counted once")
    func rateLimit() throws {
        let (shard, sink, id) = self.shard(limit: 3)
        #expect(shard.pingReceived(id, pongWaiting: false, now: self.at(100, 0.1)) == .write)
        shard.pongReceived(id, now: self.at(100, 0.2))
        #expect(shard.pingReceived(id, pongWaiting: false, now: self.at(100, 0.3)) == .write)
        #expect(sink.closes.isEmpty)
        // A new second starts a new window.
        #expect(shard.pingReceived(id, pongWaiting: false, now: self.at(101, 0.0)) == .write)
        #expect(shard.pingReceived(id, pongWaiting: false, now: self.at(101, 0.5)) == .write)
        #expect(shard.pingReceived(id, pongWaiting: false, now: self.at(101, 0.9)) == .write)
        #expect(sink.closes.isEmpty)
        #expect(shard.pingReceived(id, pongWaiting: false, now: self.at(101, 0.95)) == .none)
        #expect(sink.closes.count == 1)
        let close = try #require(sink.closes.first)
        #expect(close.0 == .policyViolation && close.1 == "too many control frames" && close.2 == .controlFrameFlood)
        // Closing: later control frames are ignored and close nothing more.
        #expect(shard.pingReceived(id, pongWaiting: false, now: self.at(102)) == .none)
        shard.pongReceived(id, now: self.at(102))
        #expect(sink.closes.count == 1)
        shard.release(id, reason: .controlFrameFlood)
        #expect(shard.statistics.closed(.controlFrameFlood) == 1)
    }

    @Test("a pong that would wait while the connection is over its pending limit gets the slow-consumer policy")
    func slowConsumer() throws {
        let (shard, sink, id) = self.shard(limit: 0, policy: .disconnect)
        #expect(shard.pingReceived(id, pongWaiting: false) == .write)
        shard.setWritable(id, false)
        #expect(shard.pingReceived(id, pongWaiting: false) == .none)
        #expect(shard.pingReceived(id, pongWaiting: true) == .none)
        let close = try #require(sink.closes.first)
        #expect(close.0 == .policyViolation && close.1 == "slow consumer" && close.2 == .slowConsumer)
        #expect(shard.statistics.slowConsumerDisconnects == 1)

        let (dropping, dropSink, dropID) = self.shard(limit: 0, policy: .drop)
        dropping.setWritable(dropID, false)
        #expect(dropping.pingReceived(dropID, pongWaiting: false) == .write)
        #expect(dropping.pingReceived(dropID, pongWaiting: true) == .replaceWaiting)
        #expect(dropSink.closes.isEmpty && dropping.statistics.pongsReplaced == 1)
    }

    @Test("the counters sit in the metadata block's padding: the block stays 80 bytes")
    func blockSize() {
        #expect(MemoryLayout<ConnectionBlock>.stride == 80)
    }
}
