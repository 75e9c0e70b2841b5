import NIOCore
import NIOHTTP1

/// Reads an HTTP/1.1 request head (request line and headers) from the start of a buffer, for the epoll
/// transport's handshake. Only what a WebSocket upgrade needs: anything unusual (obsolete line folding, a
/// malformed line, a body) is left to the HTTP side, which answers it properly.
enum RequestHeadParser {
    enum Outcome: Equatable {
        /// The head ends at `length` bytes (its blank line included).
        case complete(HTTPRequestHead, length: Int)
        /// No blank line yet.
        case incomplete
        /// Not something this parser handles; hand it to the HTTP side.
        case unsupported
    }

    /// Looks for a complete head in `buffer`'s readable bytes without consuming them. Walks the lines in place:
    /// what it allocates is the head itself (its values past 15 bytes, names past 15 bytes that are not in
    /// `knownNames`, and one array of header fields).
    static func parse(_ buffer: ByteBuffer) -> Outcome {
        buffer.withUnsafeReadableBytes { bytes in
            guard let end = Self.headEnd(bytes) else {
                // Bytes that cannot start a request line go to the HTTP side at once, which answers 400.
                return Self.requestLineMayContinue(bytes) ? .incomplete : .unsupported
            }
            // `end` is the index of the final "\n\r\n"'s first byte: the lines are bytes[..<end], less any empty
            // ones at its end (a head ending "\n\n\r\n" is complete, as the HTTP side would read it).
            var linesEnd = end
            while let newline = bytes[..<linesEnd].lastIndex(of: UInt8(ascii: "\n")) {
                let last = bytes[(newline + 1)..<linesEnd]
                guard last.isEmpty || (last.count == 1 && last.first == UInt8(ascii: "\r")) else { break }
                linesEnd = newline
            }
            var lines = LineCursor(bytes: bytes, end: linesEnd)
            guard let requestLine = lines.next() else { return .unsupported }
            guard let firstSpace = requestLine.firstIndex(of: UInt8(ascii: " ")),
                let secondSpace = requestLine[(firstSpace + 1)...].firstIndex(of: UInt8(ascii: " ")),
                firstSpace > requestLine.startIndex, secondSpace > firstSpace + 1,
                let version = Self.version(requestLine[(secondSpace + 1)...])
            else { return .unsupported }
            var fields: [(String, String)] = []
            fields.reserveCapacity(Self.lineCount(bytes, end: end))
            while let line = lines.next() {
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                    line.first != UInt8(ascii: " "), line.first != UInt8(ascii: "\t"),
                    !line[..<colon].contains(UInt8(ascii: " "))
                else { return .unsupported }
                let name = Self.knownName(line[..<colon]) ?? String(decoding: line[..<colon], as: UTF8.self)
                let value = String(decoding: Self.trimmingSpaces(line[(colon + 1)...]), as: UTF8.self)
                fields.append((name, value))
            }
            let headers = HTTPHeaders(fields)
            if let length = headers.first(name: "content-length"), length != "0" { return .unsupported }
            if headers.contains(name: "transfer-encoding") { return .unsupported }
            let head = HTTPRequestHead(
                version: version,
                method: HTTPMethod(rawValue: String(decoding: requestLine[..<firstSpace], as: UTF8.self)),
                uri: String(decoding: requestLine[(firstSpace + 1)..<secondSpace], as: UTF8.self),
                headers: headers
            )
            return .complete(head, length: end + 3)
        }
    }

    /// The header names an upgrade request carries and the upgrade reads, as literals: a literal `String` needs
    /// no allocation, where one decoded from the bytes does past 15 bytes (`Sec-WebSocket-Key`,
    /// `Sec-WebSocket-Version` and `Sec-WebSocket-Extensions` would cost one each, per connection). Names
    /// are case-insensitive (RFC 9110 5.1) and every reader of the head compares them so.
    private static let knownNames: [String] = [
        "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol",
        "x-forwarded-for", "authorization", "connection", "upgrade", "origin", "host", "user-agent",
    ]

    /// The literal for a name in `knownNames` (any case), else nil.
    private static func knownName(_ bytes: Slice<UnsafeRawBufferPointer>) -> String? {
        for known in Self.knownNames where known.utf8.count == bytes.count {
            if zip(known.utf8, bytes).allSatisfy({ $0 == $1 | (($1 &- 65) < 26 ? 0x20 : 0) }) { return known }
        }
        return nil
    }

    /// The lines of a head, each without its "\n" or "\r\n"; ends at the blank line.
    private struct LineCursor {
        let bytes: UnsafeRawBufferPointer
        let end: Int
        var start = 0

        init(bytes: UnsafeRawBufferPointer, end: Int) {
            self.bytes = bytes
            self.end = end
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

    /// How many header lines the head ending at `end` has at most (its line feeds, less the request line's).
    private static func lineCount(_ bytes: UnsafeRawBufferPointer, end: Int) -> Int {
        var count = 0
        for byte in bytes[..<end] where byte == UInt8(ascii: "\n") { count += 1 }
        return count
    }

    private static func trimmingSpaces(_ bytes: Slice<UnsafeRawBufferPointer>) -> Slice<UnsafeRawBufferPointer> {
        var bytes = bytes
        while let first = bytes.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
            bytes = bytes.dropFirst()
        }
        while let last = bytes.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") {
            bytes = bytes.dropLast()
        }
        return bytes
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

    private static func version(_ text: Slice<UnsafeRawBufferPointer>) -> HTTPVersion? {
        guard text.count == 8, text.starts(with: "HTTP/1.".utf8) else { return nil }
        switch text.last {
        case UInt8(ascii: "1"): return .http1_1
        case UInt8(ascii: "0"): return .http1_0
        default: return nil
        }
    }
}
