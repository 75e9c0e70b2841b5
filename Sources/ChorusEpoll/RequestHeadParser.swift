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

    /// Looks for a complete head in `buffer`'s readable bytes without consuming them.
    static func parse(_ buffer: ByteBuffer) -> Outcome {
        buffer.withUnsafeReadableBytes { bytes in
            guard let end = Self.headEnd(bytes) else {
                // Bytes that cannot start a request line go to the HTTP side at once, which answers 400.
                return Self.requestLineMayContinue(bytes) ? .incomplete : .unsupported
            }
            var lines = bytes[..<end].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map {
                line -> Slice<UnsafeRawBufferPointer> in
                line.last == UInt8(ascii: "\r") ? line.dropLast() : line
            }
            // `end` is the index of the final "\n\r\n"'s first byte; the split leaves an empty last line.
            while lines.last?.isEmpty == true { lines.removeLast() }
            guard let requestLine = lines.first else { return .unsupported }
            let parts = requestLine.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty,
                let version = Self.version(parts[2])
            else { return .unsupported }
            var headers = HTTPHeaders()
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                    line.first != UInt8(ascii: " "), line.first != UInt8(ascii: "\t")
                else { return .unsupported }
                let name = String(decoding: line[..<colon], as: UTF8.self)
                guard !name.contains(" ") else { return .unsupported }
                let value = String(decoding: line[(colon + 1)...], as: UTF8.self)
                headers.add(name: name, value: value.trimmingSpaces())
            }
            if let length = headers.first(name: "content-length"), length != "0" { return .unsupported }
            if headers.contains(name: "transfer-encoding") { return .unsupported }
            let head = HTTPRequestHead(
                version: version,
                method: HTTPMethod(rawValue: String(decoding: parts[0], as: UTF8.self)),
                uri: String(decoding: parts[1], as: UTF8.self),
                headers: headers
            )
            return .complete(head, length: end + 3)
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
        switch String(decoding: text, as: UTF8.self) {
        case "HTTP/1.1": .http1_1
        case "HTTP/1.0": .http1_0
        default: nil
        }
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
