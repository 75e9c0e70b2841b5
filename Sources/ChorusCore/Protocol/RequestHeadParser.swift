import NIOCore

/// Reads an HTTP/1.1 request head (request line and headers) from the start of a buffer, for the epoll
/// transport's handshake. Only what a WebSocket upgrade needs: anything unusual (obsolete line folding, a
/// malformed line, a bare CR or LF, a byte HTTP does not allow where it stands, a body) is left to the HTTP side,
/// which answers it properly. What it accepts, NIO's decoder reads the same (checked by `Sources/HeadFuzz`).
package enum RequestHeadParser {
    package enum Outcome: Equatable {
        /// A complete head, laid out as `layout` (its length includes the blank line).
        case complete(RequestHeadLayout)
        /// No blank line yet.
        case incomplete
        /// Not something this parser handles; hand it to the HTTP side.
        case unsupported
    }

    /// Looks for a complete head in `buffer`'s readable bytes without consuming them. Walks the lines in place
    /// and keeps only where the parts lie: it allocates nothing. `RequestHeadView` reads the parts.
    package static func parse(_ buffer: ByteBuffer) -> Outcome {
        buffer.withUnsafeReadableBytes { bytes in
            guard let end = Self.headEnd(bytes) else {
                // Bytes that cannot start a request line, or a line not ended by CRLF, go to the HTTP side at once,
                // which answers 400.
                let mayContinue = Self.requestLineMayContinue(bytes) && Self.linesEndInCRLF(bytes[...])
                return mayContinue ? .incomplete : .unsupported
            }
            // `end` is the index of the final "\n\r\n"'s first byte: the lines are bytes[..<end], each ended by
            // CRLF (NIO's decoder refuses a bare CR or LF).
            guard Self.linesEndInCRLF(bytes[..<(end + 3)]) else { return .unsupported }
            let linesEnd = end
            var lines = LineCursor(bytes: bytes, end: linesEnd)
            guard let requestLine = lines.next() else { return .unsupported }
            guard let firstSpace = requestLine.firstIndex(of: UInt8(ascii: " ")),
                let secondSpace = requestLine[(firstSpace + 1)...].firstIndex(of: UInt8(ascii: " ")),
                firstSpace > requestLine.startIndex, secondSpace > firstSpace + 1,
                let versionMinor = Self.versionMinor(requestLine[(secondSpace + 1)...]),
                requestLine[..<firstSpace].allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }),
                requestLine[(firstSpace + 1)..<secondSpace].allSatisfy({ $0 > 0x20 && $0 < 0x7F })
            else { return .unsupported }
            let fieldsStart = lines.start
            var sawContentLength = false
            while let line = lines.next() {
                guard let field = Self.field(line), field.name.allSatisfy(Self.isTokenByte),
                    line[field.name.endIndex...].allSatisfy(Self.isFieldValueByte)
                else { return .unsupported }
                // A request with a body is not an upgrade; the HTTP side reads bodies, and refuses a repeated
                // length (NIO's decoder does, even when both say 0).
                if ASCII.equalsIgnoringCase(field.name, "content-length") {
                    guard !sawContentLength, Self.isZeroLength(line[(field.name.endIndex + 1)...]) else {
                        return .unsupported
                    }
                    sawContentLength = true
                }
                if ASCII.equalsIgnoringCase(field.name, "transfer-encoding") { return .unsupported }
            }
            return .complete(
                RequestHeadLayout(
                    method: requestLine.startIndex..<firstSpace,
                    target: (firstSpace + 1)..<secondSpace,
                    versionMinor: versionMinor,
                    fields: fieldsStart <= linesEnd ? fieldsStart..<linesEnd : linesEnd..<linesEnd,
                    length: end + 3
                )
            )
        }
    }

    /// A header line's name and value (without the whitespace around it); nil for a line this parser leaves to
    /// the HTTP side (no colon, an empty name, a name with spaces, a folded continuation).
    static func field(
        _ line: Slice<UnsafeRawBufferPointer>
    ) -> (name: Slice<UnsafeRawBufferPointer>, value: Slice<UnsafeRawBufferPointer>)? {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
            line.first != UInt8(ascii: " "), line.first != UInt8(ascii: "\t"),
            !line[..<colon].contains(UInt8(ascii: " "))
        else { return nil }
        return (line[..<colon], ASCII.trimmed(line[(colon + 1)...]))
    }

    /// True for a `Content-Length` value of 0 as NIO's decoder (llhttp) reads it: whitespace before it, and only
    /// spaces after it (llhttp refuses a tab there, although RFC 9110 allows one).
    static func isZeroLength(_ value: Slice<UnsafeRawBufferPointer>) -> Bool {
        let digits = value.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        return digits.first == UInt8(ascii: "0") && digits.dropFirst().allSatisfy { $0 == UInt8(ascii: " ") }
    }

    /// The header names an upgrade request carries, as literals, for `RequestHeadView.makeHTTPRequestHead()` (the
    /// whole head, built when tokens, origins, per-address limits or offers need it — then for every
    /// connection): a literal `String` needs no allocation, where one decoded from the bytes does past 15 bytes
    /// (`Sec-WebSocket-Key`, `Sec-WebSocket-Version` and `Sec-WebSocket-Extensions` would cost one each). Names
    /// are case-insensitive (RFC 9110 5.1) and every reader of the head compares them so.
    static let knownNames: [String] = [
        "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol",
        "x-forwarded-for", "authorization", "connection", "upgrade", "origin", "host", "user-agent",
    ]

    /// The literal for a name in `knownNames` (any case), else nil.
    package static func knownName(_ bytes: Slice<UnsafeRawBufferPointer>) -> String? {
        for known in Self.knownNames where known.utf8.count == bytes.count {
            if zip(known.utf8, bytes).allSatisfy({ $0 == $1 | (($1 &- 65) < 26 ? 0x20 : 0) }) { return known }
        }
        return nil
    }

    /// The lines of a head, each without its "\n" or "\r\n"; ends at the blank line.
    struct LineCursor {
        let bytes: UnsafeRawBufferPointer
        let end: Int
        var start = 0

        init(bytes: UnsafeRawBufferPointer, end: Int) {
            self.bytes = bytes
            self.end = end
        }

        /// The lines of `range` (non-empty, ending where a line ends).
        init(bytes: UnsafeRawBufferPointer, range: Range<Int>) {
            self.bytes = bytes
            self.start = range.lowerBound
            self.end = range.upperBound
        }

        /// The next line; the last one ends at `end` without a line feed.
        mutating func next() -> Slice<UnsafeRawBufferPointer>? {
            guard self.start <= self.end else { return nil }
            let newline = self.bytes[self.start..<self.end].firstIndex(of: UInt8(ascii: "\n")) ?? self.end
            var line = self.bytes[self.start..<newline]
            self.start = newline + 1
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            return line
        }
    }

    /// False when the request line seen so far already breaks HTTP's grammar (a control character, a byte over
    /// 0x7F, or a method that is not a token).
    private static func requestLineMayContinue(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var inMethod = true
        for byte in bytes {
            if byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") { return true }
            if byte == UInt8(ascii: " ") {
                inMethod = false
                continue
            }
            guard byte > 0x20 && byte < 0x7F else { return false }
            if inMethod && !(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) { return false }
        }
        return true
    }

    /// Whether every LF in `bytes` follows a CR and every CR is followed by an LF (or ends `bytes`, which may go on).
    private static func linesEndInCRLF(_ bytes: Slice<UnsafeRawBufferPointer>) -> Bool {
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == UInt8(ascii: "\n") && previous != UInt8(ascii: "\r") { return false }
            if previous == UInt8(ascii: "\r") && byte != UInt8(ascii: "\n") { return false }
            previous = byte
        }
        return true
    }

    /// A byte of a token (RFC 9110 5.6.2): a header name.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "a")...UInt8(ascii: "z"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// A byte a field value may hold (RFC 9110 5.5): visible, space, tab or obs-text; no other control character.
    /// (Checked over the colon and the value, the CR that ends the line aside.)
    private static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\t") || (byte >= 0x20 && byte != 0x7F)
    }

    /// The index of the "\n" that starts the head's final "\n\r\n", if the head is complete.
    private static func headEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 4 else { return nil }
        var index = 1
        while index + 2 < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") && bytes[index + 1] == UInt8(ascii: "\r")
                && bytes[index + 2] == UInt8(ascii: "\n")
            {
                return index
            }
            index += 1
        }
        return nil
    }

    /// The minor version of "HTTP/1.x" (1 or 0); nil for anything else.
    private static func versionMinor(_ text: Slice<UnsafeRawBufferPointer>) -> Int? {
        guard text.count == 8, text.starts(with: "HTTP/1.".utf8) else { return nil }
        switch text.last {
        case UInt8(ascii: "1"): return 1
        case UInt8(ascii: "0"): return 0
        default: return nil
        }
    }
}
