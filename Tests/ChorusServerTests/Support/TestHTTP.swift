import NIOCore

/// A minimal HTTP/1.1 client for tests over `RawConnection` (responses carry Content-Length).
struct TestHTTPResponse: Sendable {
    var status: Int
    var head: String
    var body: String

    func header(_ name: String) -> String? {
        for line in self.head.split(separator: "\r\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == name.lowercased() {
                return parts[1].trimmingCharacters(in: " ")
            }
        }
        return nil
    }
}

extension RawConnection {
    /// Sends one request on this (keep-alive) connection and reads its response.
    func request(
        _ method: String,
        _ path: String,
        headers: [String] = [],
        body: [UInt8] = []
    ) async throws -> TestHTTPResponse {
        var request = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\n"
        for header in headers { request += header + "\r\n" }
        if !body.isEmpty || method == "POST" { request += "Content-Length: \(body.count)\r\n" }
        request += "\r\n"
        try await self.send(Array(request.utf8) + body)
        let head = try await self.read(upTo: "\r\n\r\n")
        let status = Int(head.split(separator: " ")[1]) ?? 0
        var response = TestHTTPResponse(status: status, head: head, body: "")
        if let length = response.header("content-length").flatMap(Int.init), length > 0 {
            response.body = String(buffer: try await self.read(count: length))
        }
        return response
    }
}

/// Sends one request on a new connection.
func httpRequest(
    port: Int,
    _ method: String,
    _ path: String,
    headers: [String] = [],
    body: [UInt8] = []
) async throws -> TestHTTPResponse {
    let connection = try await RawConnection.connect(port: port)
    defer { Task { await connection.close() } }
    return try await connection.request(method, path, headers: headers, body: body)
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        String(self.drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}
