import NIOCore

/// One published message as a shard delivers it: its rendition for each wire protocol that its subscribers speak,
/// and what a late `chorus.v1` rendition needs.
package struct Delivery: Sendable {
    /// The rendition for the raw protocol: the payload as it was published.
    package var native: Rendition
    /// The `chorus.v1` rendition, encoded by the hub when some connection speaks `chorus.v1` or history is on; a
    /// shard that finds a `chorus.v1` subscriber without it (the connection arrived meanwhile) encodes it once.
    package var chorusV1: Rendition?
    /// The message's place in its channel's stream.
    package var position: StreamPosition?
    /// Whether the text payload is one JSON text (embedded as it is in the `chorus.v1` envelope).
    package var isJSON: Bool
    /// A connection of the receiving shard that must not get the message (its publisher asked not to).
    package var excluded: ConnectionID?
    /// A `resync` frame that `chorus.v1` subscribers get before the message: the cluster's messages before it did
    /// not all reach this node.
    package var resync: ByteBuffer?

    /// The same delivery, leaving out `connection` of the receiving shard.
    package func excluding(_ connection: ConnectionID?) -> Delivery {
        var delivery = self
        delivery.excluded = connection
        return delivery
    }

    package init(
        native: Rendition,
        chorusV1: Rendition? = nil,
        position: StreamPosition? = nil,
        isJSON: Bool = false,
        excluded: ConnectionID? = nil
    ) {
        self.native = native
        self.chorusV1 = chorusV1
        self.position = position
        self.isJSON = isJSON
        self.excluded = excluded
    }
}
