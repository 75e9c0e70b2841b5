/// How one publish is to be treated beyond its payload and channel.
package struct PublishOptions: Sendable {
    /// The text payload is one JSON text (a `chorus.v1` envelope embeds it as it is, not as a string).
    package var isJSON = false
    /// A connection that must not receive the message: a `chorus.v1` publisher that asked not to (`"echo":false`).
    package var excluded: PublisherConnection?
    /// The message's position in its channel's stream when the cluster assigned it (it then arrives from the bus).
    package var position: StreamPosition?
    /// Whether a gap before `position` is filled from the cluster's history (false once that was tried: a resync).
    package var fillsGaps = true

    package init(
        isJSON: Bool = false,
        excluded: PublisherConnection? = nil,
        position: StreamPosition? = nil,
        fillsGaps: Bool = true
    ) {
        self.isJSON = isJSON
        self.excluded = excluded
        self.position = position
        self.fillsGaps = fillsGaps
    }
}

/// A connection that published, named across the hub: its shard's index and its handle there.
public struct PublisherConnection: Sendable, Equatable {
    package var shard: Int
    package var id: ConnectionID

    package init(shard: Int, id: ConnectionID) {
        self.shard = shard
        self.id = id
    }
}
