import NIOCore

/// One connection as `ConnectionEngine` sees it: the protocol state its transport keeps for it (in the epoll
/// record, or in the NIO handler) and the few things the transport does when the engine says so.
///
/// The transport decides nothing here: it only carries out. Implement it as a small value (the transport and a
/// slot, or a handler and its context) passed `inout`, so that a call is specialized and allocates nothing.
package protocol ConnectionActions {
    /// The connection's open → closing → closed state.
    var machine: WebSocketConnectionStateMachine { get set }
    /// Why the connection closes, once known (reported when it is released; nil then counts as an error).
    var closeReason: CloseReason? { get set }
    /// The permissions of the connection's token; nil without tokens. Read only for a subscriber's text message.
    var grant: ChannelGrant? { get }
    /// The permessage-deflate window negotiated at the upgrade (9...15), 0 for none.
    var deflateWindowBits: UInt8 { get }
    /// True while an answer to a ping must wait: an earlier pong is not written yet (RFC 6455 §5.5.3).
    var pongMustWait: Bool { get }
    /// True once the connection was released (its socket closed and its block given back) while handling an
    /// event: the engine stops decoding and returns the decoder's buffers.
    var isReleased: Bool { get }
    /// Allocates the frames the engine encodes (pongs, close frames, echoes).
    var allocator: ByteBufferAllocator { get }

    /// Writes `pong` now.
    mutating func writePong(_ pong: ByteBuffer)
    /// Keeps `pong` as the connection's waiting pong, in place of any earlier one: written once the pong before
    /// it is.
    mutating func holdPong(_ pong: ByteBuffer)
    /// Gives up the waiting pong, if any (see `ConnectionEngine.pongReady`).
    mutating func takeWaitingPong() -> ByteBuffer?
    /// Writes `frame` (the close frame of a close we start) and flushes it.
    mutating func write(_ frame: ByteBuffer)
    /// Writes `frame`, the last frame of the connection, then closes the socket without waiting for an answer.
    mutating func writeThenCloseSocket(_ frame: ByteBuffer)
    /// Closes the socket now.
    mutating func closeSocket()
}
