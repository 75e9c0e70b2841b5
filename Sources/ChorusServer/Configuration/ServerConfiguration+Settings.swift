import ChorusCore
import ChorusRedis
import Logging
import NIOCore

extension ServerConfiguration {
    /// Every setting an operator can give, each declared once: flag, `CHORUS_*` variable, field and parser, help.
    /// Defaults come from the fields' own defaults above. The environment, the flags, `chorus --help` (in this
    /// order) and the README's configuration table all follow from this table.
    ///
    /// To add a setting: add its field (with a default and a `///` line) to `ServerConfiguration`, a row here, an
    /// `@Option(setting:)` or `@Flag(setting:)` line at the same place in `Sources/chorus/Entrypoint.swift`, and
    /// the row `ConfigurationTests` asks for to README.md's configuration table.
    package static let settings: [Setting] = [
        Setting("host", "CHORUS_HOST", \.host, .text, help: "Address to listen on"),
        Setting("port", "CHORUS_PORT", \.port, .integer, help: "TCP port for WebSocket and HTTP (0 picks a free port)"),
        Setting(
            "event-loops",
            "CHORUS_EVENT_LOOPS",
            \.eventLoops,
            .integer,
            help: "Event-loop threads, each owning a shard of the connections",
            machineDependentDefault: "number of cores"
        ),
        Setting(
            "transport",
            "CHORUS_TRANSPORT",
            \.transport,
            .transport,
            help: "WebSocket transport: epoll (Linux only; ~130 B per idle connection) or nio",
            machineDependentDefault: "epoll on Linux, nio elsewhere"
        ),
        Setting(
            "max-connections",
            "CHORUS_MAX_CONNECTIONS",
            \.maxConnections,
            .integer,
            help: "Open WebSocket connections at most; more get HTTP 503"
        ),
        Setting(
            "max-message-bytes",
            "CHORUS_MAX_MESSAGE_BYTES",
            \.maxMessageBytes,
            .integer,
            help: "Largest message in bytes: inbound closes with 1009, publish gets 413"
        ),
        Setting(
            "max-subscriptions",
            "CHORUS_MAX_SUBSCRIPTIONS",
            \.maxSubscriptions,
            .integer,
            help: "Channels per connection"
        ),
        Setting(
            "max-pending-bytes",
            "CHORUS_MAX_PENDING_BYTES",
            \.maxPendingBytes,
            .integer,
            help: "Outbound bytes a connection may have queued before the slow-consumer policy applies"
        ),
        Setting(
            "max-queued-publishes",
            "CHORUS_MAX_QUEUED_PUBLISHES",
            \.maxQueuedPublishes,
            .integer,
            help: "Publishes an event loop may have waiting; more get HTTP 503"
        ),
        Setting(
            "max-control-frames-per-second",
            "CHORUS_MAX_CONTROL_FRAMES_PER_SECOND",
            \.maxControlFramesPerSecond,
            .integer,
            help: "Pings and pongs a connection may send per second; one more closes it with 1008; 0 = no limit"
        ),
        Setting(
            "slow-consumer",
            "CHORUS_SLOW_CONSUMER",
            \.slowConsumer,
            .choice,
            help: "Slow consumers: disconnect (close 1008) or drop messages"
        ),
        Setting(
            "client-publish",
            "CHORUS_CLIENT_PUBLISH",
            \.clientPublish,
            .boolean,
            help: "Let clients publish with {\"publish\":…}"
        ),
        Setting(
            "api-key",
            "CHORUS_API_KEY",
            \.apiKeys,
            listOf: .text,
            whenEmpty: "none",
            help: "Bearer key required by POST /publish; repeat for key rotation; none means loopback peers only"
        ),
        Setting(
            "history-size",
            "CHORUS_HISTORY_SIZE",
            \.historySize,
            .integer,
            help: "Messages of history per channel, for chorus.v1 recovery and GET /history; 0 = off"
        ),
        Setting(
            "history-ttl",
            "CHORUS_HISTORY_TTL",
            \.historyTTL,
            .duration,
            help: "How long a channel's history is kept after its last publish"
        ),
        Setting(
            "history-max-bytes",
            "CHORUS_HISTORY_MAX_BYTES",
            \.historyMaxBytes,
            .integer,
            help: "All channels' history in bytes; the least recently published channels are evicted first"
        ),
        Setting(
            "recovery-max-messages",
            "CHORUS_RECOVERY_MAX_MESSAGES",
            \.recoveryMaxMessages,
            .integer,
            help: "Most messages one recovery replays; more answers recovered:false"
        ),
        Setting(
            "ping-interval",
            "CHORUS_PING_INTERVAL",
            \.pingInterval,
            .duration,
            help: "Server ping interval; silent for two intervals closes"
        ),
        Setting(
            "handshake-timeout",
            "CHORUS_HANDSHAKE_TIMEOUT",
            \.handshakeTimeout,
            .duration,
            help: "Time to send a complete request (also the idle keep-alive limit)"
        ),
        Setting(
            "drain-timeout",
            "CHORUS_DRAIN_TIMEOUT",
            \.drainTimeout,
            .duration,
            help: "On shutdown, time to wait for clients' close replies"
        ),
        Setting(
            "close-timeout",
            "CHORUS_CLOSE_TIMEOUT",
            \.closeTimeout,
            .duration,
            help: "Time a server-initiated close waits for the peer's close"
        ),
        Setting(
            "read-buffer-bytes",
            "CHORUS_READ_BUFFER_BYTES",
            \.readBufferBytes,
            .integer,
            help: "Receive buffer per read in bytes (NIO transport)"
        ),
        Setting(
            "socket-send-buffer-bytes",
            "CHORUS_SOCKET_SEND_BUFFER_BYTES",
            \.socketSendBufferBytes,
            .optional(.integer, absent: "kernel autotuning"),
            help: "Kernel send buffer per connection, SO_SNDBUF"
        ),
        Setting(
            "echo-path",
            "CHORUS_ECHO_PATH",
            \.echoPath,
            .optional(.text, absent: "off"),
            help: "Path of an echo endpoint for conformance testing, e.g. /echo"
        ),
        Setting(
            "metrics-port",
            "CHORUS_METRICS_PORT",
            \.metricsPort,
            .optional(.integer, absent: "main port"),
            help: "Serve /metrics on this port instead of the main one"
        ),
        Setting(
            "metrics-token",
            "CHORUS_METRICS_TOKEN",
            \.metricsToken,
            .optional(.text, absent: "none"),
            help: "Bearer token required by /metrics"
        ),
        Setting(
            "status-page",
            "CHORUS_STATUS_PAGE",
            \.statusPage,
            .boolean,
            help: "Serve a live status page at /status (behind --metrics-token when set)"
        ),
        Setting(
            "log-level",
            "CHORUS_LOG_LEVEL",
            \.logLevel,
            .logLevel,
            help: "Log level: trace, debug, info, notice, warning, error or critical"
        ),
        Setting(
            "jwt-secret",
            "CHORUS_JWT_SECRET",
            \.jwtSecret,
            .optional(.text, absent: "none"),
            help: "HS256 secret (32+ bytes): WebSocket upgrades then need a signed token"
        ),
        Setting(
            "jwt-public-key",
            "CHORUS_JWT_PUBLIC_KEY",
            \.jwtPublicKeyFile,
            .optional(.text, absent: "none"),
            help: "PEM file with an RS256 or ES256 public key for WebSocket tokens"
        ),
        Setting(
            "allowed-origin",
            "CHORUS_ALLOWED_ORIGIN",
            \.allowedOrigins,
            listOf: .origin,
            whenEmpty: "any",
            help: "Origin allowed to open WebSocket connections, exact or *.example.com; repeatable"
        ),
        Setting(
            "max-connections-per-ip",
            "CHORUS_MAX_CONNECTIONS_PER_IP",
            \.maxConnectionsPerIP,
            .limit(absent: "off"),
            help: "WebSocket connections per client address; more get HTTP 429; 0 = off"
        ),
        Setting(
            "max-upgrades-per-second",
            "CHORUS_MAX_UPGRADES_PER_SECOND",
            \.maxUpgradesPerSecond,
            .limit(absent: "off"),
            help: "WebSocket upgrades admitted per second on this node; more get HTTP 503 with a Retry-After turn "
                + "at that rate; 0 = off"
        ),
        Setting(
            "memory-limit",
            "CHORUS_MEMORY_LIMIT",
            \.memoryLimit,
            .bytes(absent: "cgroup memory.max, else off"),
            help: "Memory limit for admission, in bytes or with Ki/Mi/Gi (512Mi); wins over the cgroup's memory.max"
        ),
        Setting(
            "memory-high-watermark",
            "CHORUS_MEMORY_HIGH_WATERMARK",
            \.memoryHighWatermark,
            .integer,
            help: "Percent of the memory limit at which upgrades get HTTP 503 and /readyz turns 503"
        ),
        Setting(
            "memory-low-watermark",
            "CHORUS_MEMORY_LOW_WATERMARK",
            \.memoryLowWatermark,
            .integer,
            help: "Percent of the memory limit below which upgrades are admitted again"
        ),
        Setting(
            "memory-sample-interval",
            "CHORUS_MEMORY_SAMPLE_INTERVAL",
            \.memorySampleInterval,
            .duration,
            help: "How often memory use is sampled for admission"
        ),
        Setting(
            "trusted-proxy",
            "CHORUS_TRUSTED_PROXY",
            \.trustedProxies,
            listOf: .network,
            whenEmpty: "none",
            help: "Address or CIDR block of a proxy whose X-Forwarded-For is trusted; repeatable"
        ),
        Setting(
            "redis",
            "CHORUS_REDIS_URL",
            \.redis,
            .redisURL(absent: "off"),
            help: "Cluster mode through Redis pub/sub: redis://[user:password@]host:port[/db]; empty = off"
        ),
        Setting(
            "redis-pattern",
            "CHORUS_REDIS_PATTERN",
            \.redisPattern,
            .boolean,
            help: "Cluster mode: PSUBSCRIBE chorus:* instead of per-channel SUBSCRIBE"
        ),
        Setting(
            "require-redis",
            "CHORUS_REQUIRE_REDIS",
            \.requireRedis,
            .boolean,
            help: "Cluster mode: /readyz answers 503 while Redis is unreachable"
        ),
        Setting(
            "compression",
            "CHORUS_COMPRESSION",
            \.compression,
            .boolean,
            help: "Negotiate permessage-deflate with clients that offer it"
        ),
        Setting(
            "compression-min-bytes",
            "CHORUS_COMPRESSION_MIN_BYTES",
            \.compressionMinBytes,
            .integer,
            help: "Smaller published messages go uncompressed"
        ),
    ]

