/// The server-side figures of a run, from two /metrics scrapes (and /proc, with `--server-pid`) around it.
struct ServerReport {
    var before: ServerMetrics
    var after: ServerMetrics
    var timesBefore: ProcessTimes?
    var timesAfter: ProcessTimes?

    var deliveries: Double { self.after.deliveries - self.before.deliveries }
    var framesEncoded: Double { self.after.framesEncoded - self.before.framesEncoded }
    var cpuSeconds: Double { self.after.cpuSeconds - self.before.cpuSeconds }
    var userSeconds: Double? {
        guard let before = self.timesBefore, let after = self.timesAfter else { return nil }
        return after.userSeconds - before.userSeconds
    }
    var systemSeconds: Double? {
        guard let before = self.timesBefore, let after = self.timesAfter else { return nil }
        return after.systemSeconds - before.systemSeconds
    }

    /// Resident memory the connections added, per connection.
    func memoryPerConnection(connections: Int) -> Double {
        connections > 0 ? (self.after.residentBytes - self.before.residentBytes) / Double(connections) : 0
    }

    /// CPU figures per delivery, as JSON fields and summary lines.
    func cpu(into json: inout JSONObject, summary: inout [String]) {
        let deliveries = self.deliveries
        json["deliveries"] = deliveries
        json["frames_encoded"] = self.framesEncoded
        json["buffer_reuse"] = self.framesEncoded > 0 ? deliveries / self.framesEncoded : 0
        json["slow_consumer_drops"] = self.after.slowConsumerDrops - self.before.slowConsumerDrops
        json["slow_consumer_disconnects"] = self.after.slowConsumerDisconnects - self.before.slowConsumerDisconnects
        json["cpu_seconds"] = self.cpuSeconds
        json["cpu_seconds_per_million_deliveries"] = deliveries > 0 ? self.cpuSeconds / deliveries * 1e6 : .nan
        json["cpu_us_per_delivery"] = deliveries > 0 ? self.cpuSeconds / deliveries * 1e6 : .nan
        var line = "server CPU: \(BenchRun.format(self.cpuSeconds, digits: 2)) s for \(Int(deliveries)) deliveries"
        line += " = \(BenchRun.format(deliveries > 0 ? self.cpuSeconds / deliveries * 1e6 : .nan, digits: 2)) µs each"
        if let user = self.userSeconds, let system = self.systemSeconds {
            json["cpu_user_seconds"] = user
            json["cpu_system_seconds"] = system
            json["cpu_user_us_per_delivery"] = deliveries > 0 ? user / deliveries * 1e6 : .nan
            json["cpu_system_us_per_delivery"] = deliveries > 0 ? system / deliveries * 1e6 : .nan
            line += " (user \(BenchRun.format(deliveries > 0 ? user / deliveries * 1e6 : .nan, digits: 2)) µs,"
            line += " system \(BenchRun.format(deliveries > 0 ? system / deliveries * 1e6 : .nan, digits: 2)) µs)"
        }
        summary.append(line)
        summary.append(
            "buffer reuse: \(BenchRun.format(self.framesEncoded > 0 ? deliveries / self.framesEncoded : 0, digits: 1)) "
                + "deliveries per encoded frame"
        )
    }
}
