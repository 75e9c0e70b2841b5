#if os(Linux)
    import CEpoll
    import ChorusCore
    import Glibc
    import NIOCore

    /// Accepting: sockets taken from the listeners (first loop only) and shared out among the loops.
    extension EpollTransport {
        // MARK: Accepting

        func acceptAll(from listener: Int32) {
            while !self.acceptPaused {
                let fd = chorus_accept(listener)
                if fd < 0 {
                    switch errno {
                    case EAGAIN, EWOULDBLOCK: return
                    case EINTR, ECONNABORTED, EPROTO: continue
                    case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                        self.frontDoor.acceptFailed(errno: errno)
                        self.pauseAccepting()
                        return
                    default:
                        self.frontDoor.acceptFailed(errno: errno)
                        return
                    }
                }
                if self.peers.count > 1 {
                    let peer = self.peers[self.nextPeer]
                    self.nextPeer = (self.nextPeer + 1) % self.peers.count
                    if peer !== self.loop {
                        peer.adopt(fd)
                        continue
                    }
                }
                self.adopt(fd)
            }
        }

        /// Starts reading the request of an accepted socket.
        package func adopt(_ fd: Int32) {
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if var bytes = self.settings.socketSendBufferBytes.map(Int32.init(clamping:)) {
                setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, socklen_t(MemoryLayout<Int32>.size))
            }
            guard
                self.loop.register(
                    fd,
                    events: CHORUS_EPOLLIN | CHORUS_EPOLLRDHUP,
                    token: Self.token(.handshake, fd: fd)
                )
            else {
                Glibc.close(fd)
                return
            }
            self.handshakes[fd] = Handshake(buffer: nil, deadline: .now() + self.shard.deadlines.handshakeTimeout)
        }

        /// Out of descriptors: stop watching the listeners for 100 ms rather than spin on them.
        private func pauseAccepting() {
            self.acceptPaused = true
            for fd in self.listeners { self.loop.modify(fd, events: 0, token: Self.token(.listener, fd: fd)) }
            let bound = NIOLoopBound(self, eventLoop: self.loop)
            _ = self.loop.scheduleTask(in: .milliseconds(100)) {
                let transport = bound.value
                transport.acceptPaused = false
                for fd in transport.listeners {
                    transport.loop.modify(fd, events: CHORUS_EPOLLIN, token: Self.token(.listener, fd: fd))
                }
            }
        }
    }

#endif
