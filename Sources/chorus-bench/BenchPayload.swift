import NIOCore

/// The layout of a published payload: the publisher's send time, then whether the message counts, then filler.
///
/// Bytes 0..<8: `NIODeadline.now().uptimeNanoseconds` at send, little-endian (the same monotonic clock in the
/// publisher and the subscribers: they share this process). Byte 8: 1 for a measured message, 0 for warm-up.
enum BenchPayload {
    /// The smallest payload that carries the timestamp and the flag.
    static let minimumSize = 9
    /// Offset of the measured flag.
    static let flagOffset = 8
}
