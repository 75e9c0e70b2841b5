/// Byte helpers for HTTP's ASCII grammar.
package enum ASCII {
    /// Whether `bytes` equal `lowercased` (lowercase ASCII) ignoring ASCII case, as HTTP compares names and tokens.
    /// Concrete, not generic: the epoll transport calls it from another module for every header it reads.
    package static func equalsIgnoringCase(_ bytes: Slice<UnsafeRawBufferPointer>, _ lowercased: String) -> Bool {
        bytes.elementsEqual(lowercased.utf8) { byte, lower in
            (byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) == lower
        }
    }

    /// The same for a string (a header name held as one).
    package static func equalsIgnoringCase(_ string: String, _ lowercased: String) -> Bool {
        string.utf8.elementsEqual(lowercased.utf8) { byte, lower in
            (byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) == lower
        }
    }

    /// `bytes` without the optional whitespace (space and tab) around a header value or list element.
    package static func trimmed(_ bytes: Slice<UnsafeRawBufferPointer>) -> Slice<UnsafeRawBufferPointer> {
        var bytes = bytes
        while let first = bytes.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
            bytes = bytes.dropFirst()
        }
        while let last = bytes.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") {
            bytes = bytes.dropLast()
        }
        return bytes
    }
}
