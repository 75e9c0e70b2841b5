import ChorusCore
import Logging
#if os(Linux)
    import ChorusEpoll
#endif
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The whole server as a swift-service-lifecycle `Service`: binds, serves until graceful shutdown, then
/// drains (stop accepting, `/readyz` 503, 1001 to every client, wait up to the drain timeout) and returns.
public final class ChorusServer: Service, Sendable {
    package let configuration: ServerConfiguration
    package let hub: Hub
    package let state: ServerState
    /// Renders `/metrics`.
    package let metrics: MetricsExporter
    /// The Redis bus in cluster mode (`--redis`), nil on a single node.
    package let cluster: RedisClusterBus?
    /// NIO's loops: every connection on the NIO transport; on the epoll transport, the HTTP side only.
    let group: MultiThreadedEventLoopGroup
    /// The epoll transport's loops (they own the shards), empty on the NIO transport.
    private let epollLoops: [any EventLoop]
    let logger: Logger
    private let listening = OneShot<SocketAddress>()
    private let metricsListening = OneShot<SocketAddress?>()

    public init(configuration: ServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        let group: MultiThreadedEventLoopGroup
        let shardLoops: [any EventLoop]
        switch configuration.transport {
        case .nio:
            group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.eventLoops)
            shardLoops = Array(group.makeIterator())
            self.epollLoops = []
        case .epoll:
            // Plain HTTP (publish, metrics, health) and Redis need little: one NIO thread beside the epoll loops.
            group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            #if os(Linux)
                shardLoops = (0..<configuration.eventLoops).map { index in
                    do {
                        return try EpollEventLoop(name: "chorus-epoll-\(index)")
                    } catch {
                        fatalError("cannot start an epoll loop: \(error)")
                    }
                }
            #else
                fatalError("the epoll transport needs Linux")
            #endif
            self.epollLoops = shardLoops
        }
        let metrics = ChorusMetrics(version: ChorusVersion.current)
        let cluster = configuration.clusterSettings.map { settings in
            RedisClusterBus(settings: settings, loop: group.next(), logger: logger)
        }
        let hub = Hub(
            loops: shardLoops,
            settings: configuration.shardSettings,
            observer: metrics,
            clusterBus: cluster
        )
        self.cluster = cluster
        let state = ServerState(
            maxConnections: configuration.maxConnections,
            maxUpgradesPerSecond: configuration.maxUpgradesPerSecond,
            memoryLimit: MemoryLimit.discover(configured: configuration.memoryLimit),
            memoryHighWatermark: configuration.memoryHighWatermark,
            memoryLowWatermark: configuration.memoryLowWatermark
        )
        self.group = group
        self.hub = hub
        self.state = state
        self.metrics = MetricsExporter(metrics: metrics, hub: hub, state: state)
    }

    /// The address the server listens on, once bound (useful with port 0).
    public var localAddress: SocketAddress { get async throws { try await self.listening.value } }
    /// The separate metrics listener's address, or nil when metrics are served on the main port.
    package var metricsAddress: SocketAddress? { get async throws { try await self.metricsListening.value } }

    public func run() async throws {
        let access: AccessControl
        let httpDeadlines: HTTPDeadlinesByLoop
        let deadlineTicks: [RepeatedTask]
        do {
            access = try await AccessControl.make(configuration: self.configuration, logger: self.logger)
            (httpDeadlines, deadlineTicks) = try await self.startDeadlineTicks()
        } catch {
            self.listening.complete(.failure(error))
            self.metricsListening.complete(.failure(error))
            try? await self.shutdownLoops()
            throw error
        }
        // Connecting to Redis is retried in the background: local delivery never waits for it.
        self.cluster?.start(hub: self.hub)
        let initializer = ChannelInitializer(
            configuration: self.configuration,
            hub: self.hub,
            state: self.state,
            metrics: self.metrics,
            access: access,
            deadlines: httpDeadlines
        )
        let listener: MainListener
        let metricsChannel: (any Channel)?
        do {
            switch self.configuration.transport {
            case .nio:
                let bootstrap = ServerBootstrap(group: self.group)
                    .serverChannelOption(.backlog, value: 4096)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                listener = .nio(
                    try await initializer.applyChildOptions(to: bootstrap)
                        .childChannelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture { try initializer.initialize(channel) }
                        }
                        .bind(host: self.configuration.host, port: self.configuration.port)
                        .get()
                )
            case .epoll:
                listener = try await self.startEpoll(access: access, initializer: initializer)
            }
            if let metricsPort = self.configuration.metricsPort {
                metricsChannel = try await ServerBootstrap(group: self.group)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture { try initializer.initializeMetricsOnly(channel) }
                    }
                    .bind(host: self.configuration.host, port: metricsPort)
                    .get()
            } else {
                metricsChannel = nil
            }
        } catch {
            self.listening.complete(.failure(error))
            self.metricsListening.complete(.failure(error))
            try? await self.cluster?.shutdown().get()
            try? await self.shutdownLoops()
            throw error
        }
        let address = listener.localAddress
        let memorySamples = self.startMemorySamples()
        self.metrics.recordBaseline()
        self.listening.complete(.success(address))
        self.metricsListening.complete(.success(metricsChannel?.localAddress))
        self.logger.info(
            "chorus listening",
            metadata: [
                "address": "\(address)", "event_loops": "\(self.configuration.eventLoops)",
                "slow_consumer": "\(self.configuration.slowConsumer.rawValue)",
            ]
        )
        self.logAccess(access)
        let statusReports =
            self.configuration.statusPage
            ? StatusPublisher(hub: self.hub, state: self.state, metrics: self.metrics, loop: self.group.next()).start()
            : nil
        // Serve until SIGTERM/SIGINT (or the service group's cancellation).
        try? await gracefulShutdown()
        memorySamples?.cancel()

        self.logger.info("graceful shutdown: draining", metadata: ["connections": "\(self.state.capacity.taken)"])
        self.state.stopAccepting()
        await listener.close()
        // The drain ends when the last connection is gone or the drain timeout passes, whichever is first.
        let loop = self.group.next()
        let drained = loop.makePromise(of: Void.self)
        self.state.capacity.succeedWhenNone(drained)
        self.hub.closeAll(code: .goingAway, reason: "server shutting down", because: .shutdown)
        let timeout = loop.scheduleTask(in: self.configuration.drainTimeout) { drained.succeed() }
        try? await drained.futureResult.get()
        timeout.cancel()
        self.state.capacity.forgetWaiters()
        for task in deadlineTicks { task.cancel() }
        statusReports?.cancel()
        let remaining = self.state.capacity.taken
        self.logger.info(
            "graceful shutdown: done",
            metadata: ["drained": "\(remaining == 0)", "remaining": "\(remaining)"]
        )
        try? await metricsChannel?.close()
        try? await self.cluster?.shutdown().get()
        try await self.shutdownLoops()
    }

    /// Starts one periodic tick on each NIO loop, which runs that loop's deadlines: its HTTP connections' request
    /// deadlines (`HTTPDeadlines`) and, on the NIO transport, whose loops are the shards', the shard's connection
    /// deadlines (`Shard.runDueDeadlines`: close handshakes, pings and idle timeouts, token expiry). The epoll loops
    /// run their shard's from their own ticker (`EpollTransport`).
    private func startDeadlineTicks() async throws -> (HTTPDeadlinesByLoop, [RepeatedTask]) {
        let loops = Array(self.group.makeIterator())
        let deadlines = try await HTTPDeadlinesByLoop.make(on: loops)
        let tick = LoopDeadlines.tickInterval(
            handshakeTimeout: self.configuration.handshakeTimeout,
            closeTimeout: self.configuration.closeTimeout,
            pingInterval: self.configuration.pingInterval
        )
        let hub = self.hub
        let loopsHaveShards = self.configuration.transport == .nio
        let ticks = loops.map { loop in
            loop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in
                let now = NIODeadline.now()
                deadlines.deadlines(on: loop).runDue(now: now)
                if loopsHaveShards { hub.shard(on: loop).runDueDeadlines(now: now) }
            }
        }
        return (deadlines, ticks)
    }

    /// Logs how admission is limited, and starts sampling memory use for it every `--memory-sample-interval` on
    /// a NIO loop (nil: no memory limit is known, memory-aware admission is off). A change of admission is logged.
    private func startMemorySamples() -> RepeatedTask? {
        let rate = self.configuration.maxUpgradesPerSecond.map(String.init) ?? "off"
        guard let memory = self.state.memory else {
            self.logger.info(
                "admission",
                metadata: [
                    "max_upgrades_per_second": "\(rate)",
                    "memory": "off: no --memory-limit and no cgroup v2 memory.max",
                ]
            )
            return nil
        }
        let source =
            switch memory.limit.source {
            case .configured: "--memory-limit, compared with resident memory"
            case .cgroup(let directory): "\(directory)/memory.max, compared with memory.current"
            }
        self.logger.info(
            "admission",
            metadata: [
                "max_upgrades_per_second": "\(rate)", "memory_limit_bytes": "\(memory.limit.bytes)",
                "memory_limit_source": "\(source)", "memory_high_bytes": "\(memory.watermarks.highBytes)",
                "memory_low_bytes": "\(memory.watermarks.lowBytes)",
            ]
        )
        let logger = self.logger
        let watermarks = memory.watermarks
        let interval = self.configuration.memorySampleInterval
        // The first sample before the server is reported listening, so a server that starts over its limit
        // refuses from its first upgrade on.
        let sample = { @Sendable in
            guard let changed = memory.sample() else { return }
            let metadata: Logger.Metadata = [
                "used_bytes": "\(changed.usedBytes)", "limit_bytes": "\(watermarks.limitBytes)",
            ]
            if changed.admits {
                logger.info("memory back under the low watermark: admitting upgrades again", metadata: metadata)
            } else {
                logger.warning(
                    "memory over the high watermark: new upgrades get 503 and /readyz 503 until under the low one",
                    metadata: metadata
                )
            }
        }
        sample()
        return self.group.next().scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in sample() }
    }

    /// Stops the epoll loops (if any), then the NIO group.
    private func shutdownLoops() async throws {
        for loop in self.epollLoops { try? await loop.shutdownGracefully() }
        try await self.group.shutdownGracefully()
    }

    /// States at start-up who may connect, and warns when anyone may: no tokens and no allowed origins leave
    /// the server open to every web page a visitor has open. Never logs a secret.
    private func logAccess(_ access: AccessControl) {
        let origins = self.configuration.allowedOrigins.map(\.description).joined(separator: ",")
        self.logger.info(
            "access control",
            metadata: [
                "token_algorithms": "\(access.tokens?.acceptedAlgorithms.joined(separator: ",") ?? "off")",
                "allowed_origins": "\(origins.isEmpty ? "any" : origins)",
                "api_keys": "\(self.configuration.apiKeys.count)",
                "max_connections_per_ip": "\(self.configuration.maxConnectionsPerIP.map(String.init) ?? "off")",
            ]
        )
        if self.configuration.apiKeys.isEmpty && !self.configuration.trustedProxies.isEmpty {
            self.logger.warning(
                """
                publishing needs no API key from loopback clients, and a trusted proxy is set: only requests whose \
                X-Forwarded-For names a loopback client may publish; set --api-key to publish through the proxy
                """
            )
        }
        if access.tokens == nil && self.configuration.allowedOrigins.isEmpty {
            self.logger.warning(
                "WebSocket connections are open to everyone: set --jwt-secret or --jwt-public-key, or --allowed-origin"
            )
        }
    }
}
