import ArgumentParser
import CEpoll
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

    // One option per setting, in the order of `ServerConfiguration.settings`, named as its flag in camel case; the
    // name, help, default and variable come from the table (`Chorus+Settings.swift` says why it is done so).
    @Option(setting: "host") var host: String?
    @Option(setting: "port") var port: String?
    @Option(setting: "event-loops") var eventLoops: String?
    @Option(setting: "transport") var transport: String?
    @Option(setting: "max-connections") var maxConnections: String?
    @Option(setting: "max-message-bytes") var maxMessageBytes: String?
    @Option(setting: "max-subscriptions") var maxSubscriptions: String?
    @Option(setting: "max-pending-bytes") var maxPendingBytes: String?
    @Option(setting: "max-queued-publishes") var maxQueuedPublishes: String?
    @Option(setting: "max-control-frames-per-second") var maxControlFramesPerSecond: String?
    @Option(setting: "slow-consumer") var slowConsumer: String?
    @Flag(setting: "client-publish") var clientPublish: Bool?
    @Option(setting: "api-key") var apiKey: [String] = []
    @Option(setting: "history-size") var historySize: String?
    @Option(setting: "history-ttl") var historyTtl: String?
    @Option(setting: "history-max-bytes") var historyMaxBytes: String?
    @Option(setting: "recovery-max-messages") var recoveryMaxMessages: String?
    @Option(setting: "ping-interval") var pingInterval: String?
    @Option(setting: "handshake-timeout") var handshakeTimeout: String?
    @Option(setting: "drain-timeout") var drainTimeout: String?
    @Option(setting: "close-timeout") var closeTimeout: String?
    @Option(setting: "read-buffer-bytes") var readBufferBytes: String?
    @Option(setting: "socket-send-buffer-bytes") var socketSendBufferBytes: String?
    @Option(setting: "echo-path") var echoPath: String?
    @Option(setting: "metrics-port") var metricsPort: String?
    @Option(setting: "metrics-token") var metricsToken: String?
    @Flag(setting: "status-page") var statusPage: Bool?
    @Option(setting: "log-level") var logLevel: String?
    @Option(setting: "jwt-secret") var jwtSecret: String?
    @Option(setting: "jwt-public-key") var jwtPublicKey: String?
    @Option(setting: "allowed-origin") var allowedOrigin: [String] = []
    @Option(setting: "max-connections-per-ip") var maxConnectionsPerIp: String?
    @Option(setting: "max-upgrades-per-second") var maxUpgradesPerSecond: String?
    @Option(setting: "memory-limit") var memoryLimit: String?
    @Option(setting: "memory-high-watermark") var memoryHighWatermark: String?
    @Option(setting: "memory-low-watermark") var memoryLowWatermark: String?
    @Option(setting: "memory-sample-interval") var memorySampleInterval: String?
    @Option(setting: "trusted-proxy") var trustedProxy: [String] = []
    @Option(setting: "redis") var redis: String?
    @Flag(setting: "redis-pattern") var redisPattern: Bool?
    @Flag(setting: "require-redis") var requireRedis: Bool?
    @Flag(setting: "compression") var compression: Bool?
    @Option(setting: "compression-min-bytes") var compressionMinBytes: String?

    func run() async throws {
        Self.returnLargeBuffersToTheSystem()
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
        try ServerConfiguration.resolve(environment: environment, flags: self.settingFlags)
    }

    /// Makes glibc serve allocations of 32 KiB and more (inbound messages being assembled, large published frames)
    /// with mmap, so they go back to the system when freed. With glibc's default (128 KiB, raised as it sees large
    /// frees) a burst of large messages left its pages in the heap: 1,000 aborted 60 KB messages kept ~25 MB
    /// resident for good (19.5 MB at start, 44 MB after), which `malloc_trim` did not give back; with this, 20.5
    /// MB. Small allocations (frames of small messages, blocks, requests) are unaffected.
    static func returnLargeBuffersToTheSystem() {
        #if os(Linux)
            _ = chorus_set_mmap_threshold(32 * 1024)
        #endif
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
