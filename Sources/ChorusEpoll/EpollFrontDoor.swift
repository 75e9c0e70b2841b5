#if os(Linux)
    import ChorusCore
    import NIOCore

    /// The front door's decision on a complete WebSocket upgrade request.
    package enum EpollUpgradeDecision {
        /// Admitted: the transport answers with the ticket's 101 and serves the connection, releasing the ticket's
        /// places when it goes.
        case upgrade(AdmissionTicket)
        /// Refused: the HTTP side answers with this refusal, without deciding again.
        case refuse(any Error & Sendable)
    }

    /// The server's side of the epoll transport: decides on upgrade requests and serves everything that is not
    /// an accepted upgrade (plain HTTP, refused upgrades) on the HTTP side, so that one port serves it all.
    package protocol EpollFrontDoor: AnyObject, Sendable {
        /// Decides on a complete WebSocket upgrade request from the socket `fd`, on the loop that owns it. `head`
        /// is valid only during the call.
        func admit(_ head: RequestHeadView, fd: Int32) -> EpollUpgradeDecision
        /// Serves the socket `fd` on the HTTP side from now on, replaying `bytes` (what was read so far), for
        /// `reason`. The transport no longer watches or closes `fd`.
        func handOff(fd: Int32, bytes: ByteBuffer, reason: HandOffReason)
        /// A client sent no complete request within the handshake timeout; its socket was closed.
        func handshakeTimedOut()
        /// accept failed for lack of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM); accepting pauses
        /// briefly and resumes.
        func acceptFailed(errno: Int32)
    }
#endif
