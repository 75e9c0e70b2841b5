import ChorusCore
import ChorusRedis
import Logging
import NIOCore

extension ServerConfiguration {
    /// Every environment variable Chorus reads, with the setting it changes (listed in the README).
    package static let environmentVariables: [(name: String, setting: String)] = [
        ("CHORUS_HOST", "host"), ("CHORUS_PORT", "port"), ("CHORUS_EVENT_LOOPS", "event-loops"),
        ("CHORUS_TRANSPORT", "transport"),
        ("CHORUS_MAX_CONNECTIONS", "max-connections"), ("CHORUS_MAX_MESSAGE_BYTES", "max-message-bytes"),
        ("CHORUS_MAX_SUBSCRIPTIONS", "max-subscriptions"), ("CHORUS_MAX_PENDING_BYTES", "max-pending-bytes"),
        ("CHORUS_MAX_QUEUED_PUBLISHES", "max-queued-publishes"),
        ("CHORUS_MAX_CONTROL_FRAMES_PER_SECOND", "max-control-frames-per-second"),
        ("CHORUS_SLOW_CONSUMER", "slow-consumer"), ("CHORUS_CLIENT_PUBLISH", "client-publish"),
        ("CHORUS_API_KEY", "api-key"), ("CHORUS_PING_INTERVAL", "ping-interval"),
        ("CHORUS_HANDSHAKE_TIMEOUT", "handshake-timeout"), ("CHORUS_DRAIN_TIMEOUT", "drain-timeout"),
        ("CHORUS_CLOSE_TIMEOUT", "close-timeout"), ("CHORUS_READ_BUFFER_BYTES", "read-buffer-bytes"),
        ("CHORUS_SOCKET_SEND_BUFFER_BYTES", "socket-send-buffer-bytes"),
        ("CHORUS_METRICS_PORT", "metrics-port"), ("CHORUS_METRICS_TOKEN", "metrics-token"),
        ("CHORUS_ECHO_PATH", "echo-path"), ("CHORUS_LOG_LEVEL", "log-level"),
        ("CHORUS_JWT_SECRET", "jwt-secret"), ("CHORUS_JWT_PUBLIC_KEY", "jwt-public-key"),
        ("CHORUS_ALLOWED_ORIGIN", "allowed-origin"), ("CHORUS_MAX_CONNECTIONS_PER_IP", "max-connections-per-ip"),
        ("CHORUS_TRUSTED_PROXY", "trusted-proxy"),
        ("CHORUS_REDIS_URL", "redis"), ("CHORUS_REDIS_PATTERN", "redis-pattern"),
        ("CHORUS_REQUIRE_REDIS", "require-redis"),
        ("CHORUS_COMPRESSION", "compression"), ("CHORUS_COMPRESSION_MIN_BYTES", "compression-min-bytes"),
    ]

    /// Settings that hold a list: a flag may be repeated, and a variable holds a comma-separated list. The
    /// first flag for one of them replaces the variable's list, later ones add to it.
    package static let listSettings: Set<String> = ["api-key", "allowed-origin", "trusted-proxy"]

    /// Applies the `CHORUS_*` variables found in `environment` on top of the current values.
    package mutating func apply(environment: [String: String]) throws(ConfigurationError) {
        for (name, setting) in Self.environmentVariables {
            guard let value = environment[name] else { continue }
            do {
                try self.set(setting, to: value)
            } catch {
                throw ConfigurationError("\(name): \(error.description)")
            }
        }
    }

    /// The configuration for a start: defaults, then `environment`'s `CHORUS_*` variables, then `flags`
    /// (setting name as the flag, without `--`; nil = not given). Flags win. Validated.
    package static func resolve(
        environment: [String: String],
        flags: [(setting: String, value: String?)]
    ) throws(ConfigurationError) -> ServerConfiguration {
        var configuration = ServerConfiguration()
        try configuration.apply(environment: environment)
        var listsFromFlags: Set<String> = []
        for case (let setting, let value?) in flags {
            do {
                if Self.listSettings.contains(setting), listsFromFlags.insert(setting).inserted {
                    configuration.clear(setting)
                }
                try configuration.set(setting, to: value)
            } catch {
                throw ConfigurationError("--\(setting): \(error.description)")
            }
        }
        try configuration.validate()
        return configuration
    }

