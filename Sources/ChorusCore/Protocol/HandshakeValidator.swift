import Crypto

/// Decides whether an HTTP request is a valid RFC 6455 opening handshake, and computes the accept value.
///
/// Pure over method, version and headers so that any HTTP front end (NIOHTTP1 or a lean transport) can use it.
/// Checks run in a fixed order so a client always learns about the first problem.
package enum HandshakeValidator {
    package enum Outcome: Equatable, Sendable {
        /// Answer 101 Switching Protocols with this `Sec-WebSocket-Accept`.
        case accept(secWebSocketAccept: String)
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

    package static func validate(
        method: String,
        versionMajor: Int,
        versionMinor: Int,
        headers: [(name: String, value: String)]
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
        let versions = values(of: "sec-websocket-version", headers)
        guard versions.count == 1, trimmed(versions[0]) == "13" else {
            return .reject(
                status: 426,
                reason: "WebSocket upgrade requires Sec-WebSocket-Version: 13",
                extraHeaders: [HeaderField(name: "Sec-WebSocket-Version", value: "13")]
            )
        }
        let keys = values(of: "sec-websocket-key", headers)
        guard keys.count == 1, isBase64Of16Bytes(trimmed(keys[0])) else {
            return .reject(
                status: 400,
                reason: "WebSocket upgrade requires one Sec-WebSocket-Key of 16 base64-encoded bytes",
                extraHeaders: []
            )
        }
        return .accept(secWebSocketAccept: acceptValue(forKey: String(trimmed(keys[0]))))
    }

    /// base64(SHA1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), the `Sec-WebSocket-Accept` value.
    package static func acceptValue(forKey key: String) -> String {
        var hasher = Insecure.SHA1()
        var input = key + keyGUID
        input.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        return base64Encode(hasher.finalize())
    }

    // MARK: - Header helpers

    private static func values(of lowercasedName: String, _ headers: [(name: String, value: String)]) -> [String] {
        headers.compactMap { equalsIgnoringASCIICase($0.name, lowercasedName) ? $0.value : nil }
    }

    /// Whether any header named `name` lists `token` in its comma-separated value, ignoring ASCII case.
    private static func containsToken(
        _ token: String,
        in lowercasedName: String,
        _ headers: [(name: String, value: String)]
    ) -> Bool {
        headers.contains { header in
            equalsIgnoringASCIICase(header.name, lowercasedName)
                && header.value.split(separator: ",").contains { equalsIgnoringASCIICase(trimmed($0), token) }
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

    private static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// 16 bytes encode as 22 alphabet characters followed by "==", and nothing else decodes to 16 bytes.
    private static func isBase64Of16Bytes(_ key: Substring) -> Bool {
        let bytes = Array(key.utf8)
        guard bytes.count == 24, bytes[22] == UInt8(ascii: "="), bytes[23] == UInt8(ascii: "=") else {
            return false
        }
        return bytes[..<22].allSatisfy { base64Alphabet.contains($0) }
    }

    private static func base64Encode(_ bytes: some Sequence<UInt8>) -> String {
        let input = Array(bytes)
        var output: [UInt8] = []
        output.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index < input.count {
            let b0 = input[index]
            let b1 = index + 1 < input.count ? input[index + 1] : 0
            let b2 = index + 2 < input.count ? input[index + 2] : 0
            output.append(base64Alphabet[Int(b0 >> 2)])
            output.append(base64Alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            output.append(index + 1 < input.count ? base64Alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            output.append(index + 2 < input.count ? base64Alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }
}
