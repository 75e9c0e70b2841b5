import ArgumentParser
import NIOCore

/// `chorus-bench idle`: hold many subscribed connections, each having received one message, and report the
/// server's resident memory per connection.
struct IdleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idle",
        abstract: "Open idle subscriber connections and measure the server's memory per connection."
    )

    @OptionGroup var common: CommonOptions

    @Option(help: "Subscriber connections to open.")
    var connections = 1000

    @Option(help: "Seconds to wait after the last connection received its message, before the memory reading.")
    var settle = 2

    @Option(help: "Seconds to keep the connections open after the reading (for heaptrack, massif, ps …).")
    var hold = 0

    func run() throws {
        let run = try BenchRun(options: self.common, connections: self.connections)
        defer { run.shutdown() }
        let before = try run.scrape()
        let memoryBefore = self.common.serverPid.flatMap { ProcessMemory.read(pid: $0) }
        let connected = try run.connect(count: self.connections)

        // One message to every connection: the target counts connections that have received at least one
        // message (a read may leave buffers behind that an untouched connection never has).
        let publisher = try Publisher(group: run.group, target: run.target, size: 64)
        let published = try run.wait(for: publisher.run(count: 1, warmup: 1, rate: 1, start: .now())) { "publishing" }
        publisher.close()
        let deadline = NIODeadline.now() + .seconds(10)
        while try run.registry.snapshot().received < connected.connected, NIODeadline.now() < deadline {
            try run.sleep(until: .now() + .milliseconds(100)) {
                "waiting for the message: \(try run.registry.snapshot().received)/\(connected.connected)"
            }
        }
        try run.sleep(until: .now() + .seconds(Int64(self.settle))) { "settling" }
        let after = try run.scrape()
        let memoryAfter = self.common.serverPid.flatMap { ProcessMemory.read(pid: $0) }
        let statistics = try run.registry.snapshot()
        if self.hold > 0 {
            try run.sleep(until: .now() + .seconds(Int64(self.hold))) { "holding \(connected.connected) connections" }
        }

        let report = ServerReport(before: before, after: after)
        let perConnection = report.memoryPerConnection(connections: connected.connected)
        var summary: [String] = []
        var json = JSONObject()
        json["tool"] = "chorus-bench"
        json["scenario"] = "idle"
        json["label"] = self.common.label
        json["url"] = self.common.url
        json["protocol"] = self.common.wireProtocol.rawValue
        json["connections"] = self.connections
        json["source_addresses"] = self.common.sourceAddresses
        json["connected"] = connected.connected
        json["failed"] = connected.failed
        json["closed_early"] = statistics.closedEarly
        json["received"] = statistics.received
        json["expected"] = connected.connected
        json["lost"] = connected.connected - statistics.received
        if self.common.wireProtocol == .chorusV1 {
            json["offset_gaps"] = statistics.chorusV1.offsetGaps
            json["chorus_v1"] = statistics.chorusV1.json
            summary.append(statistics.chorusV1.summary(connections: connected.connected))
        }
        json["published_accepted"] = published.tally.accepted
        json["server_connections"] = after.connections
        json["rss_before_bytes"] = before.residentBytes
        json["rss_after_bytes"] = after.residentBytes
        json["memory_per_connection_bytes"] = perConnection
        json["memory_per_connection_gauge_bytes"] = after.memoryPerConnection
        if let memoryBefore, let memoryAfter, connected.connected > 0 {
            let anonymous = (memoryAfter.anonymousBytes - memoryBefore.anonymousBytes) / Double(connected.connected)
            json["memory_per_connection_anon_bytes"] = anonymous
            json["rss_file_growth_bytes"] = memoryAfter.fileBytes - memoryBefore.fileBytes
            summary.append(
                "server anonymous RSS (without code pages): \(BenchRun.format(anonymous, digits: 0)) bytes per "
                    + "connection; file-backed RSS grew \(Int(memoryAfter.fileBytes - memoryBefore.fileBytes)) bytes"
            )
        }
        try run.emit(
            summary: [
                "idle: \(connected.connected)/\(self.connections) connected, \(connected.failed) failed, "
                    + "\(statistics.received) received the message",
                "server RSS: \(Int(before.residentBytes)) → \(Int(after.residentBytes)) bytes = "
                    + "\(BenchRun.format(perConnection, digits: 0)) bytes per connection "
                    + "(server's gauge: \(Int(after.memoryPerConnection)))",
            ] + summary,
            json: json
        )
    }
}