    /// Sets one setting, named as its command-line flag, from text.
    package mutating func set(_ setting: String, to text: String) throws(ConfigurationError) {
        switch setting {
        case "host": self.host = text
        case "port": self.port = try Self.integer(text)
        case "event-loops": self.eventLoops = try Self.integer(text)
        case "transport":
            guard let transport = Transport(rawValue: text) else {
                throw ConfigurationError("expected nio or epoll, got '\(text)'")
            }
            #if !os(Linux)
                if transport == .epoll { throw ConfigurationError("the epoll transport needs Linux") }
            #endif
            self.transport = transport
        case "max-connections": self.maxConnections = try Self.integer(text)
        case "max-message-bytes": self.maxMessageBytes = try Self.integer(text)
        case "max-subscriptions": self.maxSubscriptions = try Self.integer(text)
        case "max-pending-bytes": self.maxPendingBytes = try Self.integer(text)
        case "max-queued-publishes": self.maxQueuedPublishes = try Self.integer(text)
        case "max-control-frames-per-second": self.maxControlFramesPerSecond = try Self.integer(text)
        case "slow-consumer":
            guard let policy = SlowConsumerPolicy(rawValue: text) else {
                throw ConfigurationError("expected disconnect or drop, got '\(text)'")
            }
            self.slowConsumer = policy
        case "client-publish": self.clientPublish = try Self.boolean(text)
        case "api-key": self.apiKeys += Self.list(text)
        case "ping-interval": self.pingInterval = try Self.duration(text)
        case "handshake-timeout": self.handshakeTimeout = try Self.duration(text)
        case "drain-timeout": self.drainTimeout = try Self.duration(text)
        case "close-timeout": self.closeTimeout = try Self.duration(text)
        case "read-buffer-bytes": self.readBufferBytes = try Self.integer(text)
        case "socket-send-buffer-bytes": self.socketSendBufferBytes = try Self.integer(text)
        case "metrics-port": self.metricsPort = try Self.integer(text)
        case "metrics-token": self.metricsToken = text
        case "echo-path": self.echoPath = text
        case "compression": self.compression = try Self.boolean(text)
        case "compression-min-bytes": self.compressionMinBytes = try Self.integer(text)
        case "log-level":
            guard let level = Logger.Level(rawValue: text.lowercased()) else {
                throw ConfigurationError("expected trace, debug, info, notice, warning, error or critical")
            }
            self.logLevel = level
        case "jwt-secret": self.jwtSecret = text
        case "jwt-public-key": self.jwtPublicKeyFile = text
        case "allowed-origin":
            for item in Self.list(text) {
                guard let pattern = OriginPattern(item) else {
                    throw ConfigurationError("expected an origin such as https://app.example.com or *.example.com")
                }
                self.allowedOrigins.append(pattern)
            }
        case "max-connections-per-ip":
            let limit = try Self.integer(text)
            self.maxConnectionsPerIP = limit == 0 ? nil : limit
        case "trusted-proxy":
            for item in Self.list(text) {
                guard let network = IPNetwork(item) else {
                    throw ConfigurationError("expected an address or CIDR block such as 10.0.0.0/8 or fd00::/8")
                }
                self.trustedProxies.append(network)
            }
        case "redis" where text.isEmpty:
            // Empty = off, so a deployment can pass the variable through unset (compose's ${CHORUS_REDIS_URL:-}).
            self.redis = nil
        case "redis":
            do {
                self.redis = try RedisURL(parsing: text)
            } catch {
                throw ConfigurationError(error.description)
            }
        case "redis-pattern": self.redisPattern = try Self.boolean(text)
        case "require-redis": self.requireRedis = try Self.boolean(text)
        default:
            fatalError("Internal inconsistency: unknown setting \(setting)")
        }
    }

    /// Empties a list setting (before flags replace what the environment set).
    mutating func clear(_ setting: String) {
        switch setting {
        case "api-key": self.apiKeys = []
        case "allowed-origin": self.allowedOrigins = []
        case "trusted-proxy": self.trustedProxies = []
        default: fatalError("Internal inconsistency: \(setting) is not a list setting")
        }
    }

    /// The comma-separated items of `text`, trimmed of spaces; empty items are kept, for validation to refuse.
    static func list(_ text: String) -> [String] {
        text.split(separator: ",", omittingEmptySubsequences: false).map {
            String($0.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
        }
    }

    static func integer(_ text: String) throws(ConfigurationError) -> Int {
        guard let value = Int(String(text.filter { $0 != "_" })) else {
            throw ConfigurationError("expected an integer, got '\(text)'")
        }
        return value
    }

    static func boolean(_ text: String) throws(ConfigurationError) -> Bool {
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError("expected true or false, got '\(text)'")
        }
    }

    /// Parses `250ms`, `10s`, `2m` or a plain number of seconds (`1.5`).
    package static func duration(_ text: String) throws(ConfigurationError) -> TimeAmount {
        let units: [(suffix: String, nanoseconds: Double)] = [("ms", 1e6), ("s", 1e9), ("m", 60e9)]
        var number = Substring(text)
        var scale = 1e9
        for unit in units where text.hasSuffix(unit.suffix) {
            number = text.dropLast(unit.suffix.count)
            scale = unit.nanoseconds
            break
        }
        guard let value = Double(number), value.isFinite, value >= 0 else {
            throw ConfigurationError("expected a duration such as 500ms, 10s or 2m, got '\(text)'")
        }
        return .nanoseconds(Int64(value * scale))
    }
}
