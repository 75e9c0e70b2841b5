import NIOConcurrencyHelpers
import NIOCore

/// Filling a gap in a channel's cluster stream: a node that receives offset 9 after 6 (its Redis subscription was
/// away while 7 and 8 went out) reads 7 and 8 from the cluster's history and delivers 7, 8, 9 in order, holding
/// whatever else arrives for the channel meanwhile. Only when the cluster no longer has them (trimmed, expired, Redis
/// away, no answer in time) do `chorus.v1` subscribers get a `resync`.
///
/// Everything here runs on the loop that delivers the cluster's messages (the bus's), so nothing from the cluster
/// can pass a fill's replay.
extension Hub {
    /// How long a fill waits for the cluster's history before giving up (a resync).
    static let gapFillTimeout = TimeAmount.seconds(2)

    /// Reads the messages after `last` and before offset `before` from the cluster, then ends fill `id`.
    func fillGap(_ channel: ChannelName, id: UInt64, after last: StreamPosition, before: UInt64, on loop: any EventLoop)
    {
        guard let bus = self.clusterBus else { return self.endFill(channel, id: id, read: nil, on: loop) }
        let timeout = loop.scheduleTask(in: Self.gapFillTimeout) {
            self.endFill(channel, id: id, read: nil, on: loop)
        }
        let count = Int(before - last.offset - 1)
        bus.readStream(channel, after: last.offset, limit: count, on: loop).whenComplete { result in
            timeout.cancel()
            self.endFill(channel, id: id, read: try? result.get(), on: loop)
        }
    }

    /// Ends fill `id` (once: a second call finds it gone) and delivers, in order, the missing messages `read` has
    /// (those continuing the stream after the fill's last position, in its epoch), then the messages held.
    func endFill(_ channel: ChannelName, id: UInt64, read: ClusterStreamRead?, on loop: any EventLoop) {
        guard let fill = self.streams.withLockedValue({ $0.endFill(channel, id: id) }) else { return }
        var missing: [ClusterStreamRead.Message] = []
        if let read, read.position?.epoch == fill.last.epoch {
            var next = fill.last.offset + 1
            for message in read.messages where message.offset == next {
                missing.append(message)
                next += 1
            }
        }
        let expected = fill.held.first?.options.position.map { Int($0.offset - fill.last.offset - 1) } ?? 0
        self.counters.withLockedValue {
            $0.gapFilledMessages += missing.count
            if missing.count == expected { $0.gapsFilled += 1 }
        }
        for message in missing {
            _ = self.publish(
                message.payload,
                opcode: message.opcode,
                to: channel,
                source: .cluster,
                on: loop,
                options: PublishOptions(
                    isJSON: message.isJSON,
                    position: StreamPosition(offset: message.offset, epoch: fill.last.epoch),
                    fillsGaps: false
                )
            )
        }
        // Whatever is still missing now shows as a gap to the first of these, which then tells of it (a resync).
        for var held in fill.held {
            held.options.fillsGaps = false
            self.replay(held, on: channel, on: loop)
        }
    }

    /// Places a held message, already encoded and counted when it arrived.
    func replay(_ message: HeldArrival, on channel: ChannelName, on loop: any EventLoop) {
        guard self.admitPublish() else {
            self.counters.withLockedValue { $0.overloaded[PublishSource.cluster.rawValue] += 1 }
            return
        }
        _ = self.place(message, on: channel, on: loop, accepted: ContinuousClock.now)
    }
}
