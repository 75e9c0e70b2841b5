/// The last messages of one channel, oldest first, in a ring that grows to the history size and then overwrites
/// its oldest entry.
struct HistoryRing {
    private var entries: [HistoryEntry] = []
    /// Index of the oldest entry once the ring is full.
    private var start = 0

    var count: Int { self.entries.count }
    var isEmpty: Bool { self.entries.isEmpty }

    /// The offset of the oldest entry kept, or nil when none is.
    var oldestOffset: UInt64? {
        self.entries.isEmpty ? nil : self.entries[self.start].offset
    }

    /// Appends `entry`, overwriting the oldest when `capacity` entries are held; returns the overwritten one.
    mutating func append(_ entry: HistoryEntry, capacity: Int) -> HistoryEntry? {
        guard self.entries.count >= capacity else {
            // Grown as usual, by doubling, but never past the ring's size: the last doubling would leave up to half
            // of a full ring's slots unused for as long as the channel keeps history.
            if self.entries.count == self.entries.capacity, self.entries.count * 2 > capacity {
                self.entries.reserveCapacity(capacity)
            }
            self.entries.append(entry)
            return nil
        }
        let evicted = self.entries[self.start]
        self.entries[self.start] = entry
        self.start = (self.start + 1) % self.entries.count
        return evicted
    }

    /// The entries with offsets above `offset`, oldest first, at most `limit` of them.
    func entries(after offset: UInt64, limit: Int = .max) -> [HistoryEntry] {
        guard let oldest = self.oldestOffset else { return [] }
        let skip = offset >= oldest ? Int(min(offset - oldest + 1, UInt64(self.entries.count))) : 0
        let count = min(self.entries.count - skip, limit)
        guard count > 0 else { return [] }
        var result: [HistoryEntry] = []
        result.reserveCapacity(count)
        for position in skip..<(skip + count) {
            result.append(self.entries[(self.start + position) % self.entries.count])
        }
        return result
    }

    /// Drops every entry and its storage.
    mutating func removeAll() {
        self.entries = []
        self.start = 0
    }
}
