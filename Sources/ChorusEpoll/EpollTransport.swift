#if os(Linux)
    import CEpoll
    import ChorusCore
    import Glibc
    import NIOCore

    /// Settings of the epoll transport that are not the shard's.
    package struct EpollTransportSettings: Sendable {
        /// Requests slower than this to send a complete head are closed.
        package var handshakeTimeout: TimeAmount = .seconds(10)
        /// A request head larger than this is handed to the HTTP side, which refuses it (431).
        package var maxHeadBytes = 16 * 1024
        /// SO_SNDBUF for accepted sockets, or nil for the kernel's default.
        package var socketSendBufferBytes: Int?
        /// Pending outbound bytes past which a connection counts as not writable (slow consumer); it turns
        /// writable again below half of it.
        package var maxPendingBytes = 1024 * 1024
        /// Connections one loop is expected to hold at most: the slab and the records are reserved for that
        /// many at start (virtual memory; only pages in use become resident).
        package var expectedConnections = 0

        package init() {}
    }

    /// One epoll loop's connections: the listening socket (on the first loop only), requests being read, and
    /// upgraded connections, whose records sit in an array beside the shard's slab. It is the `ConnectionSink` of
    /// all of them.
    ///
    /// Loop-confined: created, used and dropped on its `EpollEventLoop`.
    package final class EpollTransport: EpollReadinessHandler, ConnectionSink {
        private enum Kind: UInt64 {
            case listener = 0
            case handshake = 1
            case connection = 2
        }

        private let loop: EpollEventLoop
        private let hub: Hub
        private let shard: Shard
        private let frontDoor: any EpollFrontDoor
        private let settings: EpollTransportSettings
        private var listeners: [Int32] = []
        /// Every loop of the transport, this one included: accepted sockets go to them in turn.
        private var peers: [EpollEventLoop] = []
        private var nextPeer = 0
        private var acceptPaused = false
        /// Requests still being read, by socket, with the buffer holding what arrived so far (nil until a
        /// read leaves an incomplete head).
        private var handshakes: [Int32: Handshake] = [:]
        /// `@exclusivity(unchecked)` here and on the corking state below: touched several times per delivery,
        /// only on the loop, never in overlapping accesses; the runtime check was a measurable share of the
        /// user time per delivery.
        @exclusivity(unchecked) private var records: [EpollConnection] = []
        /// Decoders of connections with a partly received frame or message, by slot. An idle decoder holds no
        /// state beyond the loop's settings, so idle connections keep none.
        private var activeDecoders: [UInt32: InboundFrameDecoder] = [:]
        /// Deadlines of close handshakes the server started (key: slot and generation), checked on each `tick`: no
        /// timer object per connection. (Requests still being read keep their deadline in `handshakes`, which the
        /// tick sweeps: a ring would hold an entry per connection accepted in the last handshake timeout.)
        private var closeDeadlines = DeadlineQueue()
        /// The answer to the latest ping of connections whose queue was not empty when it came, by slot: written
        /// when the queue drains, replaced by a newer ping's (so a peer that pings and never reads holds one pong).
        private var waitingPongs: [UInt32: ByteBuffer] = [:]
        /// Token permissions of connections that have a token (none without tokens), by slot.
        private var grants: [UInt32: ChannelGrant] = [:]
        /// The admission places of connections that hold one of their own (only with a per-address limit), by slot;
        /// the others hold `sharedPlaces`, the same for all.
        private var ownPlaces: [UInt32: AdmissionPlaces] = [:]
        private var sharedPlaces: AdmissionPlaces?
        /// One read buffer for every socket of the loop.
        private var scratch: ByteBuffer
        /// The loop's one buffer for 101 answers: each is written into it and sent at once, so an upgrade
        /// allocates no buffer of its own (only what the kernel does not take is copied and queued).
        private var upgradeResponse: ByteBuffer
        /// Frames given to connections this turn, written when the loop is about to wait.
        @exclusivity(unchecked) private var corked = CorkedWrites()
        /// True while `flushWrites` runs (writing never corks more, but a flush must not start inside one).
        private var isFlushing = false
        /// Scratch for `uncork`: one connection's corked frames, and their addresses and lengths for sendmsg.
        @exclusivity(unchecked) private var chain: [UInt32] = []
        @exclusivity(unchecked) private var vectorBases: [UnsafeRawPointer?] = []
        @exclusivity(unchecked) private var vectorLengths: [UInt] = []
        private let allocator = ByteBufferAllocator()

        private struct Handshake {
            var buffer: ByteBuffer?
            var deadline: NIODeadline
        }

        package init(loop: EpollEventLoop, hub: Hub, frontDoor: any EpollFrontDoor, settings: EpollTransportSettings) {
            loop.preconditionInEventLoop()
            self.loop = loop
            self.hub = hub
            self.shard = hub.shard(on: loop)
            self.frontDoor = frontDoor
            self.settings = settings
            self.scratch = ByteBufferAllocator().buffer(capacity: 65536)
            self.upgradeResponse = ByteBufferAllocator().buffer(capacity: 256)
            if settings.expectedConnections > 0 {
                self.shard.reserveConnections(settings.expectedConnections)
                self.records.reserveCapacity(settings.expectedConnections)
            }
            let tick = Self.tickInterval(
                handshakeTimeout: settings.handshakeTimeout,
                closeTimeout: self.shard.settings.closeTimeout
            )
            // Strong, not weak: the loop drops its tick when it exits, which ends the cycle. A weak reference would
            // give the transport a side table, and every retain of it (one per delivery: it is each connection's
            // sink) would take the runtime's slow path.
            loop.startTicking(every: tick) { self.tick() }
            // Every connection of this loop has this transport as its sink (let go in `loopWillExit`).
            self.shard.useSharedSink(self)
        }

        /// How often deadlines are checked: a timer fires at most this late. An eighth of the shorter timeout,
        /// between 10 ms and 250 ms (4 wake-ups a second for an idle loop with the defaults).
        static func tickInterval(handshakeTimeout: TimeAmount, closeTimeout: TimeAmount) -> TimeAmount {
            let shorter = min(handshakeTimeout.nanoseconds, closeTimeout.nanoseconds)
            return .nanoseconds(min(max(shorter / 8, 10_000_000), 250_000_000))
        }

        /// Starts accepting on `fd` (a bound, listening, non-blocking socket this transport now owns), handing
        /// the accepted sockets to `peers` in turn (the loops of all transports, this one's included).
        package func listen(on fd: Int32, peers: [EpollEventLoop]) {
            self.peers = peers
            self.listeners.append(fd)
            _ = self.loop.register(fd, events: CHORUS_EPOLLIN, token: Self.token(.listener, fd: fd))
        }

        /// Stops accepting: closes the listening sockets (graceful shutdown).
        package func stopListening() {
            for fd in self.listeners { Glibc.close(fd) }
            self.listeners = []
        }

        package func loopWillExit() {
            self.flushWrites()
            self.stopListening()
            for fd in self.handshakes.keys { Glibc.close(fd) }
            self.handshakes = [:]
            for slot in self.records.indices where self.records[slot].isInUse {
                self.connectionGone(slot: UInt32(slot))
            }
            self.shard.useSharedSink(nil)
        }

        // MARK: Readiness

        private static func token(_ kind: Kind, fd: Int32) -> UInt64 {
            kind.rawValue << 62 | UInt64(UInt32(bitPattern: fd))
        }

        private static func connectionToken(slot: UInt32, generation: UInt32) -> UInt64 {
            Kind.connection.rawValue << 62 | UInt64(generation & 0x3FFF_FFFF) << 32 | UInt64(slot)
        }

        package func ready(token: UInt64, events: UInt32) {
            switch Kind(rawValue: token >> 62) {
            case .listener:
                self.acceptAll(from: Int32(bitPattern: UInt32(truncatingIfNeeded: token)))
            case .handshake:
                self.readHandshake(fd: Int32(bitPattern: UInt32(truncatingIfNeeded: token)))
            case .connection:
                let slot = UInt32(truncatingIfNeeded: token)
                let generation = UInt32(truncatingIfNeeded: token >> 32) & 0x3FFF_FFFF
                guard Int(slot) < self.records.count, self.records[Int(slot)].isInUse,
                    self.records[Int(slot)].generation & 0x3FFF_FFFF == generation
                else { return }
                if events & CHORUS_EPOLLOUT != 0 { self.flushQueue(slot: slot) }
                if events & (CHORUS_EPOLLIN | CHORUS_EPOLLRDHUP | CHORUS_EPOLLHUP | CHORUS_EPOLLERR) != 0,
                    self.records[Int(slot)].isInUse
                {
                    self.readConnection(slot: slot)
                }
            case nil:
                break
            }
        }

        // MARK: Accepting

        private func acceptAll(from listener: Int32) {
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
            self.handshakes[fd] = Handshake(buffer: nil, deadline: .now() + self.settings.handshakeTimeout)
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

        // MARK: Handshakes

        /// Reads a request head into the loop's scratch buffer. Only a head that does not arrive whole is kept
        /// (in a buffer of its own) until the next read; a complete one is parsed where it was read.
        private func readHandshake(fd: Int32) {
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

        /// Closes requests and close handshakes whose deadline passed. The requests being read are few (a
        /// request is read in one or two turns), so they are swept; a close deadline whose connection already went
        /// is skipped (a reused slot has another generation).
        private func tick() {
            let now = NIODeadline.now()
            if self.handshakes.contains(where: { $0.value.deadline <= now }) {
                for (fd, handshake) in self.handshakes where handshake.deadline <= now {
                    // A partial head's buffer is its own (not the pool's): it goes with the entry.
                    self.handshakes[fd] = nil
                    Glibc.close(fd)
                    self.frontDoor.handshakeTimedOut()
                }
            }
            while let key = self.closeDeadlines.popDue(now: now) {
                let slot = UInt32(truncatingIfNeeded: key)
                let generation = UInt32(truncatingIfNeeded: key >> 32)
                guard Int(slot) < self.records.count, self.records[Int(slot)].isInUse,
                    self.records[Int(slot)].generation == generation
                else { continue }
                self.connectionGone(slot: slot)
            }
        }

        // MARK: Upgraded connections

        private func upgrade(fd: Int32, ticket: AdmissionTicket, leftover: inout ByteBuffer) {
            let id = self.shard.register(self)
            let slot = Int(id.index)
            while self.records.count <= slot {
                self.records.append(EpollConnection())
            }
            var record = EpollConnection()
            record.fd = fd
            record.generation = id.generation
            record.wireProtocol = ticket.wireProtocol
            if let grant = ticket.grant { self.grants[id.index] = grant }
            if ticket.places.own != nil {
                self.ownPlaces[id.index] = ticket.places
            } else if self.sharedPlaces == nil {
                self.sharedPlaces = ticket.places
            }
            if let deflate = ticket.deflate {
                record.deflateWindowBits = deflate.serverMaxWindowBits
                self.shard.setDeflateWindowBits(id, deflate.serverMaxWindowBits)
                self.hub.compressionConnectionOpened()
            }
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
            for channel in ticket.channels {
                // The upgrade policy already checked the count against the limit.
                _ = self.shard.subscribe(id, to: channel)
            }
            if let expiry = ticket.tokenExpiry { self.shard.setTokenExpiry(id, expiry) }
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
        private static func read(_ fd: Int32, into buffer: inout ByteBuffer) -> Int {
            var result = 0
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { space in
                result = Glibc.read(fd, space.baseAddress, space.count)
                return max(0, result)
            }
            return result
        }

        private func id(_ slot: UInt32) -> ConnectionID {
            ConnectionID(index: slot, generation: self.records[Int(slot)].generation)
        }

        private func readConnection(slot: UInt32) {
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

        // MARK: Writing

        /// Corks `bytes` for the end of the loop's turn if nothing is queued, or queues it behind what is
        /// (without copying either way).
        private func send(_ bytes: ByteBuffer, slot: UInt32) {
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
        private func uncork(slot: UInt32) {
            self.uncorkFrames(slot: slot)
            let index = Int(slot)
            guard self.records[index].isInUse else { return }
            self.records[index].corkedPongs = 0
            // A pong that waits behind a queue is written when the queue drains (`flushQueue`).
            guard self.records[index].pending == nil, self.records[index].machine.isOpen,
                let pong = self.waitingPongs.removeValue(forKey: slot)
            else { return }
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

        private enum WriteOutcome {
            case wrote(Int)
            /// The kernel took nothing (EAGAIN): queue and wait for EPOLLOUT.
            case wouldBlock
            /// The peer is gone (EPIPE, ECONNRESET, ...): the connection was released.
            case gone
        }

        /// One write system call (`call`, retried on EINTR); on a hard error the connection is released.
        private func writeSome(fd: Int32, slot: UInt32, _ call: (Int32) -> Int) -> WriteOutcome {
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

        private func enqueue(_ bytes: ByteBuffer, slot: UInt32) {
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
        private func flushQueue(slot: UInt32) {
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
            } else if let pong = self.waitingPongs.removeValue(forKey: slot), self.records[index].machine.isOpen {
                self.send(pong, slot: slot)
            }
        }

        /// Sends a final frame and closes the socket once it is written.
        private func sendThenClose(_ bytes: ByteBuffer, slot: UInt32) {
            self.send(bytes, slot: slot)
            self.uncork(slot: slot)
            guard self.records[Int(slot)].isInUse else { return }
            if self.records[Int(slot)].pending == nil {
                self.connectionGone(slot: slot)
            } else {
                self.records[Int(slot)].closeWhenFlushed = true
            }
        }

        /// Releases everything the connection holds, exactly once.
        private func connectionGone(slot: UInt32) {
            let index = Int(slot)
            guard self.records[index].isInUse else { return }
            let id = self.id(slot)
            Glibc.close(self.records[index].fd)
            if var decoder = self.activeDecoders.removeValue(forKey: slot) {
                decoder.releaseBuffers(to: self.shard.pool)
            }
            let reason = self.records[index].closeReason ?? .error
            let compressed = self.records[index].deflateWindowBits != 0
            let places = self.ownPlaces.removeValue(forKey: slot) ?? self.sharedPlaces
            self.grants.removeValue(forKey: slot)
            self.waitingPongs.removeValue(forKey: slot)
            self.records[index] = EpollConnection()
            self.shard.release(id, reason: reason)
            if compressed { self.hub.compressionConnectionClosed() }
            guard let places else { preconditionFailure("Internal inconsistency: a connection without admission places") }
            places.release()
        }

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
        /// actions out (corked or queued writes, a close deadline, release).
        private struct Connection: ConnectionActions {
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

            var wireProtocol: WireProtocol { self.transport.records[Int(self.slot)].wireProtocol }
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

            func write(_ frame: ByteBuffer) {
                self.transport.send(frame, slot: self.slot)
            }

            func awaitPeerClose() {
                let index = Int(self.slot)
                guard self.transport.records[index].isInUse else { return }
                // The entry is skipped if the connection goes first.
                let key = UInt64(self.transport.records[index].generation) << 32 | UInt64(self.slot)
                self.transport.closeDeadlines.add(key, deadline: .now() + self.transport.shard.settings.closeTimeout)
            }

            func writeThenCloseSocket(_ frame: ByteBuffer) {
                self.transport.sendThenClose(frame, slot: self.slot)
            }

            func closeSocket() {
                self.transport.connectionGone(slot: self.slot)
            }
        }
    }

    @available(*, unavailable)
    extension EpollTransport: Sendable {}

#endif
