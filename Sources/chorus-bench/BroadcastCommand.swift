import ArgumentParser
import Histogram
import NIOCore

/// `chorus-bench broadcast`: subscribers on one channel, a publisher at a fixed rate through `POST /publish`,
/// and the cost and latency of the fan-out.
struct BroadcastCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broadcast",
        abstract: "Publish at a fixed rate to many subscribers; measure latency, loss and server CPU per delivery."
    )

    @OptionGroup var common: CommonOptions

    @Option(help: "Subscriber connections, all on the URL's channel.")
    var subscribers = 1000

    @Option(help: "Messages published per second.")
    var rate = 10.0

    @Option(help: "Payload size in bytes (at least 9: timestamp and flag).")
    var size = 64

    @Option(help: "Seconds measured.")
    var duration = 10.0

    @Option(help: "Seconds published before the measurement (not counted).")
    var warmup = 2.0

    @Option(help: "Seconds to wait for late messages after the last publish.")
    var drain = 5.0

    @Option(
        help: """
            HTTP connections the publishes are spread over (message i on connection i mod n). An HTTP server \
            answers one connection's requests in turn, so one connection would let only one publish at a time \
            reach the server.
            """
    )
    var publishConnections = 4

    @Option(
        help: """
            Publish through another server, ws://host:port (cluster mode: subscribers on --url's node, publishes \
            on this one, so every message crosses Redis). Default: the --url server.
            """
    )
    var publishUrl: String?

    func validate() throws {
        guard self.rate > 0, self.duration > 0, self.warmup >= 0 else {
            throw ValidationError("--rate and --duration must be positive, --warmup not negative")
        }
        guard self.publishConnections >= 1 else { throw ValidationError("--publish-connections is at least 1") }
        guard self.size >= BenchPayload.minimumSize else { throw ValidationError("--size is at least 9") }
    }

    func run() throws {
        let run = try BenchRun(options: self.common, connections: self.subscribers)
        defer { run.shutdown() }
        let connected = try run.connect(count: self.subscribers)

        let warmupCount = Int((self.warmup * self.rate).rounded())
        let measuredCount = max(1, Int((self.duration * self.rate).rounded()))
        var publishTarget = run.target
        if let publishUrl {
            let other = try BenchTarget(url: publishUrl)
            (publishTarget.host, publishTarget.port) = (other.host, other.port)
        }
        let publisher = try Publisher(
            group: run.group,
            target: publishTarget,
            size: self.size,
            connections: self.publishConnections
        )
        defer { publisher.close() }
        let start = NIODeadline.now() + .milliseconds(200)
        let publishing = publisher.run(
            count: warmupCount + measuredCount,
            warmup: warmupCount,
            rate: self.rate,
            start: start
        )
        let status = {
            let snapshot = try run.registry.snapshot()
            return "broadcast: \(connected.connected) subscribers, \(snapshot.received) received "
                + "(\(snapshot.measured) measured), \(snapshot.closedEarly) closed"
        }

        // The "before" reading goes between the last warm-up message and the first measured one.
        let measureStart = start + .nanoseconds(Int64((Double(warmupCount) - 0.5) / self.rate * 1e9))
        try run.sleep(until: measureStart, status: status)
        let before = try run.scrape()
        let timesBefore = run.serverTimes()
        let published = try run.wait(for: publishing, status: status)

        let expected = published.measured * connected.connected
        let drainDeadline = NIODeadline.now() + .nanoseconds(Int64(self.drain * 1e9))
        while try run.registry.snapshot().measured < expected, NIODeadline.now() < drainDeadline {
            try run.sleep(until: .now() + .milliseconds(50), status: status)
        }
        // Throughput over the time the deliveries really took: when the server falls behind, the measured
        // messages arrive long after the last publish, and dividing by --duration would flatter it.
        let receiveSeconds = Double((NIODeadline.now() - measureStart).nanoseconds) / 1e9
        let after = try run.scrape()
        let timesAfter = run.serverTimes()
        let statistics = try run.registry.snapshot()
        let report = ServerReport(before: before, after: after, timesBefore: timesBefore, timesAfter: timesAfter)

        let latency = statistics.latency
        var latencyJSON = JSONObject()
        latencyJSON["count"] = Int(latency.totalCount)
        for (name, percentile) in [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99_9", 99.9)] {
            latencyJSON[name] = Int(latency.valueAtPercentile(percentile))
        }
        latencyJSON["max"] = Int(latency.max)
        latencyJSON["mean"] = latency.mean

        var json = JSONObject()
        json["tool"] = "chorus-bench"
        json["scenario"] = "broadcast"
        json["label"] = self.common.label
        json["url"] = self.common.url
        json["protocol"] = self.common.wireProtocol.rawValue
        json["publish_url"] = self.publishUrl ?? self.common.url
        json["publish_connections"] = self.publishConnections
        json["subscribers"] = self.subscribers
        json["rate"] = self.rate
        json["size"] = self.size
        json["duration"] = self.duration
        json["warmup"] = self.warmup
        json["source_addresses"] = self.common.sourceAddresses
        json["connected"] = connected.connected
        json["failed"] = connected.failed
        json["closed_early"] = statistics.closedEarly
        json["published"] = published.sent
        json["published_measured"] = published.measured
        json["publish_rejected"] = published.tally.rejected
        json["expected"] = expected
        json["received"] = statistics.measured
        json["lost"] = expected - statistics.measured
        json["loss_ratio"] = expected > 0 ? Double(expected - statistics.measured) / Double(expected) : 0
        let isChorusV1 = self.common.wireProtocol == .chorusV1
        if isChorusV1 {
            json["offset_gaps"] = statistics.chorusV1.offsetGaps
            json["chorus_v1"] = statistics.chorusV1.json
        }
        json["server_reported_deliveries"] = published.tally.deliveredMeasured
        json["offered_deliveries_per_second"] = Double(expected) / self.duration
        json["receive_seconds"] = receiveSeconds
        json["deliveries_per_second"] = Double(statistics.measured) / max(receiveSeconds, self.duration)
        json["latency_us"] = latencyJSON
        var summary = [
            "broadcast: \(connected.connected)/\(self.subscribers) subscribers connected, \(connected.failed) failed; "
                + "\(published.measured) messages measured at \(self.rate)/s, \(self.size) B",
            "received \(statistics.measured) of \(expected) (lost \(expected - statistics.measured)"
                + (isChorusV1 ? ", offset gaps \(statistics.chorusV1.offsetGaps)), " : "), ")
                + "\(BenchRun.format(Double(statistics.measured) / max(receiveSeconds, self.duration), digits: 0)) "
                + "deliveries/s (received over \(BenchRun.format(receiveSeconds, digits: 1)) s)",
            "latency µs: p50 \(latency.valueAtPercentile(50)) p90 \(latency.valueAtPercentile(90)) "
                + "p99 \(latency.valueAtPercentile(99)) p99.9 \(latency.valueAtPercentile(99.9)) max \(latency.max)",
        ]
        if isChorusV1 { summary.append(statistics.chorusV1.summary(connections: connected.connected)) }
        var server = JSONObject()
        report.cpu(into: &server, summary: &summary)
        json["server"] = server
        try run.emit(summary: summary, json: json)
    }
}
