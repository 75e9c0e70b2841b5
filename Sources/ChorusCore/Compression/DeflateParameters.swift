/// What a connection negotiated for permessage-deflate (RFC 7692), as far as the server's work depends on it.
///
/// The server always answers with `server_no_context_takeover` and `client_no_context_takeover`, so every
/// message in either direction is compressed on its own. The only parameter left that changes the server's
/// output is the window it may use, so connections with equal `serverMaxWindowBits` receive the same
/// compressed bytes: that value is the "parameter set" a compressed frame is shared by.
package struct DeflateParameters: Hashable, Sendable {
    /// Smallest window zlib's raw deflate can honour: it silently raises 8 to 9, which a client limited to a
    /// 256-byte window could not inflate, so offers of `server_max_window_bits=8` are declined.
    package static let minimumWindowBits: UInt8 = 9
    /// RFC 7692's (and zlib's) largest window, 32 KiB.
    package static let maximumWindowBits: UInt8 = 15

    /// Base-two logarithm of the LZ77 window the server compresses with (9...15).
    package let serverMaxWindowBits: UInt8
    /// Whether the client named `server_max_window_bits` in its offer (then the response must repeat it).
    package let echoServerMaxWindowBits: Bool

    package init(serverMaxWindowBits: UInt8 = Self.maximumWindowBits, echoServerMaxWindowBits: Bool = false) {
        precondition(
            (Self.minimumWindowBits...Self.maximumWindowBits).contains(serverMaxWindowBits),
            "window bits out of range"
        )
        self.serverMaxWindowBits = serverMaxWindowBits
        self.echoServerMaxWindowBits = echoServerMaxWindowBits
    }

    /// The `Sec-WebSocket-Extensions` value that accepts the offer.
    package var responseHeaderValue: String {
        var value = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        if self.echoServerMaxWindowBits {
            value += "; server_max_window_bits=\(self.serverMaxWindowBits)"
        }
        return value
    }
}
