/// A request head read where it lies, in the loop's scratch buffer: the bytes and where the parser found each
/// part. Reading it allocates nothing (the method, a short token, is the only string it makes on the way); the
/// checks a default upgrade runs read it as it is, and `makeHTTPRequestHead()` builds NIO's head only for
/// what is off by default or runs on what a client offers (tokens, origins, subprotocols, compression).
///
/// Valid only while `bytes` are: within the call that lends them (`EpollFrontDoor.admit`). Never stored.
package struct RequestHeadView: HandshakeHeaderFields {
    package let bytes: UnsafeRawBufferPointer
    package let layout: RequestHeadLayout

    package init(bytes: UnsafeRawBufferPointer, layout: RequestHeadLayout) {
        self.bytes = bytes
        self.layout = layout
    }

    /// The method (a token such as `GET`: short enough to be held inline).
    package var methodName: String {
        String(decoding: self.bytes[self.layout.method], as: UTF8.self)
    }

    package var versionMajor: Int { 1 }

    package var versionMinor: Int { self.layout.versionMinor }

    /// Calls `body` with the request target's bytes (path and query, as sent).
    package func withTarget<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        body(UnsafeRawBufferPointer(rebasing: self.bytes[self.layout.target]))
    }

    /// Calls `body` with each field's name and value (trimmed), in order, until it returns false.
    package func forEachField(
        _ body: (_ name: Slice<UnsafeRawBufferPointer>, _ value: Slice<UnsafeRawBufferPointer>) -> Bool
    ) {
        guard !self.layout.fields.isEmpty else { return }
        var lines = RequestHeadParser.LineCursor(bytes: self.bytes, range: self.layout.fields)
        while let line = lines.next() {
            // The parser checked every line; a line it would refuse ends the walk rather than trap.
            guard let field = RequestHeadParser.field(line), body(field.name, field.value) else { return }
        }
    }

    package func forEachValue(named lowercasedName: String, _ body: (UnsafeRawBufferPointer) -> Bool) {
        self.forEachField { name, value in
            guard ASCII.equalsIgnoringCase(name, lowercasedName) else { return true }
            return body(UnsafeRawBufferPointer(rebasing: value))
        }
    }
}
