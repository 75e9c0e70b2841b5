import NIOCore

/// One `LoopStatistics` per event loop of the client, so the receive path never takes a lock.
final class StatisticsRegistry: Sendable {
    private let entries: [(loop: any EventLoop, statistics: NIOLoopBound<LoopStatistics>)]

    init(group: any EventLoopGroup) throws {
        self.entries = try group.makeIterator().map { loop in
            (loop, try loop.submit { NIOLoopBound(LoopStatistics(), eventLoop: loop) }.wait())
        }
    }

    /// The statistics of `loop`; call on that loop.
    func statistics(on loop: any EventLoop) -> LoopStatistics {
        for entry in self.entries where entry.loop === loop { return entry.statistics.value }
        fatalError("Internal inconsistency: \(loop) is not one of the client's event loops")
    }

    /// All loops' counters and latencies, summed (blocks the calling thread briefly; not on an event loop).
    func snapshot() throws -> LoopStatistics.Snapshot {
        let snapshots = try self.entries.map { entry in
            let statistics = entry.statistics
            return try entry.loop.submit { statistics.value.snapshot() }.wait()
        }
        return .merged(snapshots)
    }
}
