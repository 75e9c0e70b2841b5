import ChorusCore
import ChorusRedis
import Logging
import NIOCore

/// Everything an operator can set. Every field has a default; `CHORUS_*` environment variables and command-line
/// flags override them, flags winning. Each setting is declared once, in `settings`
/// (`ServerConfiguration+Settings.swift`).
///
/// Public only as far as the allocation gates in `Benchmarks/` need (address, loops, transport); the rest is
/// package API.
public struct ServerConfiguration: Sendable {
    /// The transports a server can run (`--transport`).
    public enum Transport: String, Sendable, CaseIterable {
        case nio
        case epoll

        /// epoll on Linux, NIO elsewhere.
        public static var platformDefault: Transport {
            #if os(Linux)
                .epoll
            #else
                .nio
            #endif
        }
    }

    /// Address to listen on.
    public var host = "127.0.0.1"
    /// TCP port for WebSocket and HTTP traffic (0 picks a free port).
    public var port = 8080
    /// Event loops (threads); each owns a shard of the connections.
    public var eventLoops = System.coreCount
    /// Which transport serves WebSocket connections: `epoll` (Linux, the default there: epoll loops with a
    /// 32-byte record per connection beside its metadata block; plain HTTP on the same port is handed to NIO) or
    /// `nio` (one NIO Channel per socket; every platform).
    public var transport: Transport = .platformDefault
    /// Open WebSocket connections at most; past it upgrades get HTTP 503.
    package var maxConnections = 50_000
    /// Largest message in bytes, inbound (1009) and published (413).
    package var maxMessageBytes = 64 * 1024
    /// Channels one connection may follow.
    package var maxSubscriptions = 64
    /// Outbound bytes one connection may have queued before the slow-consumer policy applies.
    package var maxPendingBytes = 1024 * 1024
    /// Publishes one event loop may have waiting to be fanned out; a publish past it is refused with 503 (HTTP) or
    /// dropped and counted (client and cluster publishes), never queued without bound.
    package var maxQueuedPublishes = 10_000
    /// Control frames (pings, pongs) one connection may send per second; one more closes it with 1008. 0: no limit.
    package var maxControlFramesPerSecond = 100
    /// What happens to a slow consumer: close it (1008) or drop its messages.
    package var slowConsumer: SlowConsumerPolicy = .disconnect
    /// Whether clients may publish with `{"publish": …}`.
    package var clientPublish = false
    /// Messages of history kept per channel for recovery (`chorus.v1`) and `GET /history`; 0: none.
    package var historySize = 0
    /// How long a channel's history is kept after its last publish.
    package var historyTTL: TimeAmount = .minutes(5)
    /// All channels' history and stream state together, in bytes (least recently published channels go first).
    package var historyMaxBytes = 64 * 1024 * 1024
    /// A recovery that would replay more messages than this answers `recovered:false` instead.
    package var recoveryMaxMessages = 300
    /// Bearer keys accepted by `POST /publish` (several during a key rotation); with none only loopback peers may
    /// publish.
    package var apiKeys: [String] = []
    /// Interval between server pings; a connection silent for two intervals is closed.
    package var pingInterval: TimeAmount = .seconds(30)
    /// Time a new connection has to send a complete request (and an idle HTTP connection stays open).
    package var handshakeTimeout: TimeAmount = .seconds(10)
    /// On shutdown, how long to wait for clients to answer the 1001 close before closing them.
    package var drainTimeout: TimeAmount = .seconds(10)
    /// How long a server-initiated close waits for the peer's close frame.
    package var closeTimeout: TimeAmount = .seconds(5)
    /// Receive buffer per read, in bytes (NIO keeps one per connection for its whole life).
    package var readBufferBytes = 256
    /// Kernel send buffer per connection (SO_SNDBUF); nil leaves it to the kernel's autotuning. Setting it
    /// bounds kernel memory per subscriber and makes the pending-bytes limit bite sooner.
    package var socketSendBufferBytes: Int? = nil
    /// Serve `/metrics` on this port instead of the main one (nil: on the main port).
    package var metricsPort: Int? = nil
    /// Bearer token required by `/metrics` (nil: no token).
    package var metricsToken: String? = nil
    /// Serve the live status page (`GET /status`, its feed at `/status/live`), behind `metricsToken` when set.
    package var statusPage = false
    /// Path of the echo endpoint (for example `/echo`), off when nil: each data message a client sends there
    /// is sent back through the broadcast's frame encoder and write path (for conformance testing).
    package var echoPath: String? = nil
    /// Whether to negotiate permessage-deflate (RFC 7692) with clients that offer it.
    package var compression = true
    /// Published messages smaller than this go uncompressed even to clients that negotiated compression.
    package var compressionMinBytes = 256
    /// Log level.
    package var logLevel: Logger.Level = .info
    /// HS256 secret for connection tokens; with it (or `jwtPublicKeyFile`) every WebSocket upgrade needs a token.
    package var jwtSecret: String? = nil
    /// PEM file with an RSA (RS256) or P-256 (ES256) public key for connection tokens.
    package var jwtPublicKeyFile: String? = nil
    /// Origins allowed to open WebSocket connections (exact, or `*.example.com`); empty allows all.
    package var allowedOrigins: [OriginPattern] = []
    /// Open WebSocket connections per client address at most; past it upgrades get 429. nil: no limit.
    package var maxConnectionsPerIP: Int? = nil
    /// WebSocket upgrades admitted per second on this node (a token bucket holding one second's worth); past it
    /// upgrades get 503 with a `Retry-After` of 1 to 5 s. nil: no limit.
    package var maxUpgradesPerSecond: Int? = nil
    /// The memory limit admission compares use against, in bytes; nil: the cgroup's `memory.max` when one is set,
    /// else none (memory-aware admission off).
    package var memoryLimit: Int? = nil
    /// Percent of the memory limit at which upgrades get 503 and `/readyz` turns 503.
    package var memoryHighWatermark = 85
    /// Percent of the memory limit below which admission reopens after the high watermark closed it.
    package var memoryLowWatermark = 75
    /// How often memory use is sampled for admission.
    package var memorySampleInterval: TimeAmount = .milliseconds(250)
    /// Peers whose `X-Forwarded-For` header names the client (for the per-address limit).
    package var trustedProxies: [IPNetwork] = []
    /// Cluster mode: the Redis that carries publishes between nodes (nil: a single node, no Redis).
    package var redis: RedisURL? = nil
    /// In cluster mode, subscribe to the pattern `chorus:*` instead of to each channel with local subscribers.
    package var redisPattern = false
    /// In cluster mode, report not ready on `/readyz` while Redis is unreachable.
    package var requireRedis = false

