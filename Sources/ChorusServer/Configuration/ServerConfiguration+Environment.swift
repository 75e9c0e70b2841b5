import ChorusCore
import Logging
import NIOCore

extension ServerConfiguration {
    /// Every environment variable Chorus reads, with the setting it changes (listed in the README).
    package static let environmentVariables: [(name: String, setting: String)] = [
        ("CHORUS_HOST", "host"), ("CHORUS_PORT", "port"), ("CHORUS_EVENT_LOOPS", "event-loops"),
        ("CHORUS_MAX_CONNECTIONS", "max-connections"), ("CHORUS_MAX_MESSAGE_BYTES", "max-message-bytes"),
        ("CHORUS_MAX_SUBSCRIPTIONS", "max-subscriptions"), ("CHORUS_MAX_PENDING_BYTES", "max-pending-bytes"),
        ("CHORUS_SLOW_CONSUMER", "slow-consumer"), ("CHORUS_CLIENT_PUBLISH", "client-publish"),
        ("CHORUS_API_KEY", "api-key"), ("CHORUS_PING_INTERVAL", "ping-interval"),
        ("CHORUS_HANDSHAKE_TIMEOUT", "handshake-timeout"), ("CHORUS_DRAIN_TIMEOUT", "drain-timeout"),
        ("CHORUS_CLOSE_TIMEOUT", "close-timeout"), ("CHORUS_READ_BUFFER_BYTES", "read-buffer-bytes"),
        ("CHORUS_SOCKET_SEND_BUFFER_BYTES", "socket-send-buffer-bytes"),
        ("CHORUS_METRICS_PORT", "metrics-port"), ("CHORUS_METRICS_TOKEN", "metrics-token"),
        ("CHORUS_ECHO_PATH", "echo-path"), ("CHORUS_LOG_LEVEL", "log-level"),
        ("CHORUS_COMPRESSION", "compression"), ("CHORUS_COMPRESSION_MIN_BYTES", "compression-min-bytes"),
    ]

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
        for case (let setting, let value?) in flags {
            do {
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
        case "max-connections": self.maxConnections = try Self.integer(text)
        case "max-message-bytes": self.maxMessageBytes = try Self.integer(text)
        case "max-subscriptions": self.maxSubscriptions = try Self.integer(text)
        case "max-pending-bytes": self.maxPendingBytes = try Self.integer(text)
        case "slow-consumer":
            guard let policy = SlowConsumerPolicy(rawValue: text) else {
                throw ConfigurationError("expected disconnect or drop, got '\(text)'")
            }
            self.slowConsumer = policy
        case "client-publish": self.clientPublish = try Self.boolean(text)
        case "api-key": self.apiKey = text
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
        default:
            fatalError("Internal inconsistency: unknown setting \(setting)")
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
