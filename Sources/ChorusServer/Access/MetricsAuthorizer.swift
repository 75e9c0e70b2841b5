import NIOHTTP1

/// Who may scrape `/metrics` (and see the status page): with `--metrics-token`, only a request whose
/// `Authorization` is exactly `Bearer <token>`; without one, anybody who reaches the listener.
package struct MetricsAuthorizer: Sendable {
    /// The whole expected header value, or nil when no token is set.
    private let expected: [UInt8]?

    package init(token: String?) {
        self.expected = token.map { Array("Bearer \($0)".utf8) }
    }

    /// Whether a token is required at all.
    package var isOn: Bool { self.expected != nil }

    /// nil when the request may scrape, else the rejection to send: 401 without credentials, 403 with wrong ones.
    package func check(_ headers: HTTPHeaders) -> HTTPRejection? {
        guard let expected = self.expected else { return nil }
        let presented = Array((headers.first(name: "authorization") ?? "").utf8)
        // Constant time, so that timing does not reveal how much of a guess was right.
        guard !PublishAuthorizer.constantTimeEquals(presented, expected) else { return nil }
        return Self.rejection(presented: !presented.isEmpty)
    }

    /// `check`, also accepting the token as `?token=` (percent-encoded) in `uri`: a browser sends no header when it
    /// navigates to the status page or opens its WebSocket. Compared in constant time like the header.
    package func check(_ headers: HTTPHeaders, uri: String) -> HTTPRejection? {
        guard let expected = self.expected, let rejection = self.check(headers) else { return nil }
        guard let query = Route.split(uri).query,
            let value = query.split(separator: "&").first(where: { $0.hasPrefix("token=") })
        else { return rejection }
        let presented = Array("Bearer ".utf8) + Self.percentDecoded(value.dropFirst("token=".count).utf8)
        guard !PublishAuthorizer.constantTimeEquals(presented, expected) else { return nil }
        return Self.rejection(presented: true)
    }

    private static func rejection(presented: Bool) -> HTTPRejection {
        HTTPRejection(
            presented ? .forbidden : .unauthorized,
            "metrics require Authorization: Bearer <token>",
            headers: [("WWW-Authenticate", "Bearer")]
        )
    }

    /// `%XX` decoded and `+` as a space (a form's encoding); a malformed escape is kept as it is.
    private static func percentDecoded(_ bytes: Substring.UTF8View) -> [UInt8] {
        var result: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), bytes.distance(from: index, to: bytes.endIndex) >= 3,
                let high = Self.hexValue(bytes[bytes.index(after: index)]),
                let low = Self.hexValue(bytes[bytes.index(index, offsetBy: 2)])
            {
                result.append(high << 4 | low)
                index = bytes.index(index, offsetBy: 3)
                continue
            }
            result.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            index = bytes.index(after: index)
        }
        return result
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
