import ChorusCore
import NIOHTTP1

#if os(Linux)
    import ChorusEpoll
#endif

/// An upgrade request as `UpgradePolicy` reads it: NIO's parsed head on the NIO transport, the bytes where they
/// were read on the epoll transport. The checks every upgrade runs (path, RFC 6455 handshake, channels) read
/// the target and fields as bytes; the whole head is built only for the checks that are off by default or
/// that run on what a client offers.
package protocol UpgradeRequest: HandshakeHeaderFields {
    /// The method token, as sent.
    var methodName: String { get }
    var versionMajor: Int { get }
    var versionMinor: Int { get }
    /// Calls `body` with the request target's bytes (path and query, as sent).
    func withTarget<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result
    /// The head as NIO's type (for tokens, origins, client addresses, subprotocols and compression offers).
    func makeHTTPRequestHead() -> HTTPRequestHead
}

extension HTTPRequestHead: UpgradeRequest {
    package var methodName: String { self.method.rawValue }

    package var versionMajor: Int { self.version.major }

    package var versionMinor: Int { self.version.minor }

    package func withTarget<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        var uri = self.uri
        return uri.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }

    package func forEachValue(named lowercasedName: String, _ body: (UnsafeRawBufferPointer) -> Bool) {
        StringHeaderFields(self.headers).forEachValue(named: lowercasedName, body)
    }

    package func makeHTTPRequestHead() -> HTTPRequestHead { self }
}

#if os(Linux)
    extension RequestHeadView: UpgradeRequest {}
#endif
