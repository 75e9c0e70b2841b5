import ChorusCore
import ChorusRedis
import ChorusServer
import Foundation
import Logging
import NIOCore
import Testing

@Suite("Configuration: defaults, CHORUS_* variables, flags")
struct ConfigurationTests {
    @Test("defaults are the documented ones")
    func defaults() throws {
        let configuration = try ServerConfiguration.resolve(environment: [:], flags: [])
        #expect(configuration.host == "127.0.0.1" && configuration.port == 8080)
        #expect(configuration.maxMessageBytes == 65536 && configuration.maxSubscriptions == 64)
        #expect(configuration.maxPendingBytes == 1_048_576 && configuration.slowConsumer == .disconnect)
        #expect(!configuration.clientPublish && configuration.apiKeys.isEmpty && !configuration.statusPage)
        #expect(configuration.pingInterval == .seconds(30) && configuration.handshakeTimeout == .seconds(10))
        #expect(configuration.readBufferBytes == 256 && configuration.echoPath == nil)
        #expect(configuration.maxControlFramesPerSecond == 100)
        #expect(configuration.historySize == 0 && configuration.historyTTL == .minutes(5))
        #expect(configuration.historyMaxBytes == 64 * 1024 * 1024 && configuration.recoveryMaxMessages == 300)
        #expect(configuration.maxUpgradesPerSecond == nil && configuration.memoryLimit == nil)
        #expect(configuration.memoryHighWatermark == 85 && configuration.memoryLowWatermark == 75)
        #expect(configuration.memorySampleInterval == .milliseconds(250))
        #if os(Linux)
            #expect(configuration.transport == .epoll)
        #else
            #expect(configuration.transport == .nio)
        #endif
    }

