import NIOCore

/// A `Sec-WebSocket-Accept` value, base64(SHA-1(key + GUID)): 28 ASCII bytes held inline, so computing one per
/// upgrade allocates nothing (a `String` of 28 bytes would be a heap allocation). `string` makes one for
/// APIs that want it; `write(to:)` puts the bytes straight into a response.
package struct AcceptValue: Equatable, Sendable, CustomStringConvertible {
    /// The encoded length of a 20-byte digest.
    package static let count = 28

    private var storage: (UInt64, UInt64, UInt64, UInt32) = (0, 0, 0, 0)

    /// Encodes a SHA-1 digest (20 bytes).
    init(encodingDigest digest: UnsafeRawBufferPointer) {
        precondition(digest.count == 20, "a SHA-1 digest is 20 bytes")
        _ = withUnsafeMutableBytes(of: &self.storage) { Base64.encode(digest, into: $0) }
    }

    /// Calls `body` with the 28 bytes.
    package func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try Swift.withUnsafeBytes(of: self.storage) { try body(UnsafeRawBufferPointer(rebasing: $0[..<Self.count])) }
    }

    /// The value as a `String` (one allocation).
    package var string: String { self.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }

    package var description: String { self.string }

    /// Appends the 28 bytes to `buffer`.
    package func write(to buffer: inout ByteBuffer) {
        self.withUnsafeBytes { _ = buffer.writeBytes($0) }
    }

    package static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.withUnsafeBytes { left in rhs.withUnsafeBytes { right in left.elementsEqual(right) } }
    }
}
