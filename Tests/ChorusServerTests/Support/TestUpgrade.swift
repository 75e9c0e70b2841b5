import ChorusServer
import NIOCore

/// An upgrade request with extra headers; returns the status and head, and the open connection after a 101.
func upgrade(port: Int, path: String, headers: [String] = []) async throws
    -> (status: Int, head: String, body: String, socket: TestWebSocket?)
{
    let connection = try await RawConnection.connect(port: port)
    var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    request += "Sec-WebSocket-Key: \(TestWebSocket.sampleKey)\r\nSec-WebSocket-Version: 13\r\n"
    for header in headers { request += header + "\r\n" }
    try await connection.send(request + "\r\n")
    let head = try await connection.read(upTo: "\r\n\r\n")
    let status = Int(head.split(separator: " ")[1]) ?? 0
    guard status == 101 else {
        let rest = try await connection.readUntilClosed()
        await connection.close()
        return (status, head, String(buffer: rest), nil)
    }
    return (status, head, "", TestWebSocket(connection: connection))
}
