/// The open → closing → closed logic of one WebSocket connection, with no I/O: the handler performs the
/// actions it returns.
package struct WebSocketConnectionStateMachine: Sendable {
    package enum State: Equatable, Sendable {
        /// Data flows both ways.
        case open
        /// We sent a close frame and wait for the peer's.
        case closingByUs
        /// The peer sent a close frame and we answered; the socket is closing.
        case closingByPeer
        /// The socket is closed.
        case closed
    }

    /// What to do when the peer's close frame arrives.
    package enum PeerCloseAction: Equatable, Sendable {
        /// Answer with a close frame echoing the code, then close the socket.
        case echoThenCloseSocket
        /// Our close was answered: the handshake is complete, close the socket.
        case closeSocket
        /// Already closing or closed: nothing to do.
        case ignore
    }

    package private(set) var state: State = .open

    package init() {}

    /// Whether data and control messages from the peer are still acted on.
    package var isOpen: Bool { self.state == .open }

    /// We want to close (shutdown, policy, idle, protocol error). Returns true if a close frame should be sent.
    package mutating func closeRequested() -> Bool {
        switch self.state {
        case .open:
            self.state = .closingByUs
            return true
        case .closingByUs, .closingByPeer, .closed:
            return false
        }
    }

    /// The peer sent a close frame.
    package mutating func peerClosed() -> PeerCloseAction {
        switch self.state {
        case .open:
            self.state = .closingByPeer
            return .echoThenCloseSocket
        case .closingByUs:
            self.state = .closed
            return .closeSocket
        case .closingByPeer, .closed:
            return .ignore
        }
    }

    /// The socket went away.
    package mutating func socketClosed() {
        self.state = .closed
    }
}
