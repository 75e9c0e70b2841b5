/// What a token lets its connection do: the channels it may follow and the channels it may publish to.
///
/// Immutable and shared by reference: connections presenting tokens with the same claims hold the same grant,
/// so a connection pays one reference for its permissions. Connections of a server without tokens hold none.
public final class ChannelGrant: Sendable {
    /// Channels the connection may subscribe to (at the upgrade or at run time).
    public let subscribe: [ChannelPattern]
    /// Channels the connection may publish to (client publish must also be enabled).
    public let publish: [ChannelPattern]

    public init(subscribe: [ChannelPattern], publish: [ChannelPattern]) {
        self.subscribe = subscribe
        self.publish = publish
    }

    /// True if the connection may follow `channel`.
    public func maySubscribe(to channel: ChannelName) -> Bool { self.subscribe.allows(channel) }

    /// True if the connection may publish to `channel`.
    public func mayPublish(to channel: ChannelName) -> Bool { self.publish.allows(channel) }
}
