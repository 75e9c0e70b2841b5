import NIOCore

/// Delivery: one shared frame written to every subscriber, with the slow-consumer policy and
/// permessage-deflate's compressed forms.
extension Shard {
    // MARK: Delivery

    /// Writes the shared frame to every subscriber of `channel` on this shard (a raw-protocol message without a
    /// stream position: tests and the benchmarks' gates). Returns the number of subscribers it was written to.
    package func deliver(_ frame: Frame, compressed: CompressedFrames? = nil, to channel: ChannelName) -> Int {
        self.deliver(Delivery(native: Rendition(plain: frame, compressed: compressed)), to: channel)
    }

    /// Writes the message to every subscriber of `channel` on this shard, each in the rendition of its wire protocol,
    /// and flushes each once. Returns the number of subscribers it was written to.
    ///
    /// Per subscriber this does no allocation, no lookup and no logging: each rendition's storage is shared. With
    /// compressed forms, subscribers that negotiated permessage-deflate get the compressed frame for their window
    /// size instead, made at most once per message (see `CompressedFrames`) and shared the same way.
    package func deliver(_ delivery: Delivery, to channel: ChannelName) -> Int {
        self.eventLoop.preconditionInEventLoop()
        guard let slot = self.topicSlots[channel] else { return 0 }
        self.isIterating = true
        var native = FrameSelection(delivery.native)
        var chorusV1 = delivery.chorusV1.map { FrameSelection($0) }
        var tally = Tally()
        let subscribers = self.topics[Int(slot)]!.subscribers
        let excluded = delivery.excluded.flatMap { self.slab.isValid($0) ? $0.index : nil } ?? .max
        // Held here for the whole loop and lent to each write: read from a selection (inout) per subscriber, it
        // would be retained and released per subscriber; so would the sink, bound per subscriber.
        let plain = delivery.native.plain.bytes
        var plainV1 = delivery.chorusV1?.plain.bytes
        if let shared = self.sharedSink {
            for index in subscribers where self.isDeliverable(index) && index != excluded {
                if self.slab[index: index].wireProtocol == .native {
                    tally.add(self.deliver(&native, plain, index: index, through: shared))
                } else {
                    tally.add(self.deliverChorusV1(delivery, channel, &chorusV1, &plainV1, index: index, through: shared))
                }
            }
        } else {
            for index in subscribers where self.isDeliverable(index) && index != excluded {
                let sink = self.slab[index: index].sink!
                if self.slab[index: index].wireProtocol == .native {
                    tally.add(self.deliver(&native, plain, index: index, through: sink))
                } else {
                    tally.add(self.deliverChorusV1(delivery, channel, &chorusV1, &plainV1, index: index, through: sink))
                }
            }
        }
        self.statistics.deliveries += tally.delivered
        self.topics[Int(slot)]!.recentDeliveries &+= tally.delivered
        self.statistics.deliveredBytes += native.bytes + (chorusV1?.bytes ?? 0)
        self.statistics.compressedDeliveries += native.compressedDeliveries + (chorusV1?.compressedDeliveries ?? 0)
        self.statistics.slowConsumerDrops += tally.dropped
        self.finishIterating()
        return tally.delivered
    }

    /// One `chorus.v1` subscriber's share of a delivery (see `deliver(_:to:)`): its rendition made here first if the
    /// hub sent none.
    @inline(__always)
    private func deliverChorusV1(
        _ delivery: Delivery,
        _ channel: ChannelName,
        _ selection: inout FrameSelection?,
        _ plain: inout ByteBuffer?,
        index: UInt32,
        through sink: any ConnectionSink
    ) -> DeliveryOutcome {
        if selection == nil {
            let rendition = self.chorusV1Rendition(of: delivery, on: channel)
            selection = FrameSelection(rendition)
            plain = rendition.plain.bytes
        }
        if let resync = delivery.resync, self.slab[index: index].isWritable { sink.write(resync, slot: index) }
        return self.deliver(&selection!, plain!, index: index, through: sink)
    }

    /// The `chorus.v1` rendition of a message the hub sent without one (no connection spoke `chorus.v1` when it was
    /// published): encoded here, once per shard, and counted as an encoded frame.
    private func chorusV1Rendition(of delivery: Delivery, on channel: ChannelName) -> Rendition {
        let native = delivery.native
        let position = delivery.position ?? StreamPosition(offset: 0, epoch: Self.unknownEpoch)
        let (frame, _) = ChorusV1Envelope.frame(
            native.plain.payload,
            opcode: native.plain.opcode,
            isJSON: delivery.isJSON,
            channel: channel,
            position: position
        )
        self.statistics.framesEncoded += 1
        return Rendition(plain: frame, compressed: native.compressed.map { _ in CompressedFrames(plain: frame) })
    }

    /// The epoch of a message that has no stream position (only tests deliver such messages).
    private static let unknownEpoch = Epoch("none")!