    public init() {}

    /// The per-connection settings the engine's shards enforce.
    package var shardSettings: ShardSettings {
        var settings = ShardSettings()
        settings.maxMessageBytes = self.maxMessageBytes
        settings.maxSubscriptions = self.maxSubscriptions
        settings.maxQueuedPublishes = self.maxQueuedPublishes
        settings.clientPublish = self.clientPublish
        settings.slowConsumerPolicy = self.slowConsumer
        settings.maxControlFramesPerSecond = self.maxControlFramesPerSecond
        settings.closeTimeout = self.closeTimeout
        settings.handshakeTimeout = self.handshakeTimeout
        settings.pingInterval = self.pingInterval
        settings.compressionMinBytes = self.compressionMinBytes
        settings.history.size = self.historySize
        settings.history.ttl = self.historyTTL
        settings.history.maxBytes = self.historyMaxBytes
        settings.history.recoveryMaxMessages = self.recoveryMaxMessages
        return settings
    }

    /// The cluster bus's settings, or nil on a single node.
    package var clusterSettings: ClusterSettings? {
        guard let url = self.redis else { return nil }
        var settings = ClusterSettings(url: url)
        settings.usePattern = self.redisPattern
        settings.maxMessageBytes = self.maxMessageBytes
        settings.historySize = self.historySize
        settings.historyTTL = self.historyTTL
        return settings
    }

