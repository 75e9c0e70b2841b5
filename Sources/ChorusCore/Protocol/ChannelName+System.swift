/// System channels: Chorus's own, named with the reserved prefix `_chorus.`. Every way in refuses them to ordinary
/// connections and publishers (see `ChannelGrant.maySubscribe(_:to:)` and `mayPublish(_:to:)`, 403 over HTTP);
/// only a connection whose grant follows system channels may subscribe (`ChannelGrant.statusFeed`), and only the
/// server publishes to them.
extension ChannelName {
    /// The reserved prefix of system channel names.
    package static let systemPrefix = "_chorus."

    /// The status page's live feed: a report of the server's figures, published once a second while watched.
    package static let status = try! ChannelName(validating: Self.systemPrefix + "status")

    /// True for Chorus's own channels (a prefix check on the name's bytes: no allocation).
    package var isSystem: Bool { self.value.utf8.starts(with: Self.systemPrefix.utf8) }
}
