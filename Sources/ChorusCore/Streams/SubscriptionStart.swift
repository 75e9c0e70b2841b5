/// Where a `chorus.v1` subscription starts (see `Hub.startSubscription`): the channel's position when it was taken
/// and, for a subscription that asked to recover, how that went and the messages to replay first.
package struct SubscriptionStart: Sendable {
    /// The offset of the last message before the subscription's first live one, and the stream's epoch.
    package var position: StreamPosition
    /// nil when the subscription did not ask to recover.
    package var recovery: RecoveryOutcome?
    /// The missed messages, oldest first (only when recovered).
    package var missed: [HistoryEntry]

    package init(position: StreamPosition, recovery: RecoveryOutcome? = nil, missed: [HistoryEntry] = []) {
        self.position = position
        self.recovery = recovery
        self.missed = missed
    }
}
