import NIOCore

/// The request deadlines of one loop's plain-HTTP connections, swept by the loop's one periodic tick (the same tick
/// that runs the loop's connection deadlines, `Shard.runDueDeadlines`): each connection keeps its own deadline in a
/// field and is listed here while it has one, so arming, re-arming per keep-alive request and cancelling allocate
/// nothing and no connection holds a timer. A loop holds a handful of them (publishers, probes, scrapes, requests
/// being refused), and a few thousand (a slowloris) still sweep in microseconds.
///
/// Loop-confined.
final class HTTPDeadlines {
    private var connections: [HTTPConnectionHandler] = []
    /// Scratch for `runDue`: the connections whose deadline passed, acted on after the sweep (acting closes them,
    /// which takes them off the list).
    private var due: [HTTPConnectionHandler] = []

    init() {}

    /// Connections listed (for tests and metrics).
    var count: Int { self.connections.count }

    /// Lists `connection` (it has a deadline now); nothing when it is listed already.
    func add(_ connection: HTTPConnectionHandler) {
        guard connection.deadlineSlot < 0 else { return }
        connection.deadlineSlot = self.connections.count
        self.connections.append(connection)
    }

    /// Takes `connection` off the list (it is gone); nothing when it is not listed.
    func remove(_ connection: HTTPConnectionHandler) {
        let slot = connection.deadlineSlot
        guard slot >= 0 else { return }
        let last = self.connections.removeLast()
        if slot < self.connections.count {
            self.connections[slot] = last
            last.deadlineSlot = slot
        }
        connection.deadlineSlot = -1
    }

    /// Tells every listed connection whose deadline passed by `now`.
    func runDue(now: NIODeadline) {
        guard !self.connections.isEmpty else { return }
        for connection in self.connections where connection.deadline.map({ $0 <= now }) ?? false {
            self.due.append(connection)
        }
        for connection in self.due {
            connection.deadlinePassed()
        }
        self.due.removeAll(keepingCapacity: true)
    }
}

@available(*, unavailable)
extension HTTPDeadlines: Sendable {}
