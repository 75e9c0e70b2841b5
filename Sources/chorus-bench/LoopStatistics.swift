import Histogram
import NIOCore

/// What the subscribers on one event loop have seen. Confined to that loop (no locks on the receive path);
/// the main thread reads it through `snapshot()` on the loop.
final class LoopStatistics {
    /// Connections whose upgrade completed.
    var upgraded = 0
    /// Upgraded connections that closed before the end.
    var closedEarly = 0
    /// Data messages received, warm-up included.
    var received = 0
    /// Measured data messages received.
    var measured = 0
    /// Publish → receive latency of measured messages, in microseconds.
    var latency = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    /// Connections refused because their 101 lacked the offered subprotocol (`--protocol chorus.v1`).
    var subprotocolMissing = 0
    /// What chorus.v1 connections saw besides bench payloads.
    var chorusV1 = ChorusV1Counters()

    /// One received data message: `sentAt` and `isMeasured` come from the payload (see `BenchPayload`).
    @inline(__always)
    func received(sentAt: UInt64, isMeasured: Bool, now: UInt64) {
        self.received &+= 1
        guard isMeasured else { return }
        self.measured &+= 1
        _ = self.latency.record(now >= sentAt ? (now - sentAt) / 1000 : 0)
    }

    func snapshot() -> Snapshot {
        Snapshot(
            upgraded: self.upgraded,
            closedEarly: self.closedEarly,
            received: self.received,
            measured: self.measured,
            latency: self.latency,
            subprotocolMissing: self.subprotocolMissing,
            chorusV1: self.chorusV1
        )
    }

    /// A copy of the counters that may cross threads.
    struct Snapshot: Sendable {
        var upgraded = 0
        var closedEarly = 0
        var received = 0
        var measured = 0
        var latency = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var subprotocolMissing = 0
        var chorusV1 = ChorusV1Counters()

        /// The sum of several loops' snapshots.
        static func merged(_ snapshots: [Snapshot]) -> Snapshot {
            var total = Snapshot()
            for snapshot in snapshots {
                total.upgraded += snapshot.upgraded
                total.closedEarly += snapshot.closedEarly
                total.received += snapshot.received
                total.measured += snapshot.measured
                total.latency.add(snapshot.latency)
                total.subprotocolMissing += snapshot.subprotocolMissing
                total.chorusV1 += snapshot.chorusV1
            }
            return total
        }
    }
}

@available(*, unavailable)
extension LoopStatistics: Sendable {}
