#if os(Linux)
    import NIOConcurrencyHelpers
    import NIOCore

    /// A task scheduled on an `EpollEventLoop`; cancellable from any thread.
    final class ScheduledTimer: Sendable {
        private let task: @Sendable () -> Void
        private let cancelled = NIOLockedValueBox(false)

        init(_ task: @escaping @Sendable () -> Void) {
            self.task = task
        }

        func cancel() {
            self.cancelled.withLockedValue { $0 = true }
        }

        /// Runs the task unless it was cancelled.
        func fire() {
            if !self.cancelled.withLockedValue({ $0 }) { self.task() }
        }
    }

    /// A binary min-heap of timers by deadline (ties in insertion order). Touched only on its loop.
    struct TimerHeap {
        private struct Entry {
            var deadline: NIODeadline
            var sequence: UInt64
            var timer: ScheduledTimer

            func isBefore(_ other: Entry) -> Bool {
                self.deadline < other.deadline || (self.deadline == other.deadline && self.sequence < other.sequence)
            }
        }

        private var entries: [Entry] = []
        private var nextSequence: UInt64 = 0

        mutating func insert(deadline: NIODeadline, _ timer: ScheduledTimer) {
            self.entries.append(Entry(deadline: deadline, sequence: self.nextSequence, timer: timer))
            self.nextSequence &+= 1
            var child = self.entries.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard self.entries[child].isBefore(self.entries[parent]) else { break }
                self.entries.swapAt(child, parent)
                child = parent
            }
        }

        /// The earliest timer if it is due by `now`, removed from the heap.
        mutating func popDue(now: NIODeadline) -> ScheduledTimer? {
            guard let first = self.entries.first, first.deadline <= now else { return nil }
            let last = self.entries.removeLast()
            if !self.entries.isEmpty {
                self.entries[0] = last
                var parent = 0
                while true {
                    let left = 2 * parent + 1
                    let right = left + 1
                    var smallest = parent
                    if left < self.entries.count && self.entries[left].isBefore(self.entries[smallest]) {
                        smallest = left
                    }
                    if right < self.entries.count && self.entries[right].isBefore(self.entries[smallest]) {
                        smallest = right
                    }
                    if smallest == parent { break }
                    self.entries.swapAt(parent, smallest)
                    parent = smallest
                }
            }
            return first.timer
        }

        /// Milliseconds until the earliest deadline (rounded up), or -1 (wait forever) with no timers.
        func timeoutMilliseconds() -> Int32 {
            guard let first = self.entries.first else { return -1 }
            let now = NIODeadline.now()
            guard first.deadline > now else { return 0 }
            let nanoseconds = (first.deadline - now).nanoseconds
            return Int32(clamping: (nanoseconds + 999_999) / 1_000_000)
        }

        mutating func removeAll() {
            self.entries.removeAll()
        }
    }
#endif
