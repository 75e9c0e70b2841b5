/// Subscriptions: the channel → subscriber index, a list of slots per channel.
extension Shard {
    // MARK: Subscriptions

    /// The result of a subscribe request.
    package enum SubscribeOutcome: Equatable, Sendable {
        case subscribed
        case alreadySubscribed
        case limitReached
        case staleHandle
    }

    /// Adds `channel` to the connection's subscriptions.
    package func subscribe(_ id: ConnectionID, to channel: ChannelName) -> SubscribeOutcome {
        guard self.slab.isValid(id) else { return .staleHandle }
        let existing = self.topicSlots[channel]
        if let existing, self.slab[index: id.index].subscriptions.find(topic: existing) != nil {
            return .alreadySubscribed
        }
        guard self.slab[index: id.index].subscriptions.count < self.settings.maxSubscriptions else {
            return .limitReached
        }
        let slot = existing ?? self.makeTopic(channel)
        let position = UInt32(self.topics[Int(slot)]!.subscribers.count)
        self.topics[Int(slot)]!.subscribers.append(id.index)
        self.slab[index: id.index].subscriptions.insert(Subscription(topic: slot, position: position))
        self.subscriptionCount += 1
        return .subscribed
    }

    /// Removes `channel` from the connection's subscriptions. Returns false if it was not subscribed.
    @discardableResult
    package func unsubscribe(_ id: ConnectionID, from channel: ChannelName) -> Bool {
        guard self.slab.isValid(id), let slot = self.topicSlots[channel],
            let subscription = self.slab[index: id.index].subscriptions.remove(topic: slot)
        else { return false }
        self.removeSubscriber(index: id.index, from: subscription, alreadyRemovedFromSet: true)
        return true
    }

    /// Emptied subscriber lists kept for new channels (for tests).
    package var spareSubscriberListCount: Int { self.spareSubscriberLists.count }

    /// Number of this shard's subscribers of `channel`.
    package func subscriberCount(of channel: ChannelName) -> Int {
        guard let slot = self.topicSlots[channel] else { return 0 }
        return self.topics[Int(slot)]!.subscribers.count
    }

    private func makeTopic(_ channel: ChannelName) -> UInt32 {
        let topic = Topic(name: channel, subscribers: self.spareSubscriberLists.popLast() ?? [])
        let slot: UInt32
        if let free = self.freeTopicSlots.popLast() {
            slot = free
            self.topics[Int(slot)] = topic
        } else {
            slot = UInt32(self.topics.count)
            self.topics.append(topic)
        }
        self.topicSlots[channel] = slot
        self.interest?.shardGained(channel)
        return slot
    }

    /// Swap-removes the connection from the topic's subscriber list, fixing the moved subscriber's position.
    func removeSubscriber(index: UInt32, from subscription: Subscription, alreadyRemovedFromSet: Bool = false) {
        let slot = Int(subscription.topic)
        let position = Int(subscription.position)
        let lastPosition = self.topics[slot]!.subscribers.count - 1
        precondition(self.topics[slot]!.subscribers[position] == index, "subscription position out of date")
        if position != lastPosition {
            let moved = self.topics[slot]!.subscribers[lastPosition]
            self.topics[slot]!.subscribers[position] = moved
            self.slab[index: moved].subscriptions.updatePosition(topic: subscription.topic, to: UInt32(position))
        }
        self.topics[slot]!.subscribers.removeLast()
        if !alreadyRemovedFromSet {
            self.slab[index: index].subscriptions.remove(topic: subscription.topic)
        }
        self.subscriptionCount -= 1
        if self.topics[slot]!.subscribers.isEmpty {
            let topic = self.topics[slot].take()!
            self.interest?.shardLost(topic.name)
            self.topicSlots[topic.name] = nil
            self.freeTopicSlots.append(subscription.topic)
            if topic.subscribers.capacity <= Self.maxSpareListCapacity,
                self.spareSubscriberLists.count < Self.maxSpareSubscriberLists
            {
                self.spareSubscriberLists.append(topic.subscribers)
            }
        }
    }
}
