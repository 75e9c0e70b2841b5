#if os(Linux)
    import CEpoll
    import ChorusCore
    import Glibc
    import NIOCore

    /// Writing: frames corked for the loop's turn, written with one send or sendmsg per connection; what the
    /// kernel does not take is queued until EPOLLOUT.
    extension EpollTransport {
        // MARK: Writing

        /// Corks `bytes` for the end of the loop's turn if nothing is queued, or queues it behind what is
        /// (without copying either way).
        func send(_ bytes: ByteBuffer, slot: UInt32) {
            let index = Int(slot)
            guard self.records[index].isInUse, bytes.readableBytes > 0 else { return }
            if self.records[index].pending != nil {
                self.enqueue(bytes, slot: slot)
                return
            }
            self.records[index].corkTail = self.corked.add(bytes, slot: slot, after: self.records[index].corkTail)
            // A turn that runs many publishes (a loop that fell behind) writes out early: a connection that stopped
            // reading must meet the slow-consumer limit, which applies to what the kernel refused, after at most
            // this much more, and the chain stays small.
            if self.corked.deliveredBytes >= Self.maxCorkedBytes || self.corked.deliveries >= Self.maxCorkedDeliveries {
                self.flushWrites()
            }
        }

        /// At most this much is corked in one turn before it is written out.
        static let maxCorkedBytes = 4 << 20
        static let maxCorkedDeliveries = 1 << 16

        package func flushWrites() {
            guard !self.isFlushing else { return }
            self.isFlushing = true
            defer { self.isFlushing = false }
            var next = 0
            // Writing may cork more (a connection closed on error does not, but stay safe): index, not iterator.
            while next < self.corked.slots.count {
                self.uncork(slot: self.corked.slots[next])
                next += 1
            }
            self.corked.reset()
        }

        /// Pongs one connection may have corked in one turn; the answers to later pings of the turn replace each
        /// other in `waitingPongs`. Above the ten pings in a row of the Autobahn cases, far below what one turn's
        /// reads can carry (~2,000 pings), so a flood holds ~8 KB of pongs, not ~250 KB.
        static let maxCorkedPongs: UInt8 = 64

        /// Writes what is corked for `slot` now, then the pong waiting for the turn to end, if any.
        func uncork(slot: UInt32) {
            self.uncorkFrames(slot: slot)
            let index = Int(slot)
            guard self.records[index].isInUse else { return }
            self.records[index].corkedPongs = 0
            // A pong that waits behind a queue is written when the queue drains (`flushQueue`). Almost always none
            // waits: that is checked before asking the engine, once per connection per turn.
            guard !self.waitingPongs.isEmpty, self.records[index].pending == nil else { return }
            var connection = Connection(transport: self, slot: slot, generation: self.records[index].generation)
            guard let pong = ConnectionEngine.pongReady(connection: &connection) else { return }
            let outcome = self.writeSome(fd: self.records[index].fd, slot: slot) { fd in
                pong.withUnsafeReadableBytes { chorus_send(fd, $0.baseAddress, UInt($0.count)) }
            }
            switch outcome {
            case .gone:
                return
            case .wrote(let written):
                guard written < pong.readableBytes else { return }
                var rest = pong
                rest.moveReaderIndex(forwardBy: written)
                self.enqueue(rest, slot: slot)
            case .wouldBlock:
                self.enqueue(pong, slot: slot)
            }
        }

        /// Writes what is corked for `slot` now: one send for one frame, one sendmsg for several; what the kernel
        /// does not take is queued for EPOLLOUT.
        private func uncorkFrames(slot: UInt32) {
            let index = Int(slot)
            let tail = self.records[index].corkTail
            guard tail != 0 else { return }
            self.records[index].corkTail = 0
            let fd = self.records[index].fd
            if let frame = self.corked.soleFrame(endingAt: tail) {
                // One frame: a plain send, no chain, no vectors.
                let length = self.corked.length(frame)
                let outcome = self.writeSome(fd: fd, slot: slot) {
                    chorus_send($0, self.corked.base(frame), UInt(length))
                }
                switch outcome {
                case .wrote(let written) where written == length:
                    return
                case .gone:
                    return
                case .wrote(let written):
                    var rest = self.corked.frame(frame)
                    rest.moveReaderIndex(forwardBy: written)
                    self.enqueue(rest, slot: slot)
                case .wouldBlock:
                    self.enqueue(self.corked.frame(frame), slot: slot)
                }
                return
            }
            self.corked.chain(endingAt: tail, into: &self.chain)
            var first = 0
            var skip = 0
            while first < self.chain.count {
                let batch = self.chain[first..<min(self.chain.count, first + Int(CHORUS_SENDV_MAX))]
                let outcome = self.writeSome(fd: fd, slot: slot) { fd in
                    self.corked.withVectors(batch, skippingFirst: skip, into: &self.vectorBases, &self.vectorLengths) {
                        // One frame left (a partly written chain's last): plain send, no message header to copy in.
                        $2 == 1 ? chorus_send(fd, $0[0], $1[0]) : chorus_sendv(fd, $0, $1, $2)
                    }
                }
                let written: Int
                switch outcome {
                case .wrote(let count): written = count
                case .wouldBlock:
                    for (offset, frame) in self.chain[first...].enumerated() {
                        var bytes = self.corked.frame(frame)
                        if offset == 0 { bytes.moveReaderIndex(forwardBy: skip) }
                        self.enqueue(bytes, slot: slot)
                    }
                    return
                case .gone:
                    return
                }
                // Advance past the frames the kernel took whole.
                var remaining = written + skip
                skip = 0
                while first < self.chain.count {
                    let length = self.corked.length(self.chain[first])
                    if remaining < length {
                        skip = remaining
                        break
                    }
                    remaining -= length
                    first += 1
                }
            }
        }

        enum WriteOutcome {
            case wrote(Int)
            /// The kernel took nothing (EAGAIN): queue and wait for EPOLLOUT.
            case wouldBlock
            /// The peer is gone (EPIPE, ECONNRESET, ...): the connection was released.
            case gone
        }

        /// One write system call (`call`, retried on EINTR); on a hard error the connection is released.
        func writeSome(fd: Int32, slot: UInt32, _ call: (Int32) -> Int) -> WriteOutcome {
            while true {
                let written = call(fd)
                if written >= 0 { return .wrote(written) }
                switch errno {
                case EINTR: continue
                case EAGAIN, EWOULDBLOCK: return .wouldBlock
                default:
                    if self.records[Int(slot)].closeReason == nil { self.records[Int(slot)].closeReason = .error }
                    self.connectionGone(slot: slot)
                    return .gone
                }
            }
        }

        func enqueue(_ bytes: ByteBuffer, slot: UInt32) {
            let index = Int(slot)
            guard self.records[index].isInUse else { return }
            guard Int(self.records[index].pendingBytes) + bytes.readableBytes <= Int(UInt32.max) else {
                // Only frames that bypass the slow-consumer check (pongs, close frames) can get here, and only
                // from a peer that sends and never reads: let it go rather than count past the record's field.
                self.records[index].closeReason = .slowConsumer
                self.connectionGone(slot: slot)
                return
            }
            if self.records[index].pending == nil { self.records[index].pending = [] }
            self.records[index].pending!.append(bytes)
            self.records[index].pendingBytes += UInt32(bytes.readableBytes)
            if !self.records[index].watchesOutput {
                self.records[index].watchesOutput = true
                self.loop.modify(
                    self.records[index].fd,
                    events: CHORUS_EPOLLIN | CHORUS_EPOLLRDHUP | CHORUS_EPOLLOUT,
                    token: Self.connectionToken(slot: slot, generation: self.records[index].generation)
                )
            }
            if Int(self.records[index].pendingBytes) > self.settings.maxPendingBytes {
                self.shard.setWritable(self.id(slot), false)
            }
        }

        /// Writes queued bytes on EPOLLOUT; stops watching for it once the queue is empty.
        func flushQueue(slot: UInt32) {
            let index = Int(slot)
            let fd = self.records[index].fd
            while var first = self.records[index].pending?.first {
                let outcome = self.writeSome(fd: fd, slot: slot) { fd in
                    first.withUnsafeReadableBytes { chorus_send(fd, $0.baseAddress, UInt($0.count)) }
                }
                guard case .wrote(let written) = outcome else { return }
                self.records[index].pendingBytes -= UInt32(written)
                first.moveReaderIndex(forwardBy: written)
                if first.readableBytes == 0 {
                    self.records[index].pending!.removeFirst()
                } else {
                    self.records[index].pending![0] = first
                }
            }
            self.records[index].pending = nil
            self.records[index].pendingBytes = 0
            self.records[index].watchesOutput = false
            self.loop.modify(
                fd,
                events: CHORUS_EPOLLIN | CHORUS_EPOLLRDHUP,
                token: Self.connectionToken(slot: slot, generation: self.records[index].generation)
            )
            self.shard.setWritable(self.id(slot), true)
            if self.records[index].closeWhenFlushed {
                self.connectionGone(slot: slot)
            } else if !self.waitingPongs.isEmpty {
                var connection = Connection(transport: self, slot: slot, generation: self.records[index].generation)
                if let pong = ConnectionEngine.pongReady(connection: &connection) { self.send(pong, slot: slot) }
            }
        }

        /// Sends a final frame and closes the socket once it is written.
        func sendThenClose(_ bytes: ByteBuffer, slot: UInt32) {
            self.send(bytes, slot: slot)
            self.uncork(slot: slot)
            guard self.records[Int(slot)].isInUse else { return }
            if self.records[Int(slot)].pending == nil {
                self.connectionGone(slot: slot)
            } else {
                self.records[Int(slot)].closeWhenFlushed = true
            }
        }
    }

#endif
