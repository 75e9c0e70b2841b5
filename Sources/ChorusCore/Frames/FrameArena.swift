import NIOConcurrencyHelpers
@_spi(CustomByteBufferAllocator) import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Frames kept in history, carved one after another out of shared 64 KiB chunks.
///
/// A frame in a buffer of its own costs NIO's storage object and a malloc header beside its bytes (about 100 bytes:
/// a tenth of a 1 KiB message), for as long as history keeps it. Here a frame is a slice of a chunk: the same
/// immutable, reference-counted storage, written to every subscriber and kept in history, with nothing per frame
/// but the slice. A chunk is freed when its last frame is (history moved past it, every delivery done).
///
/// The cost: a chunk lives as long as its longest-lived frame. So that a few long-kept frames (a quiet channel's
/// history, a slow consumer's queue) cannot pin chunks without bound, frames go to buffers of their own while the
/// chunks alive hold more than `limit` bytes (the history budget), and frames larger than a sixteenth of a chunk
/// always do (the room they would leave unused at a chunk's end is what a chunk may waste).
///
/// Guarded by the hub's streams lock, like the registry that owns it. Bytes are copied into a chunk through its base
/// address and never written again: each frame's bytes are written before any slice of them exists. A class, not a
/// struct: two copies of one arena would carve the same bytes twice.
// @unchecked Sendable: `base` points into `chunk`'s storage, which the arena holds; the arena is used only under the
// lock that guards it.
package final class FrameArena: @unchecked Sendable {
    package static let chunkCapacity = 64 * 1024
    package static let maxFrameLength = chunkCapacity / 16

    /// Bytes of this arena's chunks alive (a chunk's storage gives them back when it is freed, on any thread).
    package var liveBytes: Int { self.ledger.liveBytes }

    /// Every allocation of this allocator starts with a header naming the arena's ledger (nil but for a chunk), so
    /// that freeing a chunk (NIO's deallocate function, which gets only the pointer) can give its bytes back. Copies
    /// NIO makes of a frame (copy-on-write, should anything ever write to one) come from `allocate` and carry a nil
    /// header: this allocator frees every buffer it made, whichever way.
    private static let headerLength = 16
    private static let chunkAllocator = ByteBufferAllocator(
        allocate: { size in FrameArena.allocate(size, ledger: nil) },
        reallocate: { bytes, _, size in
            guard let bytes else { return FrameArena.allocate(size, ledger: nil) }
            return realloc(bytes - FrameArena.headerLength, size + FrameArena.headerLength)
                .map { $0 + FrameArena.headerLength }
        },
        deallocate: { bytes in
            let start = bytes - FrameArena.headerLength
            if let opaque = start.load(as: UnsafeRawPointer?.self) {
                let ledger = Unmanaged<FrameArenaLedger>.fromOpaque(opaque)
                ledger.takeUnretainedValue().live.withLockedValue { $0 -= FrameArena.chunkCapacity }
                ledger.release()
            }
            free(start)
        },
        copy: { destination, source, count in destination.copyMemory(from: source, byteCount: count) }
    )

    /// `size` bytes after a header naming `ledger` (retained), or nil when malloc fails.
    private static func allocate(_ size: Int, ledger: FrameArenaLedger?) -> UnsafeMutableRawPointer? {
        guard let start = malloc(Self.headerLength + size) else { return nil }
        let opaque = ledger.map { UnsafeRawPointer(Unmanaged.passRetained($0).toOpaque()) }
        start.storeBytes(of: opaque, as: UnsafeRawPointer?.self)
        return start + Self.headerLength
    }

    private let limit: Int
    /// Outlives the arena while any of its chunks does.
    package let ledger = FrameArenaLedger()
    /// The chunk being filled (its writer index: the bytes carved so far) and where its bytes are.
    private var chunk = ByteBuffer()
    private var base: UnsafeMutableRawPointer?
    /// Where a frame is written before it is copied into the chunk (the chunk itself is shared by then).
    private var scratch = ByteBuffer()

    /// An arena that stops carving while more than `limit` bytes of its chunks are alive.
    package init(limit: Int) {
        self.limit = limit
    }

    /// A data frame of `payloadLength` bytes that `writePayload` writes after the header: carved from the current
    /// chunk, or in a buffer of its own (too large, or too many chunks alive).
    package func frame(
        opcode: WebSocketOpcode,
        payloadLength: Int,
        writePayload: (inout ByteBuffer) -> Void
    ) -> Frame {
        let length = FrameEncoder.headerLength(payloadLength: payloadLength) + payloadLength
        guard length <= Self.maxFrameLength, self.liveBytes < self.limit else {
            return Frame(opcode: opcode, payloadLength: payloadLength, writePayload: writePayload)
        }
        if self.base == nil || self.chunk.capacity - self.chunk.writerIndex < length {
            self.startChunk()
        }
        self.scratch.clear()
        FrameEncoder.writeHeader(opcode: opcode, payloadLength: payloadLength, into: &self.scratch)
        writePayload(&self.scratch)
        precondition(self.scratch.readableBytes == length, "the payload written is not the length announced")
        let start = self.chunk.writerIndex
        let destination = self.base!.advanced(by: start)
        self.scratch.withUnsafeReadableBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: length) }
        // Only the index moves: the chunk's storage is not touched through the buffer (no copy-on-write).
        self.chunk.moveWriterIndex(forwardBy: length)
        return Frame(
            encoded: self.chunk.getSlice(at: start, length: length)!,
            opcode: opcode,
            payloadLength: payloadLength
        )
    }

    private func startChunk() {
        guard let bytes = Self.allocate(Self.chunkCapacity, ledger: self.ledger) else {
            fatalError("out of memory allocating a frame chunk")
        }
        self.ledger.live.withLockedValue { $0 += Self.chunkCapacity }
        self.base = bytes
        self.chunk = ByteBuffer(
            takingOwnershipOf: UnsafeMutableRawBufferPointer(start: bytes, count: Self.chunkCapacity),
            allocator: Self.chunkAllocator,
            readerIndex: 0,
            writerIndex: 0
        )
    }
}

/// A lock, not an atomic (the standard library's needs macOS 15): taken once per chunk made or freed, and once per
/// frame carved, never contended for long.
package final class FrameArenaLedger: Sendable {
    let live = NIOLockedValueBox(0)

    package var liveBytes: Int { self.live.withLockedValue { $0 } }
}
