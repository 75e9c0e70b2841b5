import NIOCore

@testable import ChorusCore

/// A connection that records what the engine asks of it, frames as bytes.
///
/// Like a transport, it counts as released once its socket is closed (`closeSocket`, `writeThenCloseSocket`), and,
/// with `releaseAfterActions`, once that many actions are recorded (a write that found the socket gone).
struct RecordingConnection: ConnectionActions {
    enum Action: Equatable {
        case writePong([UInt8])
        case holdPong([UInt8])
        case write([UInt8])
        case writeThenCloseSocket([UInt8])
        case closeSocket
    }

    var machine = WebSocketConnectionStateMachine()
    var closeReason: CloseReason?
    var grant: ChannelGrant?
    var deflateWindowBits: UInt8 = 0
    var pongMustWait = false
    var isReleased = false
    var releaseAfterActions: Int?
    var allocator = ByteBufferAllocator()
    var actions: [Action] = []
    /// The pong `holdPong` kept.
    var waitingPong: ByteBuffer?

    mutating func writePong(_ pong: ByteBuffer) { self.record(.writePong(Array(pong.readableBytesView))) }
    mutating func holdPong(_ pong: ByteBuffer) {
        self.record(.holdPong(Array(pong.readableBytesView)))
        self.waitingPong = pong
    }

    mutating func takeWaitingPong() -> ByteBuffer? {
        defer { self.waitingPong = nil }
        return self.waitingPong
    }
    mutating func write(_ frame: ByteBuffer) { self.record(.write(Array(frame.readableBytesView))) }

    mutating func writeThenCloseSocket(_ frame: ByteBuffer) {
        self.record(.writeThenCloseSocket(Array(frame.readableBytesView)))
        self.isReleased = true
    }

    mutating func closeSocket() {
        self.record(.closeSocket)
        self.isReleased = true
    }

    private mutating func record(_ action: Action) {
        self.actions.append(action)
        if let limit = self.releaseAfterActions, self.actions.count >= limit { self.isReleased = true }
    }
}
