/// Where the server under test listens, parsed from `ws://host:port/path`.
struct BenchTarget: Sendable {
    /// IPv4 address or host name of the server.
    var host: String
    /// The server's port (WebSocket, `/publish` and `/metrics` share it unless `--metrics-port` is given).
    var port: Int
    /// The WebSocket path, for example `/ws/bench`.
    var path: String

    /// The channel named by a `/ws/{channel}` path (the publisher posts to `/publish/{channel}`).
    var channel: String {
        path.hasPrefix("/ws/") ? String(path.dropFirst("/ws/".count)) : "bench"
    }

    init(url: String) throws(BenchError) {
        guard url.hasPrefix("ws://") else { throw BenchError("only ws:// URLs are supported: \(url)") }
        let rest = url.dropFirst("ws://".count)
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count)
        let parts = authority.split(separator: ":", maxSplits: 1)
        guard let host = parts.first, !host.isEmpty else { throw BenchError("no host in \(url)") }
        self.host = String(host)
        if parts.count == 2 {
            guard let port = Int(parts[1]), (1...65535).contains(port) else { throw BenchError("bad port in \(url)") }
            self.port = port
        } else {
            self.port = 80
        }
        self.path = path.isEmpty ? "/" : String(path)
    }
}
