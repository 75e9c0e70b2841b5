import NIOCore

/// One message kept in a channel's history: the `chorus.v1` rendition its subscribers were written (the same
/// storage, not a copy) and where its data sits inside that frame, for `GET /history`.
package struct HistoryEntry: Sendable {
    /// Bookkeeping per entry beyond the frame's bytes (this struct in the ring, the rendition's holder), for the
    /// byte budget.
    package static let overheadBytes = 64

    package let offset: UInt64
    package let rendition: Rendition
    /// The data's bytes within `rendition.plain.bytes` (from its reader index): the JSON value after `"data":` for
    /// a text message, the payload after the header for a binary one.
    package var dataRange: Range<Int> { Int(self.dataStart)..<Int(self.dataStart + self.dataCount) }
    // 32 bits each: an entry per message kept, so its size is part of what history costs per message.
    private let dataStart: UInt32
    private let dataCount: UInt32

    package init(offset: UInt64, rendition: Rendition, dataRange: Range<Int>) {
        self.offset = offset
        self.rendition = rendition
        self.dataStart = UInt32(dataRange.lowerBound)
        self.dataCount = UInt32(dataRange.count)
    }

    /// Whether the message is binary (its data is raw bytes, not JSON).
    package var isBinary: Bool { self.rendition.plain.opcode == .binary }

    /// The data, sharing the frame's storage.
    package var data: ByteBuffer {
        let frame = self.rendition.plain.bytes
        return frame.getSlice(at: frame.readerIndex + self.dataRange.lowerBound, length: self.dataRange.count)!
    }

    /// What the entry costs the history budget.
    package var cost: Int { self.rendition.plain.wireLength + Self.overheadBytes }
}
