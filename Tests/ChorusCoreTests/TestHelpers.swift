import NIOCore

extension ByteBuffer {
    /// The readable bytes, copied, for comparisons.
    var readableArray: [UInt8] {
        Array(self.readableBytesView)
    }
}
