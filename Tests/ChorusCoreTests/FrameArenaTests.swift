import NIOCore
import Testing

@testable import ChorusCore

/// History's frames carved from shared chunks: the bytes as any frame's, one after another in one storage, chunks
/// given back when their last frame goes, and the bounds (frame size, live bytes) that send frames elsewhere.
@Suite("Frame arena")
struct FrameArenaTests {
    static func address(_ frame: Frame) -> UInt {
        frame.bytes.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress!) }
    }

    static func make(_ arena: FrameArena, _ text: String) -> Frame {
        arena.frame(opcode: .text, payloadLength: text.utf8.count) { $0.writeString(text) }
    }

    @Test("frames are the bytes a frame of their own would be, one after another in one chunk")
    func framesShareAChunk() {
        let arena = FrameArena(limit: .max)
        let first = Self.make(arena, "hello")
        let second = Self.make(arena, String(repeating: "x", count: 300))
        #expect(
            first.bytes.readableBytesView.elementsEqual(
                Frame(opcode: .text, payload: ByteBuffer(string: "hello")).bytes.readableBytesView
            )
        )
        #expect(second.payloadLength == 300 && second.headerLength == 4 && second.wireLength == 304)
        #expect(Self.address(second) == Self.address(first) + UInt(first.wireLength))
    }

    @Test("a chunk is freed when its last frame is; frames too large, or over the live limit, get buffers of their own")
    func chunksAreFreedAndBounded() {
        var arena = FrameArena(limit: FrameArena.chunkCapacity + 1)
        var kept: [Frame] = []
        // 1,000-byte frames: 65 fit a chunk; the 66th starts a second, and then two chunks alive are over the limit.
        for _ in 0..<66 { kept.append(Self.make(arena, String(repeating: "a", count: 996))) }
        #expect(arena.liveBytes == 2 * FrameArena.chunkCapacity)
        let beyond = Self.make(arena, "b")
        #expect(beyond.bytes.capacity == beyond.wireLength)  // a buffer of its own
        #expect(Self.address(beyond) != Self.address(kept[65]) + UInt(kept[65].wireLength))
        let unbounded = FrameArena(limit: .max)
        let large = Self.make(unbounded, String(repeating: "c", count: FrameArena.maxFrameLength))
        #expect(large.bytes.capacity == large.wireLength && unbounded.liveBytes == 0)
        // The first chunk had only those 65 frames: gone with them; the second lives on with the last one.
        kept.removeFirst(65)
        #expect(arena.liveBytes == FrameArena.chunkCapacity)
        let ledger = arena.ledger
        arena = FrameArena(limit: .max)
        #expect(ledger.liveBytes == FrameArena.chunkCapacity)  // the last frame still holds it
        kept.removeAll()
        #expect(ledger.liveBytes == 0)
    }

    @Test("a copy NIO makes of a carved frame (copy-on-write) is its own, freed by the same allocator; the chunk too")
    func copyOnWriteOfACarvedFrame() {
        let arena = FrameArena(limit: .max)
        let frame = Self.make(arena, "shared")
        var copy = frame.bytes
        copy.writeString(" and then some")  // the storage is shared: NIO copies it, with the chunk's allocator
        #expect(copy.readableBytesView.elementsEqual(frame.bytes.readableBytesView + Array(" and then some".utf8)))
        #expect(Self.address(frame) != copy.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress!) })
        copy.reserveCapacity(copy.capacity * 4)  // and grows it: a reallocation of the copy, not of the chunk
        #expect(arena.liveBytes == FrameArena.chunkCapacity)
    }
}
