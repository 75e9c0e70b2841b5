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
        Self.validate(
            method: method,
            versionMajor: versionMajor,
            versionMinor: versionMinor,
            fields: StringHeaderFields(headers)
        )
    }

    /// The same checks over fields read as bytes. Inlined into the caller, so that reading `fields` is
    /// specialized there: on a valid request nothing is allocated.
    @inlinable
    package static func validate(
        method: String,
        versionMajor: Int,
        versionMinor: Int,
        fields: some HandshakeHeaderFields
    ) -> Outcome {
        Self.validate(method: method, versionMajor: versionMajor, versionMinor: versionMinor) { name, body in
            fields.forEachValue(named: name, body)
        }
    }

    /// Calls its second argument with each value of the fields named by the first (lowercase), in order, until
    /// that returns false: `HandshakeHeaderFields.forEachValue` as a closure, so the checks need no generics.
    package typealias FieldValues = (_ lowercasedName: String, _ body: (UnsafeRawBufferPointer) -> Bool) -> Void

    /// The checks themselves, over `fieldValues`.
    package static func validate(
        method: String,
        versionMajor: Int,
        versionMinor: Int,
        fieldValues fields: FieldValues
    ) -> Outcome {
        guard method == "GET" else {
            return .reject(status: 405, reason: "WebSocket upgrade requires GET", extraHeaders: [])
        }
        guard versionMajor > 1 || (versionMajor == 1 && versionMinor >= 1) else {
            return .reject(status: 400, reason: "WebSocket upgrade requires HTTP/1.1", extraHeaders: [])
        }
        guard containsToken("websocket", in: "upgrade", fieldValues: fields) else {
            return .reject(
                status: 426,
                reason: "WebSocket upgrade requires Upgrade: websocket",
                extraHeaders: [HeaderField(name: "Upgrade", value: "websocket")]
            )
        }
        guard containsToken("upgrade", in: "connection", fieldValues: fields) else {
            return .reject(status: 400, reason: "WebSocket upgrade requires Connection: Upgrade", extraHeaders: [])
        }
        // Each of the two must be sent once: the walks count the fields and read only the first.
        var versions = 0
        var isVersion13 = false
        fields("sec-websocket-version") { value in
            versions += 1
            isVersion13 = ASCII.trimmed(value[...]).elementsEqual("13".utf8)
            return versions < 2
        }
        guard versions == 1, isVersion13 else {
            return .reject(
                status: 426,
                reason: "WebSocket upgrade requires Sec-WebSocket-Version: 13",
                extraHeaders: [HeaderField(name: "Sec-WebSocket-Version", value: "13")]
            )
        }
        var keys = 0
        var accept: AcceptValue?
        fields("sec-websocket-key") { value in
            keys += 1
            let key = UnsafeRawBufferPointer(rebasing: ASCII.trimmed(value[...]))
            accept = keys == 1 && isBase64Of16Bytes(key) ? acceptValue(forKey: key) : nil
            return keys < 2
        }
        guard keys == 1, let accept else {
            return .reject(
                status: 400,
                reason: "WebSocket upgrade requires one Sec-WebSocket-Key of 16 base64-encoded bytes",
                extraHeaders: []
            )
        }
        return .accept(secWebSocketAccept: accept)
    }

    /// base64(SHA1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), the `Sec-WebSocket-Accept` value.
    package static func acceptValue(forKey key: some StringProtocol) -> AcceptValue {
        var key = Substring(key)
        return key.withUTF8 { Self.acceptValue(forKey: UnsafeRawBufferPointer($0)) }
    }

    /// The accept value for a key given as bytes: the key and GUID are joined and hashed in stack memory and the
    /// digest encoded inline, so nothing is allocated.
    package static func acceptValue(forKey key: UnsafeRawBufferPointer) -> AcceptValue {
        var guid = keyGUID
        return guid.withUTF8 { guid in
            withUnsafeTemporaryAllocation(byteCount: key.count + guid.count, alignment: 1) { joined in
                joined.copyMemory(from: key)
                UnsafeMutableRawBufferPointer(rebasing: joined[key.count...]).copyMemory(
                    from: UnsafeRawBufferPointer(guid)
                )
                return SHA1.withDigest(of: UnsafeRawBufferPointer(joined)) { AcceptValue(encodingDigest: $0) }
            }
        }
    }

    // MARK: - Header helpers

    /// Whether any field named `lowercasedName` lists `token` in its comma-separated value, ignoring ASCII case
    /// (and the whitespace around each element). `token` and `lowercasedName` are lowercase ASCII. Inlined, so
    /// that reading `fields` is specialized in the caller.
    @inlinable
    package static func containsToken(
        _ token: String,
        in lowercasedName: String,
        _ fields: some HandshakeHeaderFields
    ) -> Bool {
        Self.containsToken(token, in: lowercasedName) { name, body in fields.forEachValue(named: name, body) }
    }

    /// The same over `fieldValues`.
    package static func containsToken(
        _ token: String,
        in lowercasedName: String,
        fieldValues fields: FieldValues
    ) -> Bool {
        var found = false
        fields(lowercasedName) { value in
            // Walk the list in place (no array of elements).
            var rest = value[...]
            while true {
                let comma = rest.firstIndex(of: UInt8(ascii: ",")) ?? rest.endIndex
                if ASCII.equalsIgnoringCase(ASCII.trimmed(rest[..<comma]), token) {
                    found = true
                    return false
                }
                guard comma < rest.endIndex else { return true }
                rest = rest[(comma + 1)...]
            }
        }
        return found
    }

    // MARK: - Base64

    /// 16 bytes encode as 22 alphabet characters followed by "==", and nothing else decodes to 16 bytes.
    private static func isBase64Of16Bytes(_ key: UnsafeRawBufferPointer) -> Bool {
        guard key.count == 24 else { return false }
        for (offset, byte) in key.enumerated() {
            let valid = offset < 22 ? Base64.alphabet.contains(byte) : byte == UInt8(ascii: "=")
            if !valid { return false }
        }
        return true
    }
}