    /// Writes `frame` to one connection (the echo endpoint's answer) and flushes it, with the same writability
    /// check and slow-consumer policy as a channel delivery. Returns true if it was written. An echo is not a
    /// published message, so it is not counted in `deliveries` (which, against frames encoded, is buffer reuse);
    /// a slow consumer's drops and disconnects are counted as usual.
    @discardableResult
    package func deliver(_ frame: Frame, compressed: CompressedFrames? = nil, toConnection id: ConnectionID) -> Bool {
        self.eventLoop.preconditionInEventLoop()
        guard self.slab.isValid(id), self.isDeliverable(id.index) else { return false }
        self.isIterating = true
        var selection = FrameSelection(Rendition(plain: frame, compressed: compressed))
        let sink = self.sharedSink ?? self.slab[index: id.index].sink!
        let outcome = self.deliver(&selection, frame.bytes, index: id.index, through: sink)
        if outcome == .dropped { self.statistics.slowConsumerDrops += 1 }
        self.finishIterating()
        return outcome == .delivered
    }

    private enum DeliveryOutcome {
        case delivered
        case dropped
        /// Just disconnected as a slow consumer.
        case skipped
    }

    /// A fan-out's counts of delivered and dropped messages.
    private struct Tally {
        var delivered = 0
        var dropped = 0

        @inline(__always)
        mutating func add(_ outcome: DeliveryOutcome) {
            switch outcome {
            case .delivered: self.delivered += 1
            case .dropped: self.dropped += 1
            case .skipped: break
            }
        }
    }

    /// The frames of one rendition of a delivery: the plain one, the message's shared compressed forms if any, and
    /// the ones this shard already fetched (so the shared lock is taken once per window size, not per subscriber),
    /// with the bytes written from them.
    private struct FrameSelection {
        let plain: Frame
        let compressed: CompressedFrames?
        var fetched = WindowBitsSlots<Frame>()
        var compressedDeliveries = 0
        var bytes = 0

        init(_ rendition: Rendition) {
            self.plain = rendition.plain
            self.compressed = rendition.compressed
        }
    }

    /// Whether the connection in block `index` takes deliveries: in use and not closing. Field by field, not a copy
    /// of the whole block (which retains its sink and subscription set).
    @inline(__always)
    private func isDeliverable(_ index: UInt32) -> Bool {
        !self.slab[index: index].isClosing && self.slab[index: index].isInUse
    }

    /// One deliverable connection's share of a delivery, through its sink; the caller adds up the shard counters.
    /// `plain` is `selection.plain.bytes`, lent by the caller.
    @inline(__always)
    private func deliver(
        _ selection: inout FrameSelection,
        _ plain: ByteBuffer,
        index: UInt32,
        through sink: any ConnectionSink
    ) -> DeliveryOutcome {
        if self.slab[index: index].isWritable {
            let windowBits = self.slab[index: index].deflateWindowBits
            if windowBits != 0, let compressed = selection.compressed {
                let frame = self.frame(for: windowBits, from: compressed, &selection)
                sink.write(frame.bytes, slot: index)
                selection.bytes += frame.wireLength
                if frame.isCompressed { selection.compressedDeliveries += 1 }
            } else {
                sink.write(plain, slot: index)
                selection.bytes += plain.readableBytes
            }
            sink.flush(slot: index)
            self.slab[index: index].deliveredMessages &+= 1
            return .delivered
        }
        switch self.settings.slowConsumerPolicy {
        case .drop:
            self.slab[index: index].droppedMessages &+= 1
            return .dropped
        case .disconnect:
            self.slab[index: index].isClosing = true
            self.statistics.slowConsumerDisconnects += 1
            sink.close(slot: index, code: .policyViolation, reason: "slow consumer", because: .slowConsumer)
            return .skipped
        }
    }

    private func frame(
        for windowBits: UInt8,
        from compressed: CompressedFrames,
        _ selection: inout FrameSelection
    ) -> Frame {
        if let frame = selection.fetched[windowBits] { return frame }
        let frame = compressed.frame(windowBits: windowBits) { plain in
            self.compress(plain, windowBits: windowBits, evenIfLarger: compressed.alwaysCompress)
        }
        selection.fetched[windowBits] = frame
        return frame
    }

    /// Compresses a message's payload with this shard's deflater for `windowBits`; nil if that did not make it
    /// smaller (or zlib failed), and the plain frame is sent instead.
    private func compress(_ plain: Frame, windowBits: UInt8, evenIfLarger: Bool) -> Frame? {
        let deflater: MessageDeflater
        if let existing = self.deflaters[windowBits] {
            deflater = existing
        } else {
            guard let created = try? MessageDeflater(windowBits: windowBits, allocator: self.allocator) else {
                return nil
            }
            self.deflaters[windowBits] = created
            deflater = created
        }
        guard let payload = deflater.compress(plain.payload, evenIfLarger: evenIfLarger) else { return nil }
        self.statistics.compressedFrames += 1
        self.statistics.compressionInputBytes += plain.payloadLength
        self.statistics.compressionOutputBytes += payload.readableBytes
        return Frame(opcode: plain.opcode, compressedPayload: payload)
    }
}
