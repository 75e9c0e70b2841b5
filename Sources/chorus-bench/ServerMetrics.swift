/// The numbers chorus-bench reads from a Chorus `/metrics` page (Prometheus text format), each summed over its
/// labels. Names are the ones in Sources/ChorusServer/Metrics/.
struct ServerMetrics: Sendable {
    var residentBytes = 0.0
    var cpuSeconds = 0.0
    var connections = 0.0
    var memoryPerConnection = 0.0
    var deliveries = 0.0
    var framesEncoded = 0.0
    var slowConsumerDrops = 0.0
    var slowConsumerDisconnects = 0.0

    init() {}

    init(text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            let name = line[..<space].prefix { $0 != "{" && $0 != " " }
            switch name {
            case "process_resident_memory_bytes": self.residentBytes += value
            case "process_cpu_seconds_total": self.cpuSeconds += value
            case "chorus_connections": self.connections += value
            case "chorus_memory_per_connection_bytes": self.memoryPerConnection += value
            case "chorus_deliveries_total": self.deliveries += value
            case "chorus_frames_encoded_total": self.framesEncoded += value
            case "chorus_slow_consumer_drops_total": self.slowConsumerDrops += value
            case "chorus_slow_consumer_disconnects_total": self.slowConsumerDisconnects += value
            default: break
            }
        }
    }
}
