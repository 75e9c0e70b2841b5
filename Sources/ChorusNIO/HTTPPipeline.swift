import ChorusCore
import NIOCore
import NIOHTTP1

/// The NIO transport's pipeline of an accepted connection before any upgrade: NIO's HTTP/1 server handlers, one
/// `WebSocketUpgrader` and the server's HTTP handler, which answers plain requests, refused upgrades and parser
/// errors. After an upgrade all of them leave and one `WebSocketConnectionHandler` remains.
package struct HTTPPipeline: Sendable {
    /// The largest request head read: NIO's decoder refuses one whose header fields go over it with
    /// `HTTPParserError.headerOverflow`, which the HTTP handler answers.
    package var maxRequestHeadBytes: Int

    package init(maxRequestHeadBytes: Int) {
        self.maxRequestHeadBytes = maxRequestHeadBytes
    }

    /// Configures `channel` for WebSocket upgrades that `decider` decides on, joining `hub` when admitted; `http`
    /// serves everything else.
    package func configure(
        _ channel: any Channel,
        hub: Hub,
        decider: some NIOUpgradeDecider,
        http: some ChannelHandler
    ) throws {
        let upgrader = WebSocketUpgrader(hub: hub, decider: decider)
        // No NIO error handler (it answers every parser error 400 with an empty body): `http` answers them.
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }),
            withErrorHandling: false,
            withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: self.decoderLimits
        )
        try channel.pipeline.syncOperations.addHandler(http)
    }

    /// Configures `channel` for plain HTTP/1, without upgrades, served by `http`.
    package func configureWithoutUpgrades(_ channel: any Channel, http: some ChannelHandler) throws {
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withErrorHandling: false,
            withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: self.decoderLimits
        )
        try channel.pipeline.syncOperations.addHandler(http)
    }

    /// NIO's decoder limits: header fields over `maxRequestHeadBytes` raise `HTTPParserError.headerOverflow`.
    private var decoderLimits: NIOHTTPDecoderLimitConfiguration {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = self.maxRequestHeadBytes
        limits.maxHeaderListSize = self.maxRequestHeadBytes
        return limits
    }
}
