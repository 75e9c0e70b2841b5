import Crypto

/// Decides whether an HTTP request is a valid RFC 6455 opening handshake, and computes the accept value.
///
/// Pure over method, version and headers so that any HTTP front end (NIOHTTP1 or a lean transport) can use it.
/// Checks run in a fixed order so a client always learns about the first problem.
package enum HandshakeValidator {
    package enum Outcome: Equatable, Sendable {
        /// Answer 101 Switching Protocols with this `Sec-WebSocket-Accept`.
        case accept(secWebSocketAccept: AcceptValue)
        /// Answer with this status, a short reason for the body, and these headers.
        case reject(status: Int, reason: String, extraHeaders: [HeaderField])
    }

    package struct HeaderField: Equatable, Sendable {
        package var name: String
        package var value: String

        package init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The GUID RFC 6455 §1.3 appends to the client's key.
    private static let keyGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    package static func validate<Headers: Collection<(name: String, value: String)>>(
        method: String,
        versionMajor: Int,
        versionMinor: Int,
        headers: Headers
    ) -> Outcome {
        guard method == "GET" else {
            return .reject(status: 405, reason: "WebSocket upgrade requires GET", extraHeaders: [])
        }
        guard versionMajor > 1 || (versionMajor == 1 && versionMinor >= 1) else {
            return .reject(status: 400, reason: "WebSocket upgrade requires HTTP/1.1", extraHeaders: [])
        }
        guard containsToken("websocket", in: "upgrade", headers) else {
            return .reject(
                status: 426,
                reason: "WebSocket upgrade requires Upgrade: websocket",
                extraHeaders: [HeaderField(name: "Upgrade", value: "websocket")]
            )
        }
        guard containsToken("upgrade", in: "connection", headers) else {
            return .reject(status: 400, reason: "WebSocket upgrade requires Connection: Upgrade", extraHeaders: [])
        }
        guard let version = onlyValue(of: "sec-websocket-version", headers), trimmed(version) == "13" else {
            return .reject(
                status: 426,
                reason: "WebSocket upgrade requires Sec-WebSocket-Version: 13",
                extraHeaders: [HeaderField(name: "Sec-WebSocket-Version", value: "13")]
            )
        }
        guard let key = onlyValue(of: "sec-websocket-key", headers), isBase64Of16Bytes(trimmed(key)) else {
            return .reject(
                status: 400,
                reason: "WebSocket upgrade requires one Sec-WebSocket-Key of 16 base64-encoded bytes",
                extraHeaders: []
            )
        }
        return .accept(secWebSocketAccept: acceptValue(forKey: trimmed(key)))
    }

    /// base64(SHA1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), the `Sec-WebSocket-Accept` value. The key and
    /// GUID are hashed in place and the digest encoded inline: what it allocates is the hash's own context.
    package static func acceptValue(forKey key: some StringProtocol) -> AcceptValue {
        var hasher = Insecure.SHA1()
        var key = Substring(key)
        key.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        var guid = keyGUID
        guid.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        return hasher.finalize().withUnsafeBytes { AcceptValue(encodingDigest: $0) }
    }

    // MARK: - Header helpers

    /// The value of the one header named `lowercasedName`; nil if there is none or more than one.
    private static func onlyValue(
        of lowercasedName: String,
        _ headers: some Collection<(name: String, value: String)>
    ) -> String? {
        var found: String?
        for header in headers where equalsIgnoringASCIICase(header.name, lowercasedName) {
            if found != nil { return nil }
            found = header.value
        }
        return found
    }

    /// Whether any header named `name` lists `token` in its comma-separated value, ignoring ASCII case (and the
    /// whitespace around each element). `token` and `lowercasedName` are lowercase ASCII.
    package static func containsToken(
        _ token: String,
        in lowercasedName: String,
        _ headers: some Collection<(name: String, value: String)>
    ) -> Bool {
        headers.contains { header in
            guard equalsIgnoringASCIICase(header.name, lowercasedName) else { return false }
            // Walk the list in place (no array of elements).
            var rest = Substring(header.value)
            while true {
                let comma = rest.firstIndex(of: ",") ?? rest.endIndex
                if equalsIgnoringASCIICase(trimmed(rest[..<comma]), token) { return true }
                guard comma < rest.endIndex else { return false }
                rest = rest[rest.index(after: comma)...]
            }
        }
    }

    /// Compares against an already lowercased ASCII string; HTTP names and tokens are ASCII case-insensitive.
    private static func equalsIgnoringASCIICase(_ string: some StringProtocol, _ lowercased: String) -> Bool {
        string.utf8.elementsEqual(lowercased.utf8) { byte, lower in
            (byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) == lower
        }
    }

    /// Strips optional whitespace (space and tab) around a header value or list element.
    private static func trimmed(_ string: some StringProtocol) -> Substring {
        let isWhitespace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        let text = Substring(string)
        guard let first = text.firstIndex(where: { !isWhitespace($0) }),
            let last = text.lastIndex(where: { !isWhitespace($0) })
        else { return "" }
        return text[first...last]
    }

    // MARK: - Base64

    /// 16 bytes encode as 22 alphabet characters followed by "==", and nothing else decodes to 16 bytes.
    private static func isBase64Of16Bytes(_ key: Substring) -> Bool {
        let bytes = key.utf8
        guard bytes.count == 24 else { return false }
        for (offset, byte) in bytes.enumerated() {
            let valid = offset < 22 ? Base64.alphabet.contains(byte) : byte == UInt8(ascii: "=")
            if !valid { return false }
        }
        return true
    }
}
