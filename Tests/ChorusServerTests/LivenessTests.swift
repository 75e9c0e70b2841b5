import ChorusCore
import ChorusServer
import NIOCore
import Testing

/// Idle deadlines hold for many connections at once, not just one: every silent client is closed 1001 within
/// three ping intervals of its last word, and then released when it answers.
@Suite("Liveness under many connections")
struct LivenessTests {
    @Test("100 clients that never answer pings each get 1001 \"idle timeout\" within three ping intervals")
    func manySilentClients() async throws {
        let interval = Duration.milliseconds(500)
        let configuration = TestServer.configuration { $0.pingInterval = .milliseconds(500) }
        try await TestServer.with(configuration) { server in
            let clients = try await withThrowingTaskGroup(of: (TestWebSocket, ContinuousClock.Instant).self) { group in
                for _ in 0..<100 {
                    group.addTask {
                        (try await TestWebSocket.connect(port: server.port, path: "/ws/quiet"), ContinuousClock.now)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let lifetimes = try await withThrowingTaskGroup(of: Duration.self) { group in
                for (client, connected) in clients {
                    group.addTask {
                        // Pings are read and not answered; the next thing that is not a ping must be the close.
                        let close = try await client.nextMessage(timeout: .seconds(10))
                        let lifetime = ContinuousClock.now - connected
                        #expect(close.opcode == 0x8 && close.closeCode == 1001 && close.closeReason == "idle timeout")
                        try await client.sendClose(code: 1001)
                        _ = try await client.connection.readUntilClosed()
                        return lifetime
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(lifetimes.count == 100)
            // Closed after two whole intervals of silence and before the fourth tick (plus scheduling slack).
            #expect(lifetimes.allSatisfy { $0 >= interval * 2 - .milliseconds(50) }, "\(lifetimes.min()!)")
            #expect(lifetimes.allSatisfy { $0 <= interval * 3 + .milliseconds(750) }, "\(lifetimes.max()!)")
            let statistics = try await server.statistics()
            #expect(statistics.closed(.idleTimeout) == 100)
        }
    }
}
