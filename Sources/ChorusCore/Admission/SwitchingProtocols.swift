import NIOCore

/// The `101 Switching Protocols` answer to an admitted upgrade: its headers decided here, once, for both
/// transports (the epoll transport writes the whole answer, NIO's upgrade handler writes the status line and its
/// own `connection`/`upgrade` headers before these).
package struct SwitchingProtocols: Sendable {
    /// The `Sec-WebSocket-Accept` value for the request's key.
    package var accept: AcceptValue
    /// The subprotocol chosen among the client's offers, or nil.
    package var subprotocol: String?
    /// The permessage-deflate parameters negotiated, or nil.
    package var deflate: DeflateParameters?

    package init(accept: AcceptValue, subprotocol: String? = nil, deflate: DeflateParameters? = nil) {
        self.accept = accept
        self.subprotocol = subprotocol
        self.deflate = deflate
    }

    /// Calls `body` with each header after `connection` and `upgrade`, in the order they are sent.
    package func forEachHeader(_ body: (String, String) -> Void) {
        body("Sec-WebSocket-Accept", self.accept.string)
        self.forEachNegotiatedHeader(body)
    }

    /// Writes the complete answer into `buffer`: no allocation once the buffer has grown to the usual answer.
    package func write(into buffer: inout ByteBuffer) {
        buffer.writeStaticString("HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n")
        buffer.writeStaticString("Sec-WebSocket-Accept: ")
        self.accept.write(to: &buffer)
        buffer.writeStaticString("\r\n")
        self.forEachNegotiatedHeader { name, value in
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
    }

    private func forEachNegotiatedHeader(_ body: (String, String) -> Void) {
        if let subprotocol = self.subprotocol { body("Sec-WebSocket-Protocol", subprotocol) }
        if let deflate = self.deflate { body("Sec-WebSocket-Extensions", deflate.responseHeaderValue) }
    }
}
