import NIOCore
import Testing

@testable import ChorusEpoll

/// The epoll transport's corking: what each connection was given in one turn of the loop, in order, with each
/// distinct frame held once.
@Suite("Epoll transport: corked writes")
struct CorkedWritesTests {
    private func chain(_ corked: CorkedWrites, _ tail: UInt32) -> [String] {
        var indices: [UInt32] = []
        corked.chain(endingAt: tail, into: &indices)
        return indices.map { String(buffer: corked.frame($0)) }
    }

    @Test("each connection's chain holds its frames in the order given, whatever the interleaving")
    func chainsKeepOrder() {
        var corked = CorkedWrites()
        let first = ByteBuffer(string: "first")
        let second = ByteBuffer(string: "second")
        var tails: [UInt32] = [0, 0, 0]
        // Two fan-outs over slots 0...2, then a pong for slot 1 only.
        for frame in [first, second] {
            for slot in 0..<3 { tails[slot] = corked.add(frame, slot: UInt32(slot), after: tails[slot]) }
        }
        tails[1] = corked.add(ByteBuffer(string: "pong"), slot: 1, after: tails[1])
        #expect(self.chain(corked, tails[0]) == ["first", "second"])
        #expect(self.chain(corked, tails[1]) == ["first", "second", "pong"])
        #expect(self.chain(corked, tails[2]) == ["first", "second"])
        // A slot is listed once, when first given something.
        #expect(corked.slots == [0, 1, 2])
    }

    @Test("a fan-out's frame is held once, not once per connection")
    func sharedFrameHeldOnce() {
        var corked = CorkedWrites()
        let frame = ByteBuffer(string: "shared")
        var tails = [UInt32](repeating: 0, count: 100)
        for slot in 0..<100 { tails[slot] = corked.add(frame, slot: UInt32(slot), after: 0) }
        var indices: [UInt32] = []
        corked.chain(endingAt: tails[99], into: &indices)
        #expect(indices == [0])
        // Equal bytes in another buffer are another frame (compared by storage, not content).
        let copy = ByteBuffer(string: "shared")
        let tail = corked.add(copy, slot: 0, after: tails[0])
        corked.chain(endingAt: tail, into: &indices)
        #expect(indices == [0, 1])
    }

    @Test("a turn counts its deliveries and their bytes (a shared frame once per connection) until reset")
    func countsDeliveries() {
        var corked = CorkedWrites()
        let frame = ByteBuffer(repeating: 1, count: 100)
        for slot in 0..<10 { _ = corked.add(frame, slot: UInt32(slot), after: 0) }
        #expect(corked.deliveries == 10 && corked.deliveredBytes == 1000)
        corked.reset()
        #expect(corked.deliveries == 0 && corked.deliveredBytes == 0)
    }

    @Test("a chain of one frame is recognised as such and points into the frame's own storage")
    func soleFrame() {
        var corked = CorkedWrites()
        let frame = ByteBuffer(string: "only")
        let one = corked.add(frame, slot: 0, after: 0)
        let other = corked.add(frame, slot: 1, after: 0)
        let two = corked.add(ByteBuffer(string: "more"), slot: 1, after: other)
        #expect(corked.soleFrame(endingAt: one) == 0)
        #expect(corked.soleFrame(endingAt: two) == nil)
        let base = frame.withUnsafeReadableBytes { UnsafeRawPointer($0.baseAddress) }
        #expect(corked.base(0) == base && corked.length(0) == 4)
    }

    @Test("vectors point into the frames' own storage, the first advanced past what was written")
    func vectorsSkipWrittenBytes() {
        var corked = CorkedWrites()
        let frame = ByteBuffer(string: "abcdef")
        var tail = corked.add(frame, slot: 7, after: 0)
        tail = corked.add(ByteBuffer(string: "gh"), slot: 7, after: tail)
        var indices: [UInt32] = []
        corked.chain(endingAt: tail, into: &indices)
        var bases: [UnsafeRawPointer?] = []
        var lengths: [UInt] = []
        let seen = corked.withVectors(indices[...], skippingFirst: 4, into: &bases, &lengths) { bases, lengths, count in
            (0..<Int(count)).map { String(decoding: UnsafeRawBufferPointer(start: bases[$0], count: Int(lengths[$0])), as: UTF8.self) }
        }
        #expect(seen == ["ef", "gh"])
        let sameStorage = frame.withUnsafeReadableBytes { $0.baseAddress! + 4 == bases[0] }
        #expect(sameStorage)
    }

    @Test("reset forgets the turn; the record keeps its 32 bytes with the chain's tail in it")
    func resetAndRecordSize() {
        var corked = CorkedWrites()
        _ = corked.add(ByteBuffer(string: "x"), slot: 3, after: 0)
        #expect(!corked.isEmpty)
        corked.reset()
        #expect(corked.isEmpty && corked.slots.isEmpty)
        #expect(MemoryLayout<EpollConnection>.stride == 32)
    }
}
