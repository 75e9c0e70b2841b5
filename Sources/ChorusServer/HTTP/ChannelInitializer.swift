import ChorusCore
import ChorusEpoll
import NIOCore
import NIOHTTP1
import NIOPosix

/// Builds each accepted connection's pipeline: NIO's HTTP/1 server handlers, the WebSocket upgrader and the
/// `HTTPConnectionHandler`. After an upgrade all of them leave and one `WebSocketConnectionHandler` remains.
struct ChannelInitializer: Sendable {
    let configuration: ServerConfiguration
    let hub: Hub
    let state: ServerState
    let metrics: MetricsExporter
    /// Who may connect: tokens, origins, per-address limits.
    let access: AccessControl

    /// Sets the options of every accepted channel: a small fixed receive buffer (NIO keeps it for the
    /// connection's life) and a write-buffer high-water mark at the pending-bytes limit (past it the channel
    /// turns unwritable and the slow-consumer policy applies).
    func applyChildOptions(to bootstrap: ServerBootstrap) -> ServerBootstrap {
        var bootstrap = bootstrap
        if let bytes = self.configuration.socketSendBufferBytes {
            bootstrap = bootstrap.childChannelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(bytes))
        }
        return bootstrap
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(
                .recvAllocator,
                value: FixedSizeRecvByteBufferAllocator(capacity: self.configuration.readBufferBytes)
            )
            .childChannelOption(
                .writeBufferWaterMark,
                value: ChannelOptions.Types.WriteBufferWaterMark(
                    low: self.configuration.maxPendingBytes / 2,
                    high: self.configuration.maxPendingBytes
                )
            )
    }

    /// The largest request head the server reads. NIO's decoder refuses a head whose header fields go over it
    /// (431, `HTTPConnectionHandler`); the epoll transport hands a head longer than it to this side, which refuses
    /// it too.
    static let maxRequestHeadBytes = 16 * 1024

    /// NIO's decoder limits: header fields over `maxRequestHeadBytes` raise `HTTPParserError.headerOverflow`.
    static var decoderLimits: NIOHTTPDecoderLimitConfiguration {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = Self.maxRequestHeadBytes
        limits.maxHeaderListSize = Self.maxRequestHeadBytes
        return limits
    }

    /// - Parameter handedOff: why the epoll transport handed this connection over (see
    ///   `WebSocketUpgrader.handedOff`); nil on the NIO transport.
    func initialize(_ channel: any Channel, handedOff: HandOffReason? = nil) throws {
        let policy = UpgradePolicy(
            configuration: self.configuration,
            hub: self.hub,
            state: self.state,
            access: self.access
        )
        let http = self.httpHandler(role: .main)
        // No NIO error handler (it answers every parser error 400 with an empty body): `HTTPConnectionHandler`
        // answers them.
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withServerUpgrade: (
                upgraders: [WebSocketUpgrader(policy: policy, handedOff: handedOff)], completionHandler: { _ in }
            ),
            withErrorHandling: false,
            withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: Self.decoderLimits
        )
        try channel.pipeline.syncOperations.addHandler(http)
    }

    /// The pipeline of the optional metrics listener: plain HTTP/1, no upgrades.
    func initializeMetricsOnly(_ channel: any Channel) throws {
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withErrorHandling: false,
            withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: Self.decoderLimits
        )
        try channel.pipeline.syncOperations.addHandler(self.httpHandler(role: .metricsOnly))
    }

    private func httpHandler(role: HTTPRouter.Role) -> HTTPConnectionHandler {
        let router = HTTPRouter(
            hub: self.hub,
            state: self.state,
            configuration: self.configuration,
            metrics: self.metrics,
            role: role
        )
        return HTTPConnectionHandler(router: router, state: self.state, configuration: self.configuration)
    }
}