    /// The setting whose flag is `flag` (without `--`), if any.
    package static func setting(_ flag: String) -> Setting? {
        Self.settings.first { $0.flag == flag }
    }
}

// The parsers only one setting uses.

extension Setting.Parser where Value == ServerConfiguration.Transport {
    /// `nio` or `epoll`; epoll only on Linux.
    fileprivate static var transport: Self {
        let choice = Self.choice
        return Self(
            parse: { (text: String) throws(ConfigurationError) -> Value in
                let transport = try choice.parse(text)
                #if !os(Linux)
                    if transport == .epoll { throw ConfigurationError("the epoll transport needs Linux") }
                #endif
                return transport
            },
            render: choice.render
        )
    }
}

extension Setting.Parser where Value == Logger.Level {
    /// A level's name, in any case.
    fileprivate static var logLevel: Self {
        Self(
            parse: { (text: String) throws(ConfigurationError) -> Value in
                guard let level = Logger.Level(rawValue: text.lowercased()) else {
                    throw ConfigurationError("expected \(Setting.alternatives(Logger.Level.allCases))")
                }
                return level
            },
            render: { .value($0.rawValue) }
        )
    }
}

extension Setting.Parser where Value == Int? {
    /// A limit where 0 means none (nil).
    fileprivate static func limit(absent: String) -> Self {
        let integer = Setting.Parser<Int>.integer
        var parser = Self(
            parse: { (text: String) throws(ConfigurationError) -> Value in
                let limit = try integer.parse(text)
                return limit == 0 ? nil : limit
            },
            render: { $0.map(integer.render) ?? .words(absent) }
        )
        parser.valueName = integer.valueName
        return parser
    }
}

