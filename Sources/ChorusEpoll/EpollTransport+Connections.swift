#if os(Linux)
    import CEpoll
    import ChorusCore
    import Glibc
    import NIOCore

    /// Upgraded connections: the 101, reads handed to `ConnectionEngine`, and release.
    extension EpollTransport {
        // MARK: Upgraded connections

        func upgrade(fd: Int32, ticket: AdmissionTicket, leftover: inout ByteBuffer) {
            let id = self.shard.register(self)
            let slot = Int(id.index)
            while self.records.count <= slot {
                self.records.append(EpollConnection())
            }
            var record = EpollConnection()
            record.fd = fd
            record.generation = id.generation
            if let grant = ticket.grant { self.grants[id.index] = grant }
            if ticket.places.own != nil {
                self.ownPlaces[id.index] = ticket.places
            } else if self.sharedPlaces == nil {
                self.sharedPlaces = ticket.places
            }
            // The decoder's RSV1 and the engine's echo read it here; the block gets it in `opened`.
            record.deflateWindowBits = ticket.deflate?.serverMaxWindowBits ?? 0
            self.records[slot] = record
            self.loop.modify(
                fd,
                events: CHORUS_EPOLLIN | CHORUS_EPOLLRDHUP,
                token: Self.connectionToken(slot: id.index, generation: id.generation)
            )
            self.upgradeResponse.clear()
            ticket.answer.write(into: &self.upgradeResponse)
            self.sendUpgradeResponse(slot: id.index)
            guard self.records[slot].isInUse else { return }
            ConnectionEngine.opened(
                id,
                wireProtocol: ticket.wireProtocol,
                deflateWindowBits: self.records[slot].deflateWindowBits,
                channels: ticket.channels,
                since: ticket.since,
                tokenExpiry: ticket.tokenExpiry,
                shard: self.shard,
                hub: self.hub
            )
            if leftover.readableBytes > 0, self.records[slot].isInUse {
                self.consume(&leftover, slot: id.index)
            }
        }

        /// Sends the 101 in `upgradeResponse` to a connection that has nothing corked or queued yet; a copy of what
        /// the kernel does not take is queued, so the loop's buffer stays its own.
        private func sendUpgradeResponse(slot: UInt32) {
            let length = self.upgradeResponse.readableBytes
            let outcome = self.writeSome(fd: self.records[Int(slot)].fd, slot: slot) { fd in
                self.upgradeResponse.withUnsafeReadableBytes { chorus_send(fd, $0.baseAddress, UInt($0.count)) }
            }
            let written: Int
            switch outcome {
            case .gone: return
            case .wouldBlock: written = 0
            case .wrote(let count): written = count
            }
            guard written < length else { return }
            var rest = self.allocator.buffer(capacity: length - written)
            self.upgradeResponse.withUnsafeReadableBytes {
                _ = rest.writeBytes(UnsafeRawBufferPointer(rebasing: $0[written...]))
            }
            self.enqueue(rest, slot: slot)
        }

        /// One read(2) into `buffer`'s writable space: the byte count, 0 at EOF, -1 with `errno` set.
        static func read(_ fd: Int32, into buffer: inout ByteBuffer) -> Int {
            var result = 0
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { space in
                result = Glibc.read(fd, space.baseAddress, space.count)
                return max(0, result)
            }
            return result
        }

        func id(_ slot: UInt32) -> ConnectionID {
            ConnectionID(index: slot, generation: self.records[Int(slot)].generation)
        }

        func readConnection(slot: UInt32) {
            let fd = self.records[Int(slot)].fd
            let generation = self.records[Int(slot)].generation
            // A few reads per readiness, so one busy client cannot starve the loop's others.
            for _ in 0..<4 {
                self.scratch.clear()
                let count = Self.read(fd, into: &self.scratch)
                if count <= 0 {
                    let error = errno
                    if count < 0 && (error == EAGAIN || error == EWOULDBLOCK) { return }
                    if count < 0 && error == EINTR { continue }
                    // EOF (a half-closed peer included) or a reset: nothing more will come.
                    if count < 0, self.records[Int(slot)].closeReason == nil {
                        self.records[Int(slot)].closeReason = .error
                    }
                    // A half-closed peer may still read: what this turn gave it (a pong, a close frame) goes first.
                    if count == 0 { self.uncork(slot: slot) }
                    if self.records[Int(slot)].isInUse { self.connectionGone(slot: slot) }
                    return
                }
                self.consume(&self.scratch, slot: slot)
                guard self.records[Int(slot)].isInUse, self.records[Int(slot)].generation == generation else { return }
                if count < self.scratch.capacity { return }
            }
        }

        /// Hands `input` to the engine with the connection's decoder (kept only while a frame or message is
        /// partly received).
        private func consume(_ input: inout ByteBuffer, slot: UInt32) {
            let id = self.id(slot)
            var decoder =
                self.activeDecoders.removeValue(forKey: slot)
                ?? self.makeDecoder(compressed: self.records[Int(slot)].deflateWindowBits != 0)
            var connection = Connection(transport: self, slot: slot, generation: id.generation)
            ConnectionEngine.received(
                &input,
                decoder: &decoder,
                id: id,
                shard: self.shard,
                hub: self.hub,
                connection: &connection
            )
            if !connection.isReleased, !decoder.isIdle || decoder.bufferedCapacity > 0 {
                self.activeDecoders[slot] = decoder
            }
        }

        private func makeDecoder(compressed: Bool) -> InboundFrameDecoder {
            var decoder = InboundFrameDecoder(maxMessageBytes: self.shard.settings.maxMessageBytes)
            // RSV1 marks a compressed message (RFC 7692 §6).
            if compressed { decoder.allowedReservedBits = 0x40 }
            return decoder
        }

        /// Releases everything the connection holds, exactly once.
        func connectionGone(slot: UInt32) {
            let index = Int(slot)
            guard self.records[index].isInUse else { return }
            let id = self.id(slot)
            Glibc.close(self.records[index].fd)
            if var decoder = self.activeDecoders.removeValue(forKey: slot) {
                decoder.releaseBuffers(to: self.shard.pool)
            }
            let reason = self.records[index].closeReason
            let places = self.ownPlaces.removeValue(forKey: slot) ?? self.sharedPlaces
            precondition(places != nil, "Internal inconsistency: a connection without admission places")
            self.grants.removeValue(forKey: slot)
            self.waitingPongs.removeValue(forKey: slot)
            self.records[index] = EpollConnection()
            ConnectionEngine.released(id, reason: reason, places: places, shard: self.shard, hub: self.hub)
        }
    }

#endif