    @Test("every variable is read, and a flag wins over its variable")
    func precedence() throws {
        let environment = [
            "CHORUS_HOST": "0.0.0.0", "CHORUS_PORT": "9000", "CHORUS_EVENT_LOOPS": "3",
            "CHORUS_MAX_CONNECTIONS": "10", "CHORUS_MAX_MESSAGE_BYTES": "2048", "CHORUS_MAX_SUBSCRIPTIONS": "5",
            "CHORUS_MAX_PENDING_BYTES": "4096", "CHORUS_SLOW_CONSUMER": "drop", "CHORUS_CLIENT_PUBLISH": "true",
            "CHORUS_API_KEY": "k", "CHORUS_PING_INTERVAL": "1500ms", "CHORUS_HANDSHAKE_TIMEOUT": "2s",
            "CHORUS_DRAIN_TIMEOUT": "1m", "CHORUS_CLOSE_TIMEOUT": "0.5", "CHORUS_READ_BUFFER_BYTES": "512",
            "CHORUS_SOCKET_SEND_BUFFER_BYTES": "16384", "CHORUS_LOG_LEVEL": "debug",
            "CHORUS_METRICS_PORT": "9100", "CHORUS_METRICS_TOKEN": "t", "CHORUS_ECHO_PATH": "/echo",
            "CHORUS_STATUS_PAGE": "true",
            "CHORUS_JWT_SECRET": String(repeating: "s", count: 32), "CHORUS_ALLOWED_ORIGIN": "https://a.example",
            "CHORUS_MAX_CONNECTIONS_PER_IP": "4", "CHORUS_TRUSTED_PROXY": "10.0.0.0/8",
            "CHORUS_JWT_PUBLIC_KEY": "/dev/null/unused",
            "CHORUS_REDIS_URL": "redis://:pw@redis:6380/2", "CHORUS_REDIS_PATTERN": "on", "CHORUS_REQUIRE_REDIS": "yes",
            "CHORUS_COMPRESSION": "false", "CHORUS_COMPRESSION_MIN_BYTES": "1024", "CHORUS_TRANSPORT": "nio",
            "CHORUS_MAX_QUEUED_PUBLISHES": "77", "CHORUS_MAX_CONTROL_FRAMES_PER_SECOND": "7",
            "CHORUS_HISTORY_SIZE": "100", "CHORUS_HISTORY_TTL": "30s", "CHORUS_HISTORY_MAX_BYTES": "1048576",
            "CHORUS_RECOVERY_MAX_MESSAGES": "50", "CHORUS_MAX_UPGRADES_PER_SECOND": "500",
            "CHORUS_MEMORY_LIMIT": "512Mi", "CHORUS_MEMORY_HIGH_WATERMARK": "90", "CHORUS_MEMORY_LOW_WATERMARK": "80",
            "CHORUS_MEMORY_SAMPLE_INTERVAL": "1s",
        ]
        #expect(Set(environment.keys) == Set(ServerConfiguration.settings.map(\.variable)))
        // The key file is read when validated, not when set: leave it out of the resolved (validated) set-ups.
        let resolvable = environment.filter { $0.key != "CHORUS_JWT_PUBLIC_KEY" }
        let fromEnvironment = try ServerConfiguration.resolve(environment: resolvable, flags: [])
        #expect(fromEnvironment.host == "0.0.0.0" && fromEnvironment.port == 9000 && fromEnvironment.eventLoops == 3)
        #expect(fromEnvironment.maxConnections == 10 && fromEnvironment.maxMessageBytes == 2048)
        #expect(fromEnvironment.maxSubscriptions == 5 && fromEnvironment.maxPendingBytes == 4096)
        #expect(fromEnvironment.maxQueuedPublishes == 77 && fromEnvironment.shardSettings.maxQueuedPublishes == 77)
        #expect(fromEnvironment.shardSettings.maxControlFramesPerSecond == 7)
        #expect(fromEnvironment.shardSettings.history.size == 100 && fromEnvironment.shardSettings.history.ttl == .seconds(30))
        #expect(fromEnvironment.historyMaxBytes == 1_048_576 && fromEnvironment.shardSettings.history.recoveryMaxMessages == 50)
        #expect(fromEnvironment.slowConsumer == .drop && fromEnvironment.clientPublish)
        #expect(fromEnvironment.apiKeys == ["k"] && fromEnvironment.pingInterval == .milliseconds(1500))
        #expect(fromEnvironment.handshakeTimeout == .seconds(2) && fromEnvironment.drainTimeout == .seconds(60))
        #expect(fromEnvironment.closeTimeout == .milliseconds(500) && fromEnvironment.readBufferBytes == 512)
        #expect(fromEnvironment.socketSendBufferBytes == 16384 && fromEnvironment.logLevel == .debug)
        #expect(fromEnvironment.metricsPort == 9100 && fromEnvironment.metricsToken == "t")
        #expect(fromEnvironment.statusPage)
        #expect(fromEnvironment.echoPath == "/echo" && fromEnvironment.jwtSecret?.count == 32)
        #expect(fromEnvironment.allowedOrigins.map(\.description) == ["https://a.example"])
        #expect(fromEnvironment.redis == RedisURL(host: "redis", port: 6380, password: "pw", database: 2))
        #expect(fromEnvironment.redisPattern && fromEnvironment.requireRedis)
        #expect(fromEnvironment.maxConnectionsPerIP == 4 && fromEnvironment.trustedProxies == [IPNetwork("10.0.0.0/8")])
        var unvalidated = ServerConfiguration()
        try unvalidated.apply(environment: ["CHORUS_JWT_PUBLIC_KEY": "/keys/public.pem"])
        #expect(unvalidated.jwtPublicKeyFile == "/keys/public.pem")
        #expect(fromEnvironment.echoPath == "/echo")
        #expect(!fromEnvironment.compression && fromEnvironment.compressionMinBytes == 1024)
        #expect(fromEnvironment.transport == .nio)
        #expect(fromEnvironment.maxUpgradesPerSecond == 500 && fromEnvironment.memoryLimit == 512 * 1024 * 1024)
        #expect(fromEnvironment.memoryHighWatermark == 90 && fromEnvironment.memoryLowWatermark == 80)
        #expect(fromEnvironment.memorySampleInterval == .seconds(1))

        let withFlags = try ServerConfiguration.resolve(
            environment: resolvable,
            flags: [
                ("port", "9001"), ("slow-consumer", "disconnect"), ("host", nil), ("redis", "redis://other"),
                ("redis-pattern", "false"), ("memory-limit", "2Gi"), ("max-upgrades-per-second", "0"),
            ]
        )
        #expect(withFlags.memoryLimit == 2 << 30 && withFlags.maxUpgradesPerSecond == nil)
        #expect(withFlags.port == 9001 && withFlags.slowConsumer == .disconnect && withFlags.host == "0.0.0.0")
        #expect(withFlags.redis?.host == "other" && !withFlags.redisPattern && withFlags.requireRedis)
    }

