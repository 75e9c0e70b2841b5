/// One subscription of a connection: which topic of the shard, and where the connection sits in that topic's
/// subscriber list (kept so unsubscribing is O(1) in the topic, not a scan of every subscriber).
package struct Subscription: Equatable, Sendable {
    /// Slot of the topic in the shard's topic table.
    package var topic: UInt32
    /// Index of this connection in the topic's subscriber array.
    package var position: UInt32
}

/// A connection's subscriptions: the first two live inline in the metadata block, more spill into an array.
///
/// Most connections follow one or two channels, so the common case needs no heap allocation at all.
package struct SubscriptionSet: Sendable {
    private var first: Subscription?
    private var second: Subscription?
    private var overflow: [Subscription] = []

    package init() {}

    /// The number of subscriptions.
    package var count: Int {
        (self.first == nil ? 0 : 1) + (self.second == nil ? 0 : 1) + self.overflow.count
    }

    /// Bytes this set holds on the heap (the overflow array's storage), for memory accounting.
    package var heapBytes: Int {
        self.overflow.capacity == 0 ? 0 : 32 + self.overflow.capacity * MemoryLayout<Subscription>.stride
    }

    /// The subscription to `topic`, if any.
    package func find(topic: UInt32) -> Subscription? {
        if let first = self.first, first.topic == topic { return first }
        if let second = self.second, second.topic == topic { return second }
        return self.overflow.first { $0.topic == topic }
    }

    /// Adds a subscription; the caller has checked it is not present.
    package mutating func insert(_ subscription: Subscription) {
        if self.first == nil {
            self.first = subscription
        } else if self.second == nil {
            self.second = subscription
        } else {
            self.overflow.append(subscription)
        }
    }

    /// Removes the subscription to `topic` and returns it.
    @discardableResult
    package mutating func remove(topic: UInt32) -> Subscription? {
        if let first = self.first, first.topic == topic {
            self.first = nil
            return first
        }
        if let second = self.second, second.topic == topic {
            self.second = nil
            return second
        }
        guard let index = self.overflow.firstIndex(where: { $0.topic == topic }) else { return nil }
        return self.overflow.remove(at: index)
    }

    /// Records that this connection moved to `position` in `topic`'s subscriber list.
    package mutating func updatePosition(topic: UInt32, to position: UInt32) {
        if self.first?.topic == topic {
            self.first!.position = position
        } else if self.second?.topic == topic {
            self.second!.position = position
        } else if let index = self.overflow.firstIndex(where: { $0.topic == topic }) {
            self.overflow[index].position = position
        } else {
            fatalError("Internal inconsistency: topic \(topic) is not in this subscription set")
        }
    }

    /// Calls `body` with every subscription, inline ones first (without building an array: releasing a
    /// connection allocates nothing).
    package func forEach(_ body: (Subscription) -> Void) {
        if let first = self.first { body(first) }
        if let second = self.second { body(second) }
        for subscription in self.overflow { body(subscription) }
    }
}
