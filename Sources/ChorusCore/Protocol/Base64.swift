import NIOCore

/// Standard base64 (RFC 4648 section 4), with padding: `Sec-WebSocket-Accept` values and binary messages in
/// `GET /history` answers.
package enum Base64 {
    package static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// The encoded length of `count` bytes.
    package static func encodedCount(_ count: Int) -> Int { (count + 2) / 3 * 4 }

    /// Encodes `input` into `output`, which holds at least `encodedCount(input.count)` bytes; returns the bytes
    /// written.
    @discardableResult
    package static func encode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int {
        var index = 0
        var written = 0
        while index < input.count {
            let b0 = input[index]
            let b1 = index + 1 < input.count ? input[index + 1] : 0
            let b2 = index + 2 < input.count ? input[index + 2] : 0
            output[written] = alphabet[Int(b0 >> 2)]
            output[written + 1] = alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)]
            output[written + 2] =
                index + 1 < input.count ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "=")
            output[written + 3] = index + 2 < input.count ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "=")
            index += 3
            written += 4
        }
        return written
    }

    /// Appends the encoding of `input`'s readable bytes to `buffer`, without an intermediate copy.
    package static func write(_ input: ByteBuffer, to buffer: inout ByteBuffer) {
        let count = Self.encodedCount(input.readableBytes)
        input.withUnsafeReadableBytes { bytes in
            _ = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { Self.encode(bytes, into: $0) }
        }
    }
}
