/// Told about every publish, once per message (never per subscriber): where metrics hook into the hub
/// without the engine depending on a metrics library.
public protocol PublishObserver: Sendable {
    /// A message was accepted and encoded.
    func published(payloadBytes: Int, source: PublishSource)
    /// Every shard has written and flushed the message, `duration` after it was accepted.
    func fannedOut(after duration: Duration)
}
