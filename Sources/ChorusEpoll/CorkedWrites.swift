#if os(Linux)
    import NIOCore

    /// The frames a loop's connections were given during one turn of the loop, written at the end of the turn
    /// with one system call per connection instead of one per frame ("corking").
    ///
    /// A publish's fan-out pays the kernel's per-send cost once per subscriber; when publishes arrive faster
    /// than one send per subscriber per publish can keep up with, several of them are waiting by the next
    /// turn, and corking writes them to each subscriber together, so the cost per delivery falls exactly when
    /// the loop is busiest. Nothing is copied and nothing is allocated per connection once the arrays have
    /// grown: a distinct frame is held once for the turn, and each connection's corked frames are a chain of
    /// 8-byte entries whose tail the connection's record holds (`EpollConnection.corkTail`).
    ///
    /// Loop-confined, like the transport that owns it.
    struct CorkedWrites {
        private struct Entry {
            /// Index into `frames`.
            var frame: UInt32
            /// The previous entry of the same connection, as index + 1; 0 for the first.
            var previous: UInt32
        }

        /// Each distinct frame of the turn, holding its storage until the end of the turn.
        private var frames: [ByteBuffer] = []
        /// The readable bytes of `frames[i]`, taken once; valid while `frames` holds the buffer (a held frame is
        /// never mutated).
        private var bases: [UnsafeRawPointer?] = []
        private var lengths: [UInt] = []
        private var entries: [Entry] = []
        /// Connections with something corked, in the order they were first given something this turn. A slot may
        /// appear twice if it was written out early (a close) and given more; its record's tail says if anything
        /// is left.
        private(set) var slots: [UInt32] = []

        /// Beyond this many entries in a turn, the arrays' capacity is given back at its end: a fan-out to 18,000
        /// idle subscribers would otherwise keep ~216 KB (12 B per connection) resident for good. Up to this many,
        /// the capacity (at most ~200 KB) is kept, so ordinary turns allocate nothing.
        private static let retainedEntries = 1 << 14

        var isEmpty: Bool { self.slots.isEmpty }

        /// Deliveries corked this turn (one per frame per connection).
        var deliveries: Int { self.entries.count }
        /// Bytes corked this turn, counting a shared frame once per connection it was given to.
        private(set) var deliveredBytes = 0

        /// Corks `bytes` for `slot` after the chain ending at `tail` (0: none yet); returns the new tail.
        mutating func add(_ bytes: ByteBuffer, slot: UInt32, after tail: UInt32) -> UInt32 {
            if tail == 0 { self.slots.append(slot) }
            let frame = self.index(of: bytes)
            self.entries.append(Entry(frame: frame, previous: tail))
            self.deliveredBytes += bytes.readableBytes
            return UInt32(self.entries.count)
        }

        /// The frame indices of the chain ending at `tail`, first corked first, into `chain` (emptied first).
        func chain(endingAt tail: UInt32, into chain: inout [UInt32]) {
            chain.removeAll(keepingCapacity: true)
            var next = tail
            while next != 0 {
                let entry = self.entries[Int(next - 1)]
                chain.append(entry.frame)
                next = entry.previous
            }
            chain.reverse()
        }

        /// The frame of the chain ending at `tail` when it holds exactly one (the usual case when the loop keeps
        /// up), else nil: lets the caller send it without building the chain.
        func soleFrame(endingAt tail: UInt32) -> UInt32? {
            let entry = self.entries[Int(tail - 1)]
            return entry.previous == 0 ? entry.frame : nil
        }

        /// The first readable byte of frame `index` (valid until `reset`).
        func base(_ index: UInt32) -> UnsafeRawPointer? { self.bases[Int(index)] }

        /// The corked frame `index` (a reference to its shared storage).
        func frame(_ index: UInt32) -> ByteBuffer { self.frames[Int(index)] }

        /// The byte count of frame `index` (without touching the buffer's reference count).
        func length(_ index: UInt32) -> Int { Int(self.lengths[Int(index)]) }

        /// Calls `body` with the base addresses and lengths of `chain`'s frames, the first one advanced by `skip`
        /// bytes.
        func withVectors<Result>(
            _ chain: ArraySlice<UInt32>,
            skippingFirst skip: Int,
            into bases: inout [UnsafeRawPointer?],
            _ lengths: inout [UInt],
            _ body: (UnsafePointer<UnsafeRawPointer?>, UnsafePointer<UInt>, Int32) -> Result
        ) -> Result {
            bases.removeAll(keepingCapacity: true)
            lengths.removeAll(keepingCapacity: true)
            for index in chain {
                bases.append(self.bases[Int(index)])
                lengths.append(self.lengths[Int(index)])
            }
            if skip > 0 {
                bases[0] = bases[0].map { $0 + skip }
                lengths[0] -= UInt(skip)
            }
            return bases.withUnsafeBufferPointer { bases in
                lengths.withUnsafeBufferPointer { lengths in
                    body(bases.baseAddress!, lengths.baseAddress!, Int32(chain.count))
                }
            }
        }

        /// Forgets the turn's frames and chains (every slot's tail must have been cleared).
        mutating func reset() {
            let keep = self.entries.count <= Self.retainedEntries
            self.frames.removeAll(keepingCapacity: keep)
            self.bases.removeAll(keepingCapacity: keep)
            self.lengths.removeAll(keepingCapacity: keep)
            self.entries.removeAll(keepingCapacity: keep)
            self.slots.removeAll(keepingCapacity: keep)
            self.deliveredBytes = 0
        }

        /// The index of `bytes` among the turn's frames, adding it if new. A fan-out gives the same frame to
        /// subscriber after subscriber, and compressed subscribers may alternate with plain ones, so the last
        /// few frames are compared by storage address (a held frame's address cannot be reused this turn).
        private mutating func index(of bytes: ByteBuffer) -> UInt32 {
            let base = bytes.withUnsafeReadableBytes { UnsafeRawPointer($0.baseAddress) }
            let length = UInt(bytes.readableBytes)
            var index = self.frames.count - 1
            let oldest = max(0, self.frames.count - 4)
            while index >= oldest {
                if self.bases[index] == base && self.lengths[index] == length { return UInt32(index) }
                index -= 1
            }
            self.frames.append(bytes)
            self.bases.append(base)
            self.lengths.append(length)
            return UInt32(self.frames.count - 1)
        }
    }
#endif
