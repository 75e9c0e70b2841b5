import ChorusServer
import NIOCore
import Testing

@Suite("Graceful shutdown")
struct ShutdownTests {
    @Test("shutdown: readiness turns 503, every client gets 1001, new connections are refused, run returns")
    func drains() async throws {
        try await TestServer.with(TestServer.configuration { $0.drainTimeout = .seconds(20) }) { server in
            let first = try await TestWebSocket.connect(port: server.port, path: "/ws/a")
            let second = try await TestWebSocket.connect(port: server.port, path: "/ws/b")
            let http = try await RawConnection.connect(port: server.port)
            #expect(try await http.request("GET", "/readyz").status == 200)

            await server.triggerShutdown()

            let firstClose = try await first.nextMessage()
            #expect(firstClose.opcode == 0x8 && firstClose.closeCode == 1001)
            let secondClose = try await second.nextMessage()
            #expect(secondClose.opcode == 0x8 && secondClose.closeCode == 1001)
            // Still draining (nobody answered yet): readiness says so on an existing connection.
            let readiness = try await http.request("GET", "/readyz")
            #expect(readiness.status == 503)
            await #expect(throws: (any Error).self) {
                _ = try await RawConnection.connect(port: server.port)
            }
            // Clients answer; the server completes the handshakes and closes. `with` then waits for the
            // server's run to return, well before the 20 s drain timeout.
            for client in [first, second] {
                try await client.sendClose(code: 1001)
                _ = try await client.connection.readUntilClosed()
            }
        }
    }

    @Test("a client that never answers does not hold shutdown past the drain timeout")
    func drainTimeout() async throws {
        try await TestServer.with(TestServer.configuration { $0.drainTimeout = .milliseconds(300) }) { server in
            let silent = try await TestWebSocket.connect(port: server.port, path: "/ws/a")
            await server.triggerShutdown()
            #expect(try await silent.nextMessage().closeCode == 1001)
            // No answer from us: the server still closes our socket once the drain timeout passes.
            _ = try await silent.connection.readUntilClosed()
        }
    }
}
