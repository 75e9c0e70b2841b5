import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The parts of a run both scenarios share: the client's event loops, the subscriber connections, scrapes of the
/// server's /metrics and /proc, and waiting with a live progress line.
final class BenchRun {
    let options: CommonOptions
    let target: BenchTarget
    let group: MultiThreadedEventLoopGroup
    let registry: StatisticsRegistry
    let pool: SubscriberPool
    var progress: ProgressLine
    let started = NIODeadline.now()

    init(options: CommonOptions, connections: Int) throws {
        self.options = options
        self.target = try BenchTarget(url: options.url)
        try DescriptorLimit.check(connections: connections)
        if options.sourceAddresses > 1 && connections > 0 {
            guard options.sourceAddresses <= 254 else { throw BenchError("--source-addresses is at most 254") }
        }
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.threads))
        self.registry = try StatisticsRegistry(group: self.group)
        self.pool = try SubscriberPool(
            group: self.group,
            target: self.target,
            protocol: options.wireProtocol,
            sourceAddresses: options.sourceAddresses,
            receiveBufferBytes: options.receiveBuffer,
            connectTimeout: .seconds(Int64(options.connectTimeout)),
            registry: self.registry
        )
        self.progress = ProgressLine(enabled: !options.quiet)
    }

    /// Seconds since the run started.
    var elapsed: Double { Double((NIODeadline.now() - self.started).nanoseconds) / 1e9 }

    /// Opens `count` subscriber connections, showing progress; returns how many upgraded.
    func connect(count: Int) throws -> SubscriberPool.Progress {
        let connecting = self.pool.connect(count: count, window: self.options.connectWindow)
        try self.wait(for: connecting) {
            let progress = self.pool.progress
            return "connecting: \(progress.connected)/\(progress.total) upgraded, \(progress.failed) failed"
        }
        let missing = try self.registry.snapshot().subprotocolMissing
        if missing > 0, let subprotocol = self.options.wireProtocol.subprotocol {
            throw BenchError(
                "\(missing) of \(count) connections got a 101 without Sec-WebSocket-Protocol: \(subprotocol): the "
                    + "server does not speak \(subprotocol) (--protocol raw measures its original protocol)"
            )
        }
        return self.pool.progress
    }

    /// Reads the server's /metrics.
    func scrape() throws -> ServerMetrics {
        let text = try HTTPGet.fetch(
            group: self.group,
            host: self.target.host,
            port: self.options.metricsPort ?? self.target.port,
            path: "/metrics"
        )
        return ServerMetrics(text: text)
    }

    /// The server's user and system CPU when `--server-pid` was given.
    func serverTimes() -> ProcessTimes? {
        self.options.serverPid.flatMap { ProcessTimes.read(pid: $0) }
    }

    /// Waits for `future`, refreshing the progress line every half second.
    @discardableResult
    func wait<Value: Sendable>(for future: EventLoopFuture<Value>, status: () throws -> String) throws -> Value {
        let outcome = NIOLockedValueBox<Result<Value, any Error>?>(nil)
        future.whenComplete { result in outcome.withLockedValue { $0 = result } }
        while true {
            if let result = outcome.withLockedValue({ $0 }) {
                self.progress.show("[\(Self.format(self.elapsed, digits: 1)) s] " + (try status()))
                return try result.get()
            }
            self.progress.show("[\(Self.format(self.elapsed, digits: 1)) s] " + (try status()))
            usleep(200_000)
        }
    }

    /// Sleeps until `deadline`, refreshing the progress line.
    func sleep(until deadline: NIODeadline, status: () throws -> String) throws {
        while NIODeadline.now() < deadline {
            self.progress.show("[\(Self.format(self.elapsed, digits: 1)) s] " + (try status()))
            let left = (deadline - NIODeadline.now()).nanoseconds / 1000
            if left > 0 { usleep(UInt32(min(left, 200_000))) }
        }
    }

    /// Closes the connections and stops the event loops.
    func shutdown() {
        _ = try? self.pool.closeAll().wait()
        try? self.group.syncShutdownGracefully()
    }

    /// Writes the JSON to `--json FILE` and the human summary to standard output; without `--json`, the JSON
    /// goes to standard output and the summary to standard error, so the output pipes straight into `jq`.
    func emit(summary: [String], json: JSONObject) throws {
        self.progress.finish()
        let summaryText = summary.joined(separator: "\n") + "\n"
        let text = json.text() + "\n"
        if let path = self.options.json {
            guard let file = fopen(path, "w") else { throw BenchError("cannot write \(path)") }
            fputs(text, file)
            fclose(file)
            print(summaryText, terminator: "")
        } else {
            ProgressLine.writeError(summaryText)
            print(text, terminator: "")
        }
    }

    static func format(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "n/a" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        var text = String(rounded)
        if digits == 0, text.hasSuffix(".0") { text.removeLast(2) }
        return text
    }
}

@available(*, unavailable)
extension BenchRun: Sendable {}
