#if os(Linux)
    import ChorusCore
    import NIOCore

    /// One upgraded connection's record in the epoll transport, kept in an array beside the shard's slab (same
    /// index): no object per connection. Only what an idle connection needs lives here (32 bytes); a frame
    /// decoder exists only while a message is partly received, a close deadline only while a close handshake runs
    /// (an entry in the loop's close-handshake ring, `LoopDeadlines`), and token permissions only for connections with a token
    /// (side tables of the transport). Reset when the connection goes.
    struct EpollConnection {
        /// The socket, or -1 while the record is free.
        var fd: Int32 = -1
        /// The slab generation of the owner, to recognise stale epoll events and timers.
        var generation: UInt32 = 0
        /// The permessage-deflate window (9...15), 0 for none.
        var deflateWindowBits: UInt8 = 0
        /// Registered for EPOLLOUT (something is queued).
        var watchesOutput = false
        /// Close the socket once the queue is written (a close frame is the last thing in it).
        var closeWhenFlushed = false
        var closeReason: CloseReason?
        var machine = WebSocketConnectionStateMachine()
        /// Pongs corked for this connection in the current turn (`EpollTransport.maxCorkedPongs`); in padding.
        var corkedPongs: UInt8 = 0
        /// Bytes in `pending`.
        var pendingBytes: UInt32 = 0
        /// The last of this connection's frames corked this turn (`CorkedWrites`, index + 1), 0 for none. Sits in
        /// what was padding before `pending`, so the record stays 32 bytes.
        var corkTail: UInt32 = 0
        /// Frames (or their unsent tails) the kernel did not take yet; nil while empty, so an idle connection
        /// holds no queue.
        var pending: [ByteBuffer]?

        init() {}

        var isInUse: Bool { self.fd >= 0 }
    }
#endif
