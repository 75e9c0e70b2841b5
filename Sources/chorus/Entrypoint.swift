import ArgumentParser
import ChorusServer
import Logging
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `chorus`: a WebSocket broadcast server that encodes each message once and shares it with every subscriber.
///
/// Settings come from defaults, then `CHORUS_*` environment variables, then these flags (flags win).
@main
struct Chorus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chorus",
        abstract: "A lean WebSocket broadcast server: clients subscribe to channels, publishers post messages.",
        discussion: """
            Every flag can also be set with its CHORUS_* environment variable (for example --max-connections \
            and CHORUS_MAX_CONNECTIONS); a flag wins over the variable. Durations accept 500ms, 10s, 2m or a \
            number of seconds.
            """,
        subcommands: [TokenCommand.self]
    )

    @Option(help: "Address to listen on (default: 127.0.0.1; env CHORUS_HOST).")
    var host: String?
    @Option(help: "TCP port for WebSocket and HTTP (default: 8080; env CHORUS_PORT).")
    var port: String?
    @Option(help: "Event loop threads (default: number of cores; env CHORUS_EVENT_LOOPS).")
    var eventLoops: String?
    @Option(help: "WebSocket transport: epoll (Linux only; ~130 B per idle connection) or nio (default: epoll on Linux, nio elsewhere; env CHORUS_TRANSPORT).")
    var transport: String?
    @Option(help: "Open WebSocket connections at most; more get HTTP 503 (default: 50000; env CHORUS_MAX_CONNECTIONS).")
    var maxConnections: String?
    @Option(help: "Largest message in bytes: inbound closes with 1009, publish gets 413 (default: 65536; env CHORUS_MAX_MESSAGE_BYTES).")
    var maxMessageBytes: String?
    @Option(help: "Channels per connection (default: 64; env CHORUS_MAX_SUBSCRIPTIONS).")
    var maxSubscriptions: String?
    @Option(help: "Outbound bytes a connection may have queued (default: 1048576; env CHORUS_MAX_PENDING_BYTES).")
    var maxPendingBytes: String?
    @Option(
        help: "Publishes an event loop may have waiting; more get HTTP 503 (default: 10000; env CHORUS_MAX_QUEUED_PUBLISHES)."
    )
    var maxQueuedPublishes: String?
    @Option(
        help: "Pings and pongs a connection may send per second; one more closes it with 1008, 0 = no limit (default: 100; env CHORUS_MAX_CONTROL_FRAMES_PER_SECOND)."
    )
    var maxControlFramesPerSecond: String?
    @Option(help: "Slow consumers: disconnect (close 1008) or drop messages (default: disconnect; env CHORUS_SLOW_CONSUMER).")
    var slowConsumer: String?
    @Flag(inversion: .prefixedNo, help: "Let clients publish with {\"publish\":…} (default: off; env CHORUS_CLIENT_PUBLISH).")
    var clientPublish: Bool?
    @Option(
        help: """
            Bearer key required by POST /publish; repeat for key rotation; unset means loopback peers only \
            (env CHORUS_API_KEY, comma-separated).
            """
    )
    var apiKey: [String] = []
    @Option(help: "Server ping interval; silent for two intervals closes (default: 30s; env CHORUS_PING_INTERVAL).")
    var pingInterval: String?
    @Option(help: "Time to send a complete request (default: 10s; env CHORUS_HANDSHAKE_TIMEOUT).")
    var handshakeTimeout: String?
    @Option(help: "On shutdown, time to wait for clients' close replies (default: 10s; env CHORUS_DRAIN_TIMEOUT).")
    var drainTimeout: String?
    @Option(help: "Time a server-initiated close waits for the peer's close (default: 5s; env CHORUS_CLOSE_TIMEOUT).")
    var closeTimeout: String?
    @Option(help: "Receive buffer per read in bytes (default: 256; env CHORUS_READ_BUFFER_BYTES).")
    var readBufferBytes: String?
    @Option(help: "Kernel send buffer per connection, SO_SNDBUF (default: kernel autotuning; env CHORUS_SOCKET_SEND_BUFFER_BYTES).")
    var socketSendBufferBytes: String?
    @Option(help: "Serve /metrics on this port instead of the main one (default: main port; env CHORUS_METRICS_PORT).")
    var metricsPort: String?
    @Option(help: "Bearer token required by /metrics (default: none; env CHORUS_METRICS_TOKEN).")
    var metricsToken: String?
    @Option(help: "Path of an echo endpoint for conformance testing, e.g. /echo (default: off; env CHORUS_ECHO_PATH).")
    var echoPath: String?
    @Option(help: "trace, debug, info, notice, warning, error or critical (default: info; env CHORUS_LOG_LEVEL).")
    var logLevel: String?
    @Option(help: "HS256 secret (32+ bytes): WebSocket upgrades then need a signed token (env CHORUS_JWT_SECRET).")
    var jwtSecret: String?
    @Option(help: "PEM file with an RS256 or ES256 public key for WebSocket tokens (env CHORUS_JWT_PUBLIC_KEY).")
    var jwtPublicKey: String?
    @Option(
        help: """
            Origin allowed to open WebSocket connections, exact or *.example.com; repeatable; unset allows all \
            (env CHORUS_ALLOWED_ORIGIN, comma-separated).
            """
    )
    var allowedOrigin: [String] = []
    @Option(
        name: .customLong("max-connections-per-ip"),
        help: "WebSocket connections per client address; more get HTTP 429 (default: off; env CHORUS_MAX_CONNECTIONS_PER_IP)."
    )
    var maxConnectionsPerIP: String?
    @Option(
        help: """
            Address or CIDR block of a proxy whose X-Forwarded-For is trusted; repeatable \
            (env CHORUS_TRUSTED_PROXY, comma-separated).
            """
    )
    var trustedProxy: [String] = []
    @Option(help: "Cluster mode through Redis pub/sub: redis://[user:password@]host:port[/db] (default: off; env CHORUS_REDIS_URL).")
    var redis: String?
    @Flag(inversion: .prefixedNo, help: "Cluster mode: PSUBSCRIBE chorus:* instead of per-channel SUBSCRIBE (default: off; env CHORUS_REDIS_PATTERN).")
    var redisPattern: Bool?
    @Flag(inversion: .prefixedNo, help: "Cluster mode: /readyz answers 503 while Redis is unreachable (default: off; env CHORUS_REQUIRE_REDIS).")
    var requireRedis: Bool?
    @Flag(inversion: .prefixedNo, help: "Negotiate permessage-deflate with clients that offer it (default: on; env CHORUS_COMPRESSION).")
    var compression: Bool?
    @Option(help: "Smaller published messages go uncompressed (default: 256; env CHORUS_COMPRESSION_MIN_BYTES).")
    var compressionMinBytes: String?

    func run() async throws {
        let configuration: ServerConfiguration
        do {
            configuration = try self.resolveConfiguration(environment: Self.environment())
        } catch {
            throw ValidationError(error.description)
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = configuration.logLevel
            return handler
        }
        let logger = Logger(label: "chorus")
        let server = ChorusServer(configuration: configuration, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: server, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }

    /// Defaults, then the environment, then flags.
    func resolveConfiguration(environment: [String: String]) throws(ConfigurationError) -> ServerConfiguration {
        try ServerConfiguration.resolve(
            environment: environment,
            flags: [
                ("host", self.host), ("port", self.port), ("event-loops", self.eventLoops),
                ("transport", self.transport),
                ("max-connections", self.maxConnections), ("max-message-bytes", self.maxMessageBytes),
                ("max-subscriptions", self.maxSubscriptions), ("max-pending-bytes", self.maxPendingBytes),
                ("max-queued-publishes", self.maxQueuedPublishes),
                ("max-control-frames-per-second", self.maxControlFramesPerSecond),
                ("slow-consumer", self.slowConsumer), ("client-publish", self.clientPublish.map { String($0) }),
                ("ping-interval", self.pingInterval),
                ("handshake-timeout", self.handshakeTimeout), ("drain-timeout", self.drainTimeout),
                ("close-timeout", self.closeTimeout), ("read-buffer-bytes", self.readBufferBytes),
                ("socket-send-buffer-bytes", self.socketSendBufferBytes), ("metrics-port", self.metricsPort),
                ("metrics-token", self.metricsToken), ("echo-path", self.echoPath), ("log-level", self.logLevel),
                ("jwt-secret", self.jwtSecret), ("jwt-public-key", self.jwtPublicKey),
                ("max-connections-per-ip", self.maxConnectionsPerIP),
                ("redis", self.redis), ("redis-pattern", self.redisPattern.map { String($0) }),
                ("require-redis", self.requireRedis.map { String($0) }),
                ("compression", self.compression.map { String($0) }), ("compression-min-bytes", self.compressionMinBytes),
            ]
                + self.apiKey.map { ("api-key", $0) } + self.allowedOrigin.map { ("allowed-origin", $0) }
                + self.trustedProxy.map { ("trusted-proxy", $0) }
        )
    }

    static func environment() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let pair = String(cString: entry)
            if let equals = pair.firstIndex(of: "=") {
                result[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}
