#if os(Linux)
    import ChorusCore
    import NIOCore

    /// An upgrade the front door accepted: what the connection starts with.
    package struct EpollAdmission {
        /// Channels to follow from the start (subscriber endpoint).
        package var channels: ChannelList
        /// The echo endpoint instead of a subscriber.
        package var isEcho: Bool
        package var grant: ChannelGrant?
        package var deflate: DeflateParameters?
        /// When the connection's token expires, if it has one.
        package var tokenExpiry: NIODeadline?
        /// Handed back to `connectionReleased` (for example the client address of a per-address limit).
        package var releaseContext: AnyObject?

        package init(
            channels: ChannelList,
            isEcho: Bool,
            grant: ChannelGrant?,
            deflate: DeflateParameters?,
            tokenExpiry: NIODeadline?,
            releaseContext: AnyObject?
        ) {
            self.channels = channels
            self.isEcho = isEcho
            self.grant = grant
            self.deflate = deflate
            self.tokenExpiry = tokenExpiry
            self.releaseContext = releaseContext
        }
    }

    /// The server's side of the epoll transport: decides on upgrade requests and serves everything that is not
    /// an accepted upgrade (plain HTTP, refused upgrades) on the HTTP side, so that one port serves it all.
    package protocol EpollFrontDoor: AnyObject, Sendable {
        /// Decides on a complete WebSocket upgrade request from the socket `fd`, on the loop that owns it. `head`
        /// is valid only during the call. An admission has taken its capacity place and has written the complete
        /// `101 Switching Protocols` answer into `response` (the loop's own buffer, empty, reused for every
        /// upgrade); nil hands the request to the HTTP side, which answers it.
        func admit(_ head: RequestHeadView, fd: Int32, response: inout ByteBuffer) -> EpollAdmission?
        /// Serves the socket `fd` on the HTTP side from now on, replaying `bytes` (what was read so far), for
        /// `reason`. The transport no longer watches or closes `fd`.
        func handOff(fd: Int32, bytes: ByteBuffer, reason: HandOffReason)
        /// A client sent no complete request within the handshake timeout; its socket was closed.
        func handshakeTimedOut()
        /// An admitted connection is gone: give back its capacity place.
        func connectionReleased(_ context: AnyObject?)
        /// accept failed for lack of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM); accepting pauses
        /// briefly and resumes.
        func acceptFailed(errno: Int32)
    }
#endif