    @Test("list settings: comma-separated variables, repeatable flags that replace the variable's list")
    func lists() throws {
        let environment = [
            "CHORUS_API_KEY": "one, two", "CHORUS_ALLOWED_ORIGIN": "https://a.example,*.b.example",
            "CHORUS_TRUSTED_PROXY": "10.0.0.0/8, fd00::/8",
        ]
        let fromEnvironment = try ServerConfiguration.resolve(environment: environment, flags: [])
        #expect(fromEnvironment.apiKeys == ["one", "two"])
        #expect(fromEnvironment.allowedOrigins.map(\.description) == ["https://a.example", "*.b.example"])
        #expect(fromEnvironment.trustedProxies.map(\.description) == ["10.0.0.0/8", "fd00:0:0:0:0:0:0:0/8"])
        let withFlags = try ServerConfiguration.resolve(
            environment: environment,
            flags: [("api-key", "three"), ("api-key", "four"), ("trusted-proxy", "192.0.2.1"), ("api-key", nil)]
        )
        #expect(withFlags.apiKeys == ["three", "four"])
        #expect(withFlags.trustedProxies.map(\.description) == ["192.0.2.1/32"])
        #expect(withFlags.allowedOrigins.count == 2)
        #expect(withFlags.maxConnectionsPerIP == nil && !withFlags.requiresTokens)
        let off = try ServerConfiguration.resolve(environment: ["CHORUS_MAX_CONNECTIONS_PER_IP": "0"], flags: [])
        #expect(off.maxConnectionsPerIP == nil)
    }

    @Test("bad values are refused with a message naming the setting")
    func badValues() {
        let cases: [([String: String], [(setting: String, value: String?)], String)] = [
            (["CHORUS_PORT": "eighty"], [], "CHORUS_PORT"),
            ([:], [("port", "70000")], "port"),
            ([:], [("slow-consumer", "maybe")], "--slow-consumer"),
            ([:], [("ping-interval", "soon")], "--ping-interval"),
            (["CHORUS_MAX_CONNECTIONS": "0"], [], "max-connections"),
            ([:], [("read-buffer-bytes", "16")], "read-buffer-bytes"),
            ([:], [("echo-path", "echo")], "echo-path"),
            ([:], [("echo-path", "/ws/echo")], "echo-path"),
            ([:], [("api-key", "")], "api-key"),
            (["CHORUS_API_KEY": "a,,b"], [], "api-key"),
            ([:], [("jwt-secret", "too-short")], "jwt-secret"),
            ([:], [("jwt-public-key", "/nonexistent/key.pem")], "jwt-public-key"),
            ([:], [("allowed-origin", "https://a.example/path")], "--allowed-origin"),
            ([:], [("trusted-proxy", "10.0.0.1/8")], "--trusted-proxy"),
            (["CHORUS_TRUSTED_PROXY": "300.0.0.0/8"], [], "CHORUS_TRUSTED_PROXY"),
            ([:], [("max-connections-per-ip", "-1")], "max-connections-per-ip"),
            (["CHORUS_REDIS_URL": "localhost:6379"], [], "CHORUS_REDIS_URL"),
            ([:], [("redis", "redis://host:0")], "--redis"),
            ([:], [("require-redis", "true")], "require-redis"),
            ([:], [("redis-pattern", "true")], "redis-pattern"),
            ([:], [("transport", "io_uring")], "--transport"),
            (["CHORUS_TRANSPORT": "kqueue"], [], "CHORUS_TRANSPORT"),
            ([:], [("memory-limit", "512MB")], "--memory-limit"),
            (["CHORUS_MEMORY_LIMIT": "0"], [], "CHORUS_MEMORY_LIMIT"),
            ([:], [("memory-low-watermark", "85")], "memory-low-watermark"),
            ([:], [("memory-high-watermark", "101")], "memory-high-watermark"),
            ([:], [("max-upgrades-per-second", "-5")], "max-upgrades-per-second"),
        ]
        for (environment, flags, mention) in cases {
            do {
                _ = try ServerConfiguration.resolve(environment: environment, flags: flags)
                Issue.record("accepted \(environment) \(flags)")
            } catch {
                #expect(error.description.contains(mention), "\(error.description)")
            }
        }
    }

