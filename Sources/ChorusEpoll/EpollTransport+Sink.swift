#if os(Linux)
    import ChorusCore
    import NIOCore

    /// The `ConnectionSink` of every connection of the loop, and the connection as `ConnectionEngine` sees it.
    extension EpollTransport {
        // MARK: ConnectionSink

        package func write(_ bytes: ByteBuffer, slot: UInt32) {
            self.send(bytes, slot: slot)
        }

        package func flush(slot: UInt32) {
            // Corked bytes go out when the loop's turn ends (`flushWrites`), queued ones on EPOLLOUT.
        }

        package func close(slot: UInt32, code: CloseCode, reason: String, because cause: CloseReason) {
            guard self.records[Int(slot)].isInUse else { return }
            var connection = Connection(transport: self, slot: slot, generation: self.records[Int(slot)].generation)
            ConnectionEngine.close(
                code: code,
                reason: reason,
                because: cause,
                id: self.id(slot),
                shard: self.shard,
                connection: &connection
            )
        }

        package func closeTimedOut(slot: UInt32) {
            guard self.records[Int(slot)].isInUse else { return }
            var connection = Connection(transport: self, slot: slot, generation: self.records[Int(slot)].generation)
            ConnectionEngine.closeTimedOut(connection: &connection)
        }

        package func pendingOutboundBytes(slot: UInt32) -> Int {
            Int(self.records[Int(slot)].pendingBytes)
        }

        package func bufferedInboundBytes(slot: UInt32) -> Int {
            self.activeDecoders[slot]?.bufferedCapacity ?? 0
        }

        package func recordBytes(slot: UInt32) -> Int {
            MemoryLayout<EpollConnection>.stride
        }

        /// One connection as `ConnectionEngine` sees it: its record and side tables, and this transport to carry
        /// actions out (corked or queued writes, release).
        struct Connection: ConnectionActions {
            let transport: EpollTransport
            let slot: UInt32
            let generation: UInt32

            var isReleased: Bool {
                !self.transport.records[Int(self.slot)].isInUse
                    || self.transport.records[Int(self.slot)].generation != self.generation
            }

            var machine: WebSocketConnectionStateMachine {
                get { self.transport.records[Int(self.slot)].machine }
                nonmutating set { self.transport.records[Int(self.slot)].machine = newValue }
            }

            var closeReason: CloseReason? {
                get { self.transport.records[Int(self.slot)].closeReason }
                nonmutating set { self.transport.records[Int(self.slot)].closeReason = newValue }
            }

            var grant: ChannelGrant? { self.transport.grants[self.slot] }
            var deflateWindowBits: UInt8 { self.transport.records[Int(self.slot)].deflateWindowBits }
            var allocator: ByteBufferAllocator { self.transport.allocator }

            /// A pong is "unwritten" while the queue it would wait behind has bytes, or once this turn has corked a
            /// few for the connection already (they are written when the turn ends).
            var pongMustWait: Bool {
                self.transport.records[Int(self.slot)].pending != nil
                    || self.transport.records[Int(self.slot)].corkedPongs >= EpollTransport.maxCorkedPongs
            }

            func writePong(_ pong: ByteBuffer) {
                self.transport.records[Int(self.slot)].corkedPongs += 1
                self.transport.send(pong, slot: self.slot)
            }

            func holdPong(_ pong: ByteBuffer) {
                self.transport.waitingPongs[self.slot] = pong
            }

            func takeWaitingPong() -> ByteBuffer? {
                self.transport.waitingPongs.removeValue(forKey: self.slot)
            }

            func write(_ frame: ByteBuffer) {
                self.transport.send(frame, slot: self.slot)
            }

            func writeThenCloseSocket(_ frame: ByteBuffer) {
                self.transport.sendThenClose(frame, slot: self.slot)
            }

            func closeSocket() {
                self.transport.connectionGone(slot: self.slot)
            }
        }
    }

#endif
