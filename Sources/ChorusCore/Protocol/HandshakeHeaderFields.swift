/// A request's header fields as the handshake checks read them: values as UTF-8 bytes, looked up by name, so a
/// transport that keeps the request head in its read buffer (the epoll transport) builds no strings for them.
package protocol HandshakeHeaderFields {
    /// Calls `body` with the value of each field named `lowercasedName` (compared ignoring ASCII case), in the
    /// order sent, until `body` returns false. The bytes are valid only during the call.
    func forEachValue(named lowercasedName: String, _ body: (UnsafeRawBufferPointer) -> Bool)
}

extension HandshakeHeaderFields {
    /// Whether a field named `lowercasedName` is present. (Inlined: specialized for the caller's fields.)
    @inlinable
    package func contains(named lowercasedName: String) -> Bool {
        var found = false
        self.forEachValue(named: lowercasedName) { _ in
            found = true
            return false
        }
        return found
    }
}

/// Header fields held as `String` pairs (NIOHTTP1's `HTTPHeaders`, or an array in tests), read as bytes.
package struct StringHeaderFields<Fields: Collection<(name: String, value: String)>>: HandshakeHeaderFields {
    package let fields: Fields

    package init(_ fields: Fields) {
        self.fields = fields
    }

    package func forEachValue(named lowercasedName: String, _ body: (UnsafeRawBufferPointer) -> Bool) {
        for field in self.fields where ASCII.equalsIgnoringCase(field.name, lowercasedName) {
            var value = field.value
            guard value.withUTF8({ body(UnsafeRawBufferPointer($0)) }) else { return }
        }
    }
}
