import NIOCore
import NIOEmbedded
import Testing

@testable import ChorusCore

@Suite("Shard fan-out")
struct ShardTests {
    private func name(_ text: String) throws -> ChannelName { try ChannelName(validating: text) }

    @Test("every subscriber is handed the same frame storage: encoded once, never copied")
    func sharedStorage() throws {
        let shard = Shard(eventLoop: EmbeddedEventLoop(), settings: ShardSettings())
        let sinks = (0..<3).map { _ in RecordingSink() }
        for sink in sinks {
            _ = shard.subscribe(shard.register(sink), to: try self.name("news"))
        }
        let frame = Frame(opcode: .text, payload: ByteBuffer(string: "hello"))
        #expect(shard.deliver(frame, to: try self.name("news")) == 3)
        let addresses = sinks.map { sink in sink.written[0].withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } }
        let original = frame.bytes.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(addresses.allSatisfy { $0 == original })
        #expect(sinks.allSatisfy { $0.flushes == 1 })
        #expect(shard.statistics.deliveries == 3)
        #expect(shard.statistics.deliveredBytes == 3 * frame.wireLength)
    }

    @Test("a shared sink gets every connection's writes, and each block still stops deliveries when closing")
    func sharedSinkFanOut() throws {
        let shard = Shard(eventLoop: EmbeddedEventLoop(), settings: ShardSettings())
        let sink = RecordingSink()
        shard.useSharedSink(sink)
        let ids = try (0..<3).map { _ in
            let id = shard.register(sink)
            _ = shard.subscribe(id, to: try self.name("news"))
            return id
        }
        shard.markClosing(ids[1])
        let frame = Frame(opcode: .text, payload: ByteBuffer(string: "hi"))
        #expect(shard.deliver(frame, to: try self.name("news")) == 2)
        #expect(sink.written.count == 2 && sink.flushes == 2)
        #expect(shard.deliver(frame, toConnection: ids[0]) && !shard.deliver(frame, toConnection: ids[1]))
        for id in ids { shard.release(id, reason: .normal) }
        shard.useSharedSink(nil)
    }

    @Test("a channel's emptied subscriber list is kept for the next new channel, which then delivers normally")
    func spareSubscriberListReused() throws {
        let shard = Shard(eventLoop: EmbeddedEventLoop(), settings: ShardSettings())
        let first = shard.register(RecordingSink())
        #expect(shard.subscribe(first, to: try self.name("inbox.a")) == .subscribed)
        #expect(shard.spareSubscriberListCount == 0)
        shard.release(first, reason: .normal)
        #expect(shard.spareSubscriberListCount == 1 && shard.channelCount == 0)
        let sink = RecordingSink()
        let second = shard.register(sink)
        #expect(shard.subscribe(second, to: try self.name("inbox.b")) == .subscribed)
        #expect(shard.spareSubscriberListCount == 0)
        let frame = Frame(opcode: .text, payload: ByteBuffer(string: "hi"))
        #expect(shard.deliver(frame, to: try self.name("inbox.b")) == 1 && sink.written.count == 1)
        #expect(shard.deliver(frame, to: try self.name("inbox.a")) == 0)
    }

    @Test("unsubscribing from the middle keeps every other subscriber reachable exactly once")
    func swapRemoveKeepsIndexConsistent() throws {
        let shard = Shard(eventLoop: EmbeddedEventLoop(), settings: ShardSettings())
        let channel = try self.name("c")
        var entries: [(ConnectionID, RecordingSink)] = []
        for _ in 0..<10 {
            let sink = RecordingSink()
            let id = shard.register(sink)
            #expect(shard.subscribe(id, to: channel) == .subscribed)
            #expect(shard.subscribe(id, to: try self.name("other")) == .subscribed)
            entries.append((id, sink))
        }
        #expect(shard.subscribe(entries[0].0, to: channel) == .alreadySubscribed)
        for index in [3, 0, 9, 5] {
            #expect(shard.unsubscribe(entries[index].0, from: channel))
        }
        #expect(!shard.unsubscribe(entries[3].0, from: channel))
        shard.release(entries[7].0, reason: .normal)
        let frame = Frame(opcode: .binary, payload: ByteBuffer(bytes: [1, 2, 3]))
        #expect(shard.deliver(frame, to: channel) == 5)
        for (index, entry) in entries.enumerated() {
            let expected = [3, 0, 9, 5, 7].contains(index) ? 0 : 1
            #expect(entry.1.written.count == expected, "subscriber \(index)")
        }
        #expect(shard.subscriberCount(of: try self.name("other")) == 9)
        #expect(shard.subscriptions == 5 + 9)
    }

    @Test("drop policy skips a non-writable subscriber, counts it, and others still receive")
    func dropPolicy() throws {
        var settings = ShardSettings()
        settings.slowConsumerPolicy = .drop
        let shard = Shard(eventLoop: EmbeddedEventLoop(), settings: settings)
        let slow = RecordingSink()
        let fast = RecordingSink()
        let slowID = shard.register(slow)
        _ = shard.subscribe(slowID, to: try self.name("c"))
        _ = shard.subscribe(shard.register(fast), to: try self.name("c"))
        shard.setWritable(slowID, false)
        let frame = Frame(opcode: .text, payload: ByteBuffer(string: "x"))
        for _ in 0..<4 { #expect(shard.deliver(frame, to: try self.name("c")) == 1) }
        #expect(slow.written.isEmpty && fast.written.count == 4)
        #expect(shard.statistics.slowConsumerDrops == 4)
        #expect(try #require(shard.block(slowID)).droppedMessages == 4)
        shard.setWritable(slowID, true)
        #expect(shard.deliver(frame, to: try self.name("c")) == 2)
    }

    @Test("disconnect policy closes a non-writable subscriber once with 1008 and releases it safely mid-delivery")
    func disconnectPolicy() throws {
        let shard = Shard(eventLoop: EmbeddedEventLoop(), settings: ShardSettings())
        let slow = ReleasingSink()
        let fast = RecordingSink()
        let slowID = shard.register(slow)
        slow.onClose = { shard.release(slowID, reason: .slowConsumer) }
        _ = shard.subscribe(slowID, to: try self.name("c"))
        _ = shard.subscribe(shard.register(fast), to: try self.name("c"))
        shard.setWritable(slowID, false)
        let frame = Frame(opcode: .text, payload: ByteBuffer(string: "x"))
        #expect(shard.deliver(frame, to: try self.name("c")) == 1)
        #expect(shard.deliver(frame, to: try self.name("c")) == 1)
        #expect(slow.closes.count == 1)
        #expect(slow.closes.first?.0 == .policyViolation && slow.closes.first?.1 == "slow consumer")
        #expect(shard.statistics.slowConsumerDisconnects == 1)
        #expect(shard.statistics.closed(.slowConsumer) == 1)
        #expect(fast.written.count == 2)
        #expect(shard.connectionCount == 1)
    }

    @Test("liveness: silent connections are closed on the third tick, others get one shared ping per tick")
    func liveness() throws {
        let shard = Shard(eventLoop: EmbeddedEventLoop(), settings: ShardSettings())
        let silent = RecordingSink()
        let chatty = RecordingSink()
        _ = shard.register(silent)
        let chattyID = shard.register(chatty)
        shard.livenessTick()
        shard.touch(chattyID)
        shard.livenessTick()
        #expect(silent.closes.isEmpty && silent.written.count == 2)
        shard.livenessTick()
        #expect(silent.closes.count == 1 && silent.closes.first?.2 == .idleTimeout)
        #expect(silent.written.count == 2)
        #expect(chatty.closes.isEmpty && chatty.written.count == 3)
        #expect(chatty.written[0] == ByteBuffer(bytes: [0x89, 0x00]))
    }
}

/// A sink whose close immediately releases its connection, the way a transport may do synchronously.
final class ReleasingSink: ConnectionSink {
    var onClose: () -> Void = {}
    var closes: [(CloseCode, String, CloseReason)] = []
    func pendingOutboundBytes(slot: UInt32) -> Int { 0 }
    func bufferedInboundBytes(slot: UInt32) -> Int { 0 }
    func write(_ bytes: ByteBuffer, slot: UInt32) {}
    func flush(slot: UInt32) {}
    func closeTimedOut(slot: UInt32) {}
    func close(slot: UInt32, code: CloseCode, reason: String, because cause: CloseReason) {
        self.closes.append((code, reason, cause))
        self.onClose()
    }
}
