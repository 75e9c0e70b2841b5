import ChorusCore
import ChorusServer
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
        #expect(!configuration.clientPublish && configuration.apiKey == nil)
        #expect(configuration.pingInterval == .seconds(30) && configuration.handshakeTimeout == .seconds(10))
        #expect(configuration.readBufferBytes == 256 && configuration.echoPath == nil)
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
            "CHORUS_COMPRESSION": "false", "CHORUS_COMPRESSION_MIN_BYTES": "1024",
        ]
        #expect(Set(environment.keys) == Set(ServerConfiguration.environmentVariables.map(\.name)))
        let fromEnvironment = try ServerConfiguration.resolve(environment: environment, flags: [])
        #expect(fromEnvironment.host == "0.0.0.0" && fromEnvironment.port == 9000 && fromEnvironment.eventLoops == 3)
        #expect(fromEnvironment.maxConnections == 10 && fromEnvironment.maxMessageBytes == 2048)
        #expect(fromEnvironment.maxSubscriptions == 5 && fromEnvironment.maxPendingBytes == 4096)
        #expect(fromEnvironment.slowConsumer == .drop && fromEnvironment.clientPublish)
        #expect(fromEnvironment.apiKey == "k" && fromEnvironment.pingInterval == .milliseconds(1500))
        #expect(fromEnvironment.handshakeTimeout == .seconds(2) && fromEnvironment.drainTimeout == .seconds(60))
        #expect(fromEnvironment.closeTimeout == .milliseconds(500) && fromEnvironment.readBufferBytes == 512)
        #expect(fromEnvironment.socketSendBufferBytes == 16384 && fromEnvironment.logLevel == .debug)
        #expect(fromEnvironment.metricsPort == 9100 && fromEnvironment.metricsToken == "t")
        #expect(fromEnvironment.echoPath == "/echo")
        #expect(!fromEnvironment.compression && fromEnvironment.compressionMinBytes == 1024)

        let withFlags = try ServerConfiguration.resolve(
            environment: environment,
            flags: [("port", "9001"), ("slow-consumer", "disconnect"), ("host", nil)]
        )
        #expect(withFlags.port == 9001 && withFlags.slowConsumer == .disconnect && withFlags.host == "0.0.0.0")
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
}
