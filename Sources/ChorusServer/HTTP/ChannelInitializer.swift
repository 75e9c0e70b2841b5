import ChorusCore
import ChorusEpoll
import ChorusNIO
import NIOCore
import NIOPosix

/// Builds each accepted connection's pipeline (ChorusNIO's `HTTPPipeline`) from the server's parts: the upgrade
/// decider (`UpgradePolicy`, or `HandedOffUpgrade` for a connection the epoll transport handed over) and the
/// `HTTPConnectionHandler`; and sets the accepted channels' options from the configuration.
struct ChannelInitializer: Sendable {
    let configuration: ServerConfiguration
    let hub: Hub
    let state: ServerState
    let metrics: MetricsExporter
    /// Who may connect: tokens, origins, per-address limits.
    let access: AccessControl
    /// Each loop's HTTP request deadlines.
    let deadlines: HTTPDeadlinesByLoop

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

    private var pipeline: HTTPPipeline { HTTPPipeline(maxRequestHeadBytes: Self.maxRequestHeadBytes) }

    /// Configures an accepted channel of the main port: HTTP/1 and WebSocket upgrades.
    ///
    /// - Parameter handedOff: why the epoll transport handed this connection over (see `HandedOffUpgrade`); nil on
    ///   the NIO transport.
    func initialize(_ channel: any Channel, handedOff: HandOffReason? = nil) throws {
        let policy = UpgradePolicy(
            configuration: self.configuration,
            hub: self.hub,
            state: self.state,
            access: self.access
        )
        let http = self.httpHandler(role: .main)
        if let handedOff {
            let decider = HandedOffUpgrade(policy: policy, reason: handedOff)
            try self.pipeline.configure(channel, hub: self.hub, decider: decider, http: http)
        } else {
            try self.pipeline.configure(channel, hub: self.hub, decider: policy, http: http)
        }
    }

    /// The pipeline of the optional metrics listener: plain HTTP/1, no upgrades.
    func initializeMetricsOnly(_ channel: any Channel) throws {
        try self.pipeline.configureWithoutUpgrades(channel, http: self.httpHandler(role: .metricsOnly))
    }

    private func httpHandler(role: HTTPRouter.Role) -> HTTPConnectionHandler {
        let router = HTTPRouter(
            hub: self.hub,
            state: self.state,
            configuration: self.configuration,
            metrics: self.metrics,
            upgrades: UpgradePolicy(
                configuration: self.configuration,
                hub: self.hub,
                state: self.state,
                access: self.access
            ),
            role: role
        )
        return HTTPConnectionHandler(
            router: router,
            state: self.state,
            configuration: self.configuration,
            deadlines: self.deadlines
        )
    }
}
