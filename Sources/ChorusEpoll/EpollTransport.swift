#if os(Linux)
    import CEpoll
    import ChorusCore
    import Glibc
    import NIOCore

    /// Settings of the epoll transport that are not the shard's.
    package struct EpollTransportSettings: Sendable {
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
        enum Kind: UInt64 {
            case listener = 0
            case handshake = 1
            case connection = 2
        }

        let loop: EpollEventLoop
        let hub: Hub
        let shard: Shard
        let frontDoor: any EpollFrontDoor
        let settings: EpollTransportSettings
        var listeners: [Int32] = []
        /// Every loop of the transport, this one included: accepted sockets go to them in turn.
        var peers: [EpollEventLoop] = []
        var nextPeer = 0
        var acceptPaused = false
        /// Requests still being read, by socket, with the buffer holding what arrived so far (nil until a
        /// read leaves an incomplete head).
        var handshakes: [Int32: Handshake] = [:]
        /// `@exclusivity(unchecked)` here and on the corking state below: touched several times per delivery,
        /// only on the loop, never in overlapping accesses; the runtime check was a measurable share of the
        /// user time per delivery.
        @exclusivity(unchecked) var records: [EpollConnection] = []
        /// Decoders of connections with a partly received frame or message, by slot. An idle decoder holds no
        /// state beyond the loop's settings, so idle connections keep none.
        var activeDecoders: [UInt32: InboundFrameDecoder] = [:]
        /// The answer to the latest ping of connections whose queue was not empty when it came, by slot: written
        /// when the queue drains, replaced by a newer ping's (so a peer that pings and never reads holds one pong).
        /// Read on every `uncork` (one per connection per turn), so unchecked like the corking state below.
        @exclusivity(unchecked) var waitingPongs: [UInt32: ByteBuffer] = [:]
        /// Token permissions of connections that have a token (none without tokens), by slot.
        var grants: [UInt32: ChannelGrant] = [:]
        /// The admission places of connections that hold one of their own (only with a per-address limit), by slot;
        /// the others hold `sharedPlaces`, the same for all.
        var ownPlaces: [UInt32: AdmissionPlaces] = [:]
        var sharedPlaces: AdmissionPlaces?
        /// One read buffer for every socket of the loop.
        var scratch: ByteBuffer
        /// The loop's one buffer for 101 answers: each is written into it and sent at once, so an upgrade
        /// allocates no buffer of its own (only what the kernel does not take is copied and queued).
        var upgradeResponse: ByteBuffer
        /// Frames given to connections this turn, written when the loop is about to wait.
        @exclusivity(unchecked) var corked = CorkedWrites()
        /// True while `flushWrites` runs (writing never corks more, but a flush must not start inside one).
        var isFlushing = false
        /// Scratch for `uncork`: one connection's corked frames, and their addresses and lengths for sendmsg.
        @exclusivity(unchecked) var chain: [UInt32] = []
        @exclusivity(unchecked) var vectorBases: [UnsafeRawPointer?] = []
        @exclusivity(unchecked) var vectorLengths: [UInt] = []
        let allocator = ByteBufferAllocator()

        struct Handshake {
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
            // Strong, not weak: the loop drops its tick when it exits, which ends the cycle. A weak reference would
            // give the transport a side table, and every retain of it (one per delivery: it is each connection's
            // sink) would take the runtime's slow path.
            loop.startTicking(every: self.shard.deadlines.tickInterval) { self.tick() }
            // Every connection of this loop has this transport as its sink (let go in `loopWillExit`).
            self.shard.useSharedSink(self)
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

        static func token(_ kind: Kind, fd: Int32) -> UInt64 {
            kind.rawValue << 62 | UInt64(UInt32(bitPattern: fd))
        }

        static func connectionToken(slot: UInt32, generation: UInt32) -> UInt64 {
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

        // MARK: Deadlines

        /// The loop's one periodic tick: closes the requests still being read whose handshake timeout passed (few:
        /// a request is read in one or two turns, so they are swept; a ring would hold an entry per connection
        /// accepted in the last timeout), then runs the shard's deadlines (close handshakes, liveness, tokens).
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
            self.shard.runDueDeadlines(now: now)
        }
    }

    @available(*, unavailable)
    extension EpollTransport: Sendable {}

#endif