    @Test("each setting is declared once, and its default is the configuration's own, shown as the parser reads it")
    func declarations() throws {
        let settings = ServerConfiguration.settings
        #expect(Set(settings.map(\.flag)).count == settings.count)
        #expect(Set(settings.map(\.variable)).count == settings.count)
        #expect(settings.allSatisfy { $0.variable.hasPrefix("CHORUS_") && !$0.help.hasSuffix(".") })
        #expect(settings.filter { $0.form == .list }.map(\.flag) == ["api-key", "allowed-origin", "trusted-proxy"])
        #expect(
            settings.filter { $0.form == .toggle }.map(\.flag)
                == ["client-publish", "status-page", "redis-pattern", "require-redis", "compression"]
        )
        let defaults = Dictionary(uniqueKeysWithValues: settings.map { ($0.flag, $0.defaultValue) })
        #expect(defaults["port"] == .value("8080") && defaults["max-message-bytes"] == .value("65536"))
        #expect(defaults["ping-interval"] == .value("30s") && defaults["close-timeout"] == .value("5s"))
        #expect(defaults["max-control-frames-per-second"] == .value("100"))
        #expect(defaults["compression"] == .words("on") && defaults["client-publish"] == .words("off"))
        #expect(defaults["api-key"] == .words("none") && defaults["allowed-origin"] == .words("any"))
        #expect(defaults["slow-consumer"] == .value("disconnect") && defaults["log-level"] == .value("info"))
        #expect(defaults["event-loops"] == .words("number of cores"))
        // A default shown as a value reads back as that same value.
        for setting in settings {
            guard case .value(let text) = setting.defaultValue else { continue }
            var configuration = ServerConfiguration()
            setting.clear(in: &configuration)
            try setting.apply(text, to: &configuration)
            #expect(setting.value(in: configuration) == .value(text), "\(setting.flag)")
        }
        let help = try #require(ServerConfiguration.setting("max-message-bytes")).helpText
        #expect(
            help
                == "Largest message in bytes: inbound closes with 1009, publish gets 413 (default: 65536; env CHORUS_MAX_MESSAGE_BYTES)."
        )
        let listHelp = try #require(ServerConfiguration.setting("trusted-proxy")).helpText
        #expect(listHelp.hasSuffix("(default: none; env CHORUS_TRUSTED_PROXY, comma-separated)."))
    }

    @Test("README's configuration table lists exactly the declared settings, with their variables and defaults")
    func readmeTable() throws {
        let root = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let readme = try String(contentsOf: root.appending(path: "README.md"), encoding: .utf8)
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex(of: "## Configuration"), "README.md has no ## Configuration")
        let section = lines[(start + 1)...].prefix { !$0.hasPrefix("## ") }
        // The first three cells of each row: flag, variable, default (the meaning is the README's own prose).
        let documented = section.filter { $0.hasPrefix("| `--") }.map { line in
            line.dropFirst(2).components(separatedBy: " | ").prefix(3).map { String($0) }
        }
        let declared = ServerConfiguration.settings.map(\.tableRow)
        func row(_ cells: [String]) -> String { "| " + cells.joined(separator: " | ") + " | …" }
        for index in 0..<max(documented.count, declared.count) {
            let found = index < documented.count ? documented[index] : nil
            let expected = index < declared.count ? declared[index] : nil
            guard found != expected else { continue }
            Issue.record(
                """
                README.md's configuration table, row \(index + 1):
                  README:   \(found.map(row) ?? "(no row)")
                  declared: \(expected.map(row) ?? "(no setting; remove the row)")
                """
            )
        }
    }
}
