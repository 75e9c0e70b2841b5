import NIOCore

/// Writes bytes of valid UTF-8 as a JSON string (RFC 8259 §7): quotes, backslashes and control characters escaped,
/// everything else as it is.
package enum JSONString {
    /// The length of `text` once quoted and escaped.
    package static func quotedLength(of text: ByteBuffer) -> Int {
        text.withUnsafeReadableBytes { bytes in
            var length = 2
            for byte in bytes { length += Self.escapedLength(byte) }
            return length
        }
    }

    /// Writes `text` quoted and escaped.
    package static func writeQuoted(_ text: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        text.withUnsafeReadableBytes { bytes in
            var runStart = 0
            for (position, byte) in bytes.enumerated() where Self.escapedLength(byte) != 1 {
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart..<position]))
                Self.writeEscape(byte, into: &buffer)
                runStart = position + 1
            }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart...]))
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    /// `string` quoted and escaped.
    package static func quoted(_ string: String) -> String {
        var buffer = ByteBuffer()
        Self.writeQuoted(ByteBuffer(string: string), into: &buffer)
        return String(buffer: buffer)
    }

    @inline(__always)
    private static func escapedLength(_ byte: UInt8) -> Int {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x08, 0x09, 0x0A, 0x0C, 0x0D: 2
        case 0x00..<0x20: 6
        default: 1
        }
    }

    private static func writeEscape(_ byte: UInt8, into buffer: inout ByteBuffer) {
        switch byte {
        case UInt8(ascii: "\""): buffer.writeString(#"\""#)
        case UInt8(ascii: "\\"): buffer.writeString(#"\\"#)
        case 0x08: buffer.writeString(#"\b"#)
        case 0x09: buffer.writeString(#"\t"#)
        case 0x0A: buffer.writeString(#"\n"#)
        case 0x0C: buffer.writeString(#"\f"#)
        case 0x0D: buffer.writeString(#"\r"#)
        default:
            let hex = Array("0123456789abcdef".utf8)
            buffer.writeString(#"\u00"#)
            buffer.writeInteger(hex[Int(byte >> 4)])
            buffer.writeInteger(hex[Int(byte & 0x0F)])
        }
    }
}
