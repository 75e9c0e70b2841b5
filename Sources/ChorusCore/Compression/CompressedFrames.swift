import NIOConcurrencyHelpers
import NIOCore

/// The compressed forms of one published message, made lazily: at most one per window size, by whichever
/// shard first has a subscriber that needs it, then shared by every shard exactly like the plain frame.
///
/// The hub creates one per message only when the message is large enough to compress and some connection
/// negotiated permessage-deflate, so the uncompressed path allocates nothing for it.
package final class CompressedFrames: Sendable {
    /// The message's plain frame (its payload is what gets compressed).
    package let plain: Frame
    /// Compress even when that does not make the message smaller (the echo endpoint: see its handler).
    package let alwaysCompress: Bool
    // Guards `frames`; taken at most once per window size per shard per message, never per subscriber.
    private let frames = NIOLockedValueBox(WindowBitsSlots<Frame>())

    package init(plain: Frame, alwaysCompress: Bool = false) {
        self.plain = plain
        self.alwaysCompress = alwaysCompress
    }

    /// The frame for subscribers with this window size: compressed once by `compress` (called with the lock
    /// held, so two shards never compress the same message twice), or the plain frame if compression did not
    /// help. `compress` returns nil in that case.
    package func frame(windowBits: UInt8, compress: (Frame) -> Frame?) -> Frame {
        self.frames.withLockedValue { frames in
            if let frame = frames[windowBits] { return frame }
            let frame = compress(self.plain) ?? self.plain
            frames[windowBits] = frame
            return frame
        }
    }
}
