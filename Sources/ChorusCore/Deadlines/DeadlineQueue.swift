import NIOCore

/// Deadlines of one fixed delay (the handshake timeout, the close timeout), kept without an allocation per timer.
///
/// Every deadline is "now + the same delay", so deadlines fall due in the order they were set: a ring of
/// (key, deadline) in insertion order is already sorted, and expiring is popping from the front. This is a
/// timer wheel whose every timer lands in the bucket being filled; it needs no slots, no ordering and no
/// per-timer object. Cancelling is lazy: the owner leaves the entry where it is and, when the entry comes due,
/// checks that its key still names a live timer (for example a connection of the same generation still closing). The ring
/// keeps its capacity (up to `retainedCapacity` once drained), so once it has grown to the most timers pending
/// at once, setting and expiring allocate nothing.
///
/// Loop-confined, like its owner (`LoopDeadlines`).
package struct DeadlineQueue {
    private struct Entry {
        var key: UInt64
        var deadline: NIODeadline
    }

    private var entries = CircularBuffer<Entry>(initialCapacity: 16)

    package init() {}

    /// Timers set and not yet popped (cancelled ones included until they come due).
    package var count: Int { self.entries.count }

    /// Entries the ring holds without growing.
    package var capacity: Int { self.entries.capacity }

    /// Sets a timer for `key`. `deadline` must be no earlier than the last one set (same delay, monotonic
    /// clock); an earlier one would only fire late, behind it.
    package mutating func add(_ key: UInt64, deadline: NIODeadline) {
        self.entries.append(Entry(key: key, deadline: deadline))
    }

    /// The key of the oldest timer due at `now`, removed; nil when none is due.
    package mutating func popDue(now: NIODeadline) -> UInt64? {
        guard let first = self.entries.first, first.deadline <= now else { return nil }
        let key = self.entries.removeFirst().key
        // After a burst (a mass close), give the ring's memory back once it has drained.
        if self.entries.isEmpty && self.entries.capacity > Self.retainedCapacity {
            self.entries = CircularBuffer(initialCapacity: 16)
        }
        return key
    }

    /// Capacity kept when the ring drains (16 KiB); more is given back.
    package static let retainedCapacity = 1024
}
