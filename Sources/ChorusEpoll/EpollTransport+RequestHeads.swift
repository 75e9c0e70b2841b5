#if os(Linux)
    import ChorusCore
    import Glibc
    import NIOCore

    /// Request heads: read into the loop's scratch buffer, then upgraded here or handed to the HTTP side.
    extension EpollTransport {
        // MARK: Handshakes

        /// Reads a request head into the loop's scratch buffer. Only a head that does not arrive whole is kept
        /// (in a buffer of its own) until the next read; a complete one is parsed where it was read.
        func readHandshake(fd: Int32) {
            guard var handshake = self.handshakes[fd] else { return }
            self.scratch.clear()
            if let partial = handshake.buffer {
                self.scratch.writeImmutableBuffer(partial)
                handshake.buffer = nil
            }
            while self.scratch.readableBytes < self.settings.maxHeadBytes {
                let count = Self.read(fd, into: &self.scratch)
                if count <= 0 {
                    let error = errno
                    if count < 0 && (error == EAGAIN || error == EWOULDBLOCK) { break }
                    if count < 0 && error == EINTR { continue }
                    // EOF or reset before a complete request.
                    self.handshakes[fd] = nil
                    Glibc.close(fd)
                    return
                }
            }
            switch RequestHeadParser.parse(self.scratch) {
            case .incomplete where self.scratch.readableBytes < self.settings.maxHeadBytes:
                handshake.buffer = self.copyOfScratch()
                self.handshakes[fd] = handshake
            case .incomplete:
                // No end of head within the limit: the HTTP side refuses it (431), NIO's decoder deciding where
                // the head ends.
                self.handOff(fd: fd, buffer: self.copyOfScratch(), reason: .headTooLarge)
            case .unsupported:
                self.handOff(fd: fd, buffer: self.copyOfScratch(), reason: .unsupported)
            case .complete(let layout) where layout.length > self.settings.maxHeadBytes:
                // Arrived whole in one read (which takes up to the scratch's capacity), but over the limit all the
                // same.
                self.handOff(fd: fd, buffer: self.copyOfScratch(), reason: .headTooLarge)
            case .complete(let layout):
                switch self.decide(fd: fd, layout: layout) {
                case .upgrade(let ticket):
                    self.handshakes[fd] = nil
                    self.scratch.moveReaderIndex(forwardBy: layout.length)
                    self.upgrade(fd: fd, ticket: ticket, leftover: &self.scratch)
                case .refuse(let refusal):
                    self.handOff(fd: fd, buffer: self.copyOfScratch(), reason: .refused(refusal))
                case nil:
                    self.handOff(fd: fd, buffer: self.copyOfScratch(), reason: .notAnUpgrade)
                }
            }
        }

        /// Asks the front door about the complete head in the scratch buffer, read where it lies; nil for a head
        /// without `Upgrade: websocket`, which goes to the HTTP side without asking (the front door checks the rest).
        private func decide(fd: Int32, layout: RequestHeadLayout) -> EpollUpgradeDecision? {
            // A copy that shares the scratch's storage, gone when this returns: the upgrade then writes to the
            // scratch without copying it.
            let scratch = self.scratch
            return scratch.withUnsafeReadableBytes { bytes in
                let head = RequestHeadView(bytes: bytes, layout: layout)
                guard HandshakeValidator.containsToken("websocket", in: "upgrade", head) else { return nil }
                return self.frontDoor.admit(head, fd: fd)
            }
        }

        /// The scratch buffer's readable bytes in a buffer of their own (the scratch is reused by the next read).
        private func copyOfScratch() -> ByteBuffer {
            var copy = self.allocator.buffer(capacity: self.scratch.readableBytes)
            copy.writeImmutableBuffer(self.scratch)
            return copy
        }

        private func handOff(fd: Int32, buffer: ByteBuffer, reason: HandOffReason) {
            self.handshakes[fd] = nil
            self.loop.deregister(fd)
            self.frontDoor.handOff(fd: fd, bytes: buffer, reason: reason)
        }
    }

#endif
