#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif
import ChorusCore
import ChorusServer
import Logging
import NIOCore
import ServiceLifecycle

/// A real Chorus server on a free loopback port, run the way `chorus` runs it (in a ServiceGroup).
struct TestServer: Sendable {
    let server: ChorusServer
    let port: Int
    let group: ServiceGroup

    /// Starts graceful shutdown now (the SIGTERM path); `with` then waits for the server to return.
    func triggerShutdown() async {
        await self.group.triggerGracefulShutdown()
    }

    /// The transport every test server runs: the platform's default (epoll on Linux), or the one named by
    /// `CHORUS_TEST_TRANSPORT` (`.ci/run` runs the black-box suites again with `nio`).
    static var transport: ServerConfiguration.Transport {
        getenv("CHORUS_TEST_TRANSPORT").flatMap { ServerConfiguration.Transport(rawValue: String(cString: $0)) }
            ?? .platformDefault
    }

    static func configuration(_ adjust: (inout ServerConfiguration) -> Void = { _ in }) -> ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.eventLoops = 2
        // Clients that a test leaves open do not answer the shutdown's 1001; do not wait long for them.
        configuration.drainTimeout = .milliseconds(200)
        configuration.transport = Self.transport
        adjust(&configuration)
        return configuration
    }

    /// Small outbound limits, so a client that stops reading is past its pending-bytes limit after a few
    /// 8 KiB messages instead of after the kernel's megabytes of autotuned buffers.
    static func slowConsumerConfiguration(_ policy: SlowConsumerPolicy) -> ServerConfiguration {
        self.configuration {
            $0.maxPendingBytes = 16 * 1024
            $0.socketSendBufferBytes = 8192
            $0.slowConsumer = policy
        }
    }

    /// Runs `body` against a server started with `configuration`, then shuts the server down gracefully (if
    /// `body` has not already) and waits for its run to return.
    ///
    /// With `logs`, the server logs everything down to debug there; otherwise only errors, to standard error.
    static func with<T: Sendable>(
        _ configuration: ServerConfiguration = TestServer.configuration(),
        logs: CapturedLogs? = nil,
        _ body: @Sendable (TestServer) async throws -> T
    ) async throws -> T {
        var logger = logs?.logger(label: "chorus.test") ?? Logger(label: "chorus.test")
        // Not .warning: most test servers run without tokens or allowed origins, which logs a warning at start.
        if logs == nil { logger.logLevel = .error }
        let server = ChorusServer(configuration: configuration, logger: logger)
        let group = ServiceGroup(services: [server], logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let address = try await server.localAddress
            let result: Result<T, any Error>
            do {
                result = .success(try await body(TestServer(server: server, port: address.port!, group: group)))
            } catch {
                result = .failure(error)
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return try result.get()
        }
    }

    /// Publishes over HTTP and returns the response.
    func publish(_ channel: String, _ body: String, contentType: String = "text/plain") async throws
        -> TestHTTPResponse
    {
        try await httpRequest(
            port: self.port,
            "POST",
            "/publish/\(channel)",
            headers: ["Content-Type: \(contentType)"],
            body: Array(body.utf8)
        )
    }

    /// Every shard's counters, added up.
    func statistics() async throws -> ShardStatistics {
        try await self.server.hub.statistics(on: self.server.hub.shards[0].eventLoop).get()
    }

    /// Subscribers of `channel` across all shards (to wait for a runtime subscribe to take effect).
    func subscriberCount(_ channel: String) async throws -> Int {
        let name = try ChannelName(validating: channel)
        let counts = try await self.server.hub.collect(on: self.server.hub.shards[0].eventLoop) {
            $0.subscriberCount(of: name)
        }.get()
        return counts.reduce(0, +)
    }
}
