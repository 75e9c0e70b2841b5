/// What a token lets its connection do: the channels it may follow and the channels it may publish to.
///
/// Immutable and shared by reference: connections presenting tokens with the same claims hold the same grant,
/// so a connection pays one reference for its permissions. Connections of a server without tokens hold none.
public final class ChannelGrant: Sendable {
    /// Channels the connection may subscribe to (at the upgrade or at run time).
    public let subscribe: [ChannelPattern]
    /// Channels the connection may publish to (client publish must also be enabled).
    public let publish: [ChannelPattern]

    /// The connection may follow Chorus's system channels (`ChannelName.isSystem`); no token grants this.
    package let followsSystemChannels: Bool

    public init(subscribe: [ChannelPattern], publish: [ChannelPattern]) {
        self.subscribe = subscribe
        self.publish = publish
        self.followsSystemChannels = false
    }

    private init(followingSystemChannels: Void) {
        self.subscribe = []
        self.publish = []
        self.followsSystemChannels = true
    }

    /// The grant of the status page's live feed: the system channels only, and no publishing.
    package static let statusFeed = ChannelGrant(followingSystemChannels: ())

    /// Whether a connection holding `grant` (nil: no tokens) may follow `channel`: a system channel only with a grant
    /// that follows them, any other as the grant's patterns allow.
    package static func maySubscribe(_ grant: ChannelGrant?, to channel: ChannelName) -> Bool {
        if channel.isSystem { return grant?.followsSystemChannels == true }
        return grant?.maySubscribe(to: channel) ?? true
    }

    /// Whether a connection holding `grant` (nil: no tokens) may publish to `channel`: never to a system channel.
    package static func mayPublish(_ grant: ChannelGrant?, to channel: ChannelName) -> Bool {
        !channel.isSystem && (grant?.mayPublish(to: channel) ?? true)
    }

    /// True if the connection may follow `channel`.
    public func maySubscribe(to channel: ChannelName) -> Bool { self.subscribe.allows(channel) }

    /// True if the connection may publish to `channel`.
    public func mayPublish(to channel: ChannelName) -> Bool { self.publish.allows(channel) }
}