    /// Checks the values against each other; throws the first problem found.
    package func validate() throws(ConfigurationError) {
        func positive(_ value: Int, _ name: String) throws(ConfigurationError) {
            guard value > 0 else { throw ConfigurationError("\(name) must be positive, got \(value)") }
        }
        guard (0...65535).contains(self.port) else { throw ConfigurationError("port must be 0...65535") }
        try positive(self.eventLoops, "event-loops")
        try positive(self.maxConnections, "max-connections")
        try positive(self.maxMessageBytes, "max-message-bytes")
        try positive(self.maxSubscriptions, "max-subscriptions")
        try positive(self.maxPendingBytes, "max-pending-bytes")
        try positive(self.maxQueuedPublishes, "max-queued-publishes")
        guard self.historySize >= 0 else { throw ConfigurationError("history-size must not be negative") }
        try positive(self.historyMaxBytes, "history-max-bytes")
        try positive(self.recoveryMaxMessages, "recovery-max-messages")
        guard self.maxControlFramesPerSecond >= 0, self.maxControlFramesPerSecond <= Int(UInt16.max) else {
            throw ConfigurationError("max-control-frames-per-second must be 0 (no limit) to 65535")
        }
        guard self.compressionMinBytes >= 0 else {
            throw ConfigurationError("compression-min-bytes must not be negative")
        }
        guard self.readBufferBytes >= 64 else { throw ConfigurationError("read-buffer-bytes must be at least 64") }
        for (value, name) in [
            (self.pingInterval, "ping-interval"), (self.handshakeTimeout, "handshake-timeout"),
            (self.drainTimeout, "drain-timeout"), (self.closeTimeout, "close-timeout"), (self.historyTTL, "history-ttl"),
        ] where value.nanoseconds <= 0 {
            throw ConfigurationError("\(name) must be positive")
        }
        if let bytes = self.socketSendBufferBytes, bytes < 1024 {
            throw ConfigurationError("socket-send-buffer-bytes must be at least 1024")
        }
        if let port = self.metricsPort, !(0...65535).contains(port) {
            throw ConfigurationError("metrics-port must be 0...65535")
        }
        if let token = self.metricsToken, token.isEmpty { throw ConfigurationError("metrics-token must not be empty") }
        if self.apiKeys.contains(where: \.isEmpty) { throw ConfigurationError("api-key must not be empty") }
        try self.validateAccess()
        if self.redis == nil && (self.redisPattern || self.requireRedis) {
            throw ConfigurationError("redis-pattern and require-redis need --redis")
        }
        if let path = self.echoPath {
            guard path.hasPrefix("/"), !path.contains("?"), path.count > 1 else {
                throw ConfigurationError("echo-path must be a path such as /echo, got '\(path)'")
            }
            guard case .notFound = Route(uri: path) else {
                throw ConfigurationError("echo-path '\(path)' is already one of Chorus's own paths")
            }
        }
    }
}

extension ServerConfiguration {
    /// Checks the access-control settings (tokens, origins, per-address limit).
    fileprivate func validateAccess() throws(ConfigurationError) {
        // RFC 7518 3.2: an HS256 key must be at least as long as the hash (256 bits).
        if let secret = self.jwtSecret, secret.utf8.count < 32 {
            throw ConfigurationError("jwt-secret must be at least 32 bytes long")
        }
        if let path = self.jwtPublicKeyFile {
            do {
                _ = try TokenPublicKey.load(path: path)
            } catch {
                throw ConfigurationError("jwt-public-key: \(error.description)")
            }
        }
        if let limit = self.maxConnectionsPerIP, limit <= 0 {
            throw ConfigurationError("max-connections-per-ip must be positive")
        }
        try self.validateAdmission()
    }

    /// Checks the admission settings (upgrade rate, memory limit and watermarks).
    fileprivate func validateAdmission() throws(ConfigurationError) {
        if let rate = self.maxUpgradesPerSecond, rate <= 0 {
            throw ConfigurationError("max-upgrades-per-second must be positive")
        }
        if let limit = self.memoryLimit, limit <= 0 { throw ConfigurationError("memory-limit must be positive") }
        guard (1...100).contains(self.memoryHighWatermark) else {
            throw ConfigurationError("memory-high-watermark must be 1...100 (percent of the memory limit)")
        }
        guard self.memoryLowWatermark >= 1, self.memoryLowWatermark < self.memoryHighWatermark else {
            throw ConfigurationError("memory-low-watermark must be at least 1 and below memory-high-watermark")
        }
        guard self.memorySampleInterval.nanoseconds >= 1_000_000 else {
            throw ConfigurationError("memory-sample-interval must be at least 1ms")
        }
    }

    /// True when WebSocket upgrades need a token.
    package var requiresTokens: Bool { self.jwtSecret != nil || self.jwtPublicKeyFile != nil }
}

/// A configuration value that cannot be used, with a message for the operator.
package struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    package var description: String
    package init(_ description: String) { self.description = description }
}
