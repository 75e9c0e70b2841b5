/// What happens to a subscriber whose pending outbound bytes are past the limit (its transport reports it not
/// writable). Either way the subscriber never delays others and never grows memory without bound, and every
/// action is counted.
package enum SlowConsumerPolicy: String, CaseIterable, Sendable {
    /// Close the subscriber with 1008 "slow consumer" (the default).
    case disconnect
    /// Skip messages for that subscriber until it drains, counting every skipped message.
    case drop
}
