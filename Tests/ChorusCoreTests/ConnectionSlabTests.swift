import NIOCore
import NIOEmbedded
import Testing

@testable import ChorusCore

/// A sink that records what a shard asks of it.
final class RecordingSink: ConnectionSink {
    var written: [ByteBuffer] = []
    var flushes = 0
    var closes: [(CloseCode, String, CloseReason)] = []

    func pendingOutboundBytes(slot: UInt32) -> Int { 0 }
    func bufferedInboundBytes(slot: UInt32) -> Int { 0 }
    var closeTimeouts = 0
    func closeTimedOut(slot: UInt32) { self.closeTimeouts += 1 }

    func write(_ bytes: ByteBuffer, slot: UInt32) { self.written.append(bytes) }
    func flush(slot: UInt32) { self.flushes += 1 }
    func close(slot: UInt32, code: CloseCode, reason: String, because cause: CloseReason) {
        self.closes.append((code, reason, cause))
    }
}

@Suite("Metadata slab: reuse, generations, reset")
struct ConnectionSlabTests {
    @Test("a released block is reused with a bumped generation and the stale handle is rejected")
    func reuseAndGeneration() {
        var slab = ConnectionSlab()
        let first = slab.acquire(sink: RecordingSink(), tick: 0)
        #expect(slab.allocatedTotal == 1 && slab.reusedTotal == 0 && slab.inUse == 1)
        let released = slab.release(first)
        #expect(released)
        #expect(!slab.isValid(first))
        #expect(slab.free == 1 && slab.inUse == 0)

        let second = slab.acquire(sink: RecordingSink(), tick: 0)
        #expect(second.index == first.index)
        #expect(second.generation == first.generation + 1)
        #expect(slab.reusedTotal == 1 && slab.allocatedTotal == 1)
        // The stale handle neither validates nor releases the new owner.
        #expect(!slab.isValid(first))
        let releasedAgain = slab.release(first)
        #expect(!releasedAgain)
        #expect(slab.isValid(second))
        #expect(slab.block(first) == nil)
    }

    @Test("a reused block carries none of the previous connection's subscriptions, counters or flags")
    func resetOnReuse() throws {
        let loop = EmbeddedEventLoop()
        let shard = Shard(eventLoop: loop, settings: ShardSettings())
        let oldSink = RecordingSink()
        let old = shard.register(oldSink)
        for name in ["a", "b", "c", "d"] {
            #expect(shard.subscribe(old, to: try ChannelName(validating: name)) == .subscribed)
        }
        let frame = Frame(opcode: .text, payload: ByteBuffer(string: "hi"))
        #expect(shard.deliver(frame, to: try ChannelName(validating: "a")) == 1)
        shard.setWritable(old, false)
        shard.release(old, reason: .normal)
        #expect(shard.subscriptions == 0 && shard.channelCount == 0)

        let newSink = RecordingSink()
        let new = shard.register(newSink)
        #expect(new.index == old.index && new.generation != old.generation)
        let block = try #require(shard.block(new))
        #expect(block.subscriptions.count == 0)
        #expect(block.deliveredMessages == 0 && block.droppedMessages == 0)
        #expect(block.isWritable && !block.isClosing)
        // Stale-handle operations are ignored and do not reach the new owner.
        #expect(shard.subscribe(old, to: try ChannelName(validating: "a")) == .staleHandle)
        shard.setWritable(old, false)
        #expect(try #require(shard.block(new)).isWritable)
        #expect(shard.deliver(frame, to: try ChannelName(validating: "a")) == 0)
        #expect(newSink.written.isEmpty && oldSink.written.count == 1)
    }

    @Test("block stays small: the per-connection metadata is a fixed, compact record")
    func blockSize() {
        #expect(MemoryLayout<ConnectionBlock>.stride <= 96)
    }
}
