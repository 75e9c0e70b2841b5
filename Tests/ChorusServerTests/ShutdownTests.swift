import ChorusServer
import Logging
import NIOCore
import ServiceLifecycle
import Testing

@Suite("Graceful shutdown")
struct ShutdownTests {

    @Test("shutdown: readiness turns 503, every client gets 1001, new connections are refused, run returns")
    func drains() async throws {
        var logger = Logger(label: "chorus.test")
        logger.logLevel = .warning
        let server = ChorusServer(
            configuration: TestServer.configuration { $0.drainTimeout = .seconds(20) },
            logger: logger
        )
        let group = ServiceGroup(services: [server], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let port = try await server.localAddress.get().port!
            let first = try await TestWebSocket.connect(port: port, path: "/ws/a")
            let second = try await TestWebSocket.connect(port: port, path: "/ws/b")
            let http = try await RawConnection.connect(port: port)
            #expect(try await http.request("GET", "/readyz").status == 200)

            await group.triggerGracefulShutdown()

            let firstClose = try await first.nextMessage()
            #expect(firstClose.opcode == 0x8 && firstClose.closeCode == 1001)
            let secondClose = try await second.nextMessage()
            #expect(secondClose.opcode == 0x8 && secondClose.closeCode == 1001)
            // Still draining (nobody answered yet): readiness says so on an existing connection.
            let readiness = try await http.request("GET", "/readyz")
            #expect(readiness.status == 503)
            await #expect(throws: (any Error).self) {
                _ = try await RawConnection.connect(port: port)
            }
            // Clients answer; the server completes the handshakes, closes and returns.
            for client in [first, second] {
                try await client.sendClose(code: 1001)
                _ = try await client.connection.readUntilClosed()
            }
            try await tasks.waitForAll()
        }
    }

    @Test("a client that never answers does not hold shutdown past the drain timeout")
    func drainTimeout() async throws {
        var logger = Logger(label: "chorus.test")
        logger.logLevel = .warning
        let server = ChorusServer(
            configuration: TestServer.configuration { $0.drainTimeout = .milliseconds(300) },
            logger: logger
        )
        let group = ServiceGroup(services: [server], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let port = try await server.localAddress.get().port!
            let silent = try await TestWebSocket.connect(port: port, path: "/ws/a")
            await group.triggerGracefulShutdown()
            #expect(try await silent.nextMessage().closeCode == 1001)
            // No answer from us: the server must still return, and close our socket.
            try await tasks.waitForAll()
            _ = try await silent.connection.readUntilClosed()
        }
    }
}
