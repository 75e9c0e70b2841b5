import CompressNIO
import NIOCore

/// Compresses whole messages for permessage-deflate with `server_no_context_takeover`: every message starts
/// from an empty window, so its output depends only on the payload and the window size, and can be shared by
/// every subscriber that negotiated that window.
///
/// One per shard and window size, created on first use and used only on the shard's loop. zlib's state for a
/// 32 KiB window is about 256 KiB, which is why there is never one per connection.
package final class MessageDeflater {
    /// The window size (9...15) this deflater compresses with.
    package let windowBits: UInt8
    private let compressor: ZlibCompressor
    /// Reused output buffer: grows to the largest message's bound and is copied out into an exactly sized
    /// frame, so a shared frame never carries zlib's worst-case slack.
    private var scratch: ByteBuffer

    package init(windowBits: UInt8, allocator: ByteBufferAllocator) throws {
        self.windowBits = windowBits
        self.compressor = try ZlibCompressor(
            algorithm: .deflate,
            configuration: ZlibConfiguration(windowSize: Int32(windowBits))
        )
        self.scratch = allocator.buffer(capacity: 0)
    }

    /// The deflated payload (RFC 7692 §7.2.1: sync-flushed, the trailing `00 00 ff ff` removed), or nil if
    /// compressing did not make it smaller (then the message goes uncompressed, as §6 allows) unless
    /// `evenIfLarger` (tests use that to compress like a client would).
    package func compress(_ payload: ByteBuffer, evenIfLarger: Bool = false) -> ByteBuffer? {
        guard payload.readableBytes > 0 else {
            // An empty message deflates to one empty final block (RFC 7692 §7.2.3.6); zlib is not asked,
            // as compress-nio needs a non-empty source.
            return evenIfLarger ? ByteBuffer(bytes: [0x00]) : nil
        }
        var input = payload  // compress-nio consumes the readable bytes of its source
        self.scratch.clear()
        self.scratch.reserveCapacity(self.compressor.maxSize(from: input))
        defer {
            // Forget this message entirely (server_no_context_takeover).
            try? self.compressor.reset()
        }
        do {
            try self.compressor.deflate(from: &input, to: &self.scratch, flush: .sync)
        } catch {
            return nil
        }
        guard input.readableBytes == 0, self.scratch.readableBytes >= 4,
            self.scratch.getInteger(at: self.scratch.writerIndex - 4, as: UInt32.self) == 0x0000_FFFF
        else { return nil }
        let length = self.scratch.readableBytes - 4
        guard evenIfLarger || length < payload.readableBytes else { return nil }
        return self.scratch.getSlice(at: self.scratch.readerIndex, length: length)
    }
}

@available(*, unavailable)
extension MessageDeflater: Sendable {}
