import CompressNIO
import NIOCore

/// Inflates permessage-deflate messages from clients, with a hard bound on the output (no decompression
/// bombs: output stops one byte past the limit).
///
/// Clients are always asked for `client_no_context_takeover`, so no message depends on an earlier one and a
/// single inflater per shard serves all of its connections: it is reset after every message and no
/// connection keeps zlib state. Used only on its shard's loop.
package final class MessageInflater {
    /// How an inflation ended.
    package enum Outcome {
        /// The whole message, in a buffer from the pool.
        case inflated(ByteBuffer)
        /// The message inflates to more than the limit.
        case tooBig
        /// Not a valid deflate stream.
        case corrupt
    }

    private let decompressor: ZlibDecompressor
    /// The largest output buffer any inflation has used (what a decompression bomb can cost: about
    /// `maxBytes`, never what the bomb would inflate to).
    package private(set) var largestOutputCapacity = 0

    package init() throws {
        // Always the full window: a client that limited its own window stays within it.
        self.decompressor = try ZlibDecompressor(algorithm: .deflate, windowSize: 15)
    }

    /// Inflates `message` (the concatenated payloads of a compressed message). Appends the `00 00 ff ff` the
    /// sender removed (RFC 7692 §7.2.2). Inflation stops as soon as the output passes `maxBytes`; the output
    /// buffer is grown by doubling up to `maxBytes + 1` (NIO may round a capacity up to a power of two).
    package func inflate(_ message: inout ByteBuffer, maxBytes: Int, pool: InboundBufferPool) -> Outcome {
        message.writeInteger(UInt32(0x0000_FFFF))
        defer { try? self.decompressor.reset() }
        let limit = maxBytes + 1
        // Text compresses several-fold; start at a modest guess and double, never past the limit.
        var output = pool.acquire(minimumCapacity: min(limit, max(message.readableBytes * 4, 1024)))
        defer { self.largestOutputCapacity = max(self.largestOutputCapacity, output.capacity) }
        while true {
            do {
                // Without an error, zlib stopped with output room left: input used up, or the client ended the
                // deflate stream (a final block; anything after it is ignored).
                try self.decompressor.inflate(from: &message, to: &output)
                guard output.readableBytes <= maxBytes else {
                    pool.release(output)
                    return .tooBig
                }
                return .inflated(output)
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                // No progress possible and no input left: everything has been produced.
                return .inflated(output)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                guard output.readableBytes < limit else {
                    pool.release(output)
                    return .tooBig
                }
                output.reserveCapacity(min(limit, max(output.capacity * 2, output.readableBytes + 1024)))
                if output.writableBytes == 0 {
                    output.reserveCapacity(limit)
                }
            } catch {
                pool.release(output)
                return .corrupt
            }
            if output.readableBytes > maxBytes {
                pool.release(output)
                return .tooBig
            }
        }
    }
}

@available(*, unavailable)
extension MessageInflater: Sendable {}