extension Setting.Parser where Value == Int? {
    /// A positive number of bytes, plain or with a binary suffix (`Ki`, `Mi`, `Gi`, `Ti`, as Kubernetes writes
    /// memory limits); nil (the default) is described by `absent`.
    fileprivate static func bytes(absent: String) -> Self {
        let integer = Setting.Parser<Int>.integer
        var parser = Self(
            parse: { (text: String) throws(ConfigurationError) -> Value in
                let suffixes: [(String, Int)] = [("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40)]
                let suffix = suffixes.first { text.hasSuffix($0.0) }
                let (digits, scale) = suffix.map { (String(text.dropLast(2)), $0.1) } ?? (text, 1)
                guard let count = try? integer.parse(digits), count > 0, count <= Int.max / scale else {
                    throw ConfigurationError(
                        "expected a positive number of bytes such as 536870912 or 512Mi, got '\(text)'"
                    )
                }
                return count * scale
            },
            render: { $0.map(integer.render) ?? .words(absent) }
        )
        parser.valueName = "bytes"
        return parser
    }
}

extension Setting.Parser where Value == RedisURL? {
    /// A `redis://` URL; empty is off, so a deployment can pass the variable through unset (compose's
    /// `${CHORUS_REDIS_URL:-}`).
    fileprivate static func redisURL(absent: String) -> Self {
        Self(
            parse: { (text: String) throws(ConfigurationError) -> Value in
                guard !text.isEmpty else { return nil }
                do throws(RedisURLError) {
                    return try RedisURL(parsing: text)
                } catch {
                    throw ConfigurationError(error.description)
                }
            },
            render: { $0.map { .value("\($0)") } ?? .words(absent) }
        )
    }
}

extension Setting.Parser where Value: CustomStringConvertible {
    /// A value `make` builds from the text, shown as its description; `expected` says what a refused text should
    /// have looked like.
    fileprivate static func made(by make: @escaping @Sendable (String) -> Value?, expected: String) -> Self {
        Self(
            parse: { (text: String) throws(ConfigurationError) -> Value in
                guard let value = make(text) else { throw ConfigurationError(expected) }
                return value
            },
            render: { .value($0.description) }
        )
    }
}

extension Setting.Parser where Value == OriginPattern {
    /// `https://app.example.com` or `*.example.com`.
    fileprivate static var origin: Self {
        .made(
            by: { OriginPattern($0) },
            expected: "expected an origin such as https://app.example.com or *.example.com"
        )
    }
}

extension Setting.Parser where Value == IPNetwork {
    /// An address or a CIDR block, IPv4 or IPv6.
    fileprivate static var network: Self {
        .made(
            by: { IPNetwork($0) },
            expected: "expected an address or CIDR block such as 10.0.0.0/8 or fd00::/8"
        )
    }
}
