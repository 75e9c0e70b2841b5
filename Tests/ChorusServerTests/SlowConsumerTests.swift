import ChorusCore
import ChorusServer
import NIOCore
import Testing

@Suite("Slow consumers over loopback")
struct SlowConsumerTests {
    static let messageCount = 100
    static let payload = String(repeating: "x", count: 8 * 1024 - 8)

    /// Publishes numbered 8 KiB messages on one keep-alive connection, each only after every fast client has
    /// read the previous one: the fast clients are never behind (however slow the machine), the slow one is.
    static func publishAll(_ server: TestServer, fast: [TestWebSocket]) async throws {
        let publisher = try await RawConnection.connect(port: server.port)
        for index in 0..<Self.messageCount {
            let body = padded4(index) + "|" + Self.payload
            let response = try await publisher.request(
                "POST", "/publish/feed", headers: ["Content-Type: text/plain"], body: Array(body.utf8))
            #expect(response.status == 200)
            for client in fast {
                #expect(Self.index(of: try await client.nextMessage()) == index)
            }
        }
        await publisher.close()
    }

    static func index(of frame: TestWebSocket.ReceivedFrame) -> Int {
        Int(frame.text.prefix(4))!
    }

    @Test("disconnect: a client that stops reading is closed with 1008 while the others miss nothing")
    func disconnect() async throws {
        var configuration = TestServer.slowConsumerConfiguration(.disconnect)
        configuration.closeTimeout = .seconds(20)
        try await TestServer.with(configuration) { server in
            let slow = try await TestWebSocket.connect(port: server.port, path: "/ws/feed", receiveBufferSize: 4096)
            try await slow.connection.setReading(false)
            let fast = [
                try await TestWebSocket.connect(port: server.port, path: "/ws/feed"),
                try await TestWebSocket.connect(port: server.port, path: "/ws/feed"),
            ]
            try await Self.publishAll(server, fast: fast)
            let statistics = try await server.statistics()
            #expect(statistics.slowConsumerDisconnects == 1)
            #expect(statistics.deliveries < 3 * Self.messageCount)

            // The slow client gets what was queued before the limit, then the close frame.
            try await slow.connection.setReading(true)
            var received = 0
            var close: TestWebSocket.ReceivedFrame?
            while close == nil {
                let frame = try await slow.nextMessage()
                if frame.opcode == 0x8 { close = frame } else {
                    #expect(Self.index(of: frame) == received)
                    received += 1
                }
            }
            #expect(close?.closeCode == 1008)
            #expect(close?.closeReason == "slow consumer")
            #expect(received < Self.messageCount)
            for client in fast { try await client.sync() }
        }
    }

    @Test("drop: a slow client's messages are skipped and counted, it stays connected, others miss nothing")
    func drop() async throws {
        try await TestServer.with(TestServer.slowConsumerConfiguration(.drop)) { server in
            let slow = try await TestWebSocket.connect(port: server.port, path: "/ws/feed", receiveBufferSize: 4096)
            try await slow.connection.setReading(false)
            let fast = try await TestWebSocket.connect(port: server.port, path: "/ws/feed")
            try await Self.publishAll(server, fast: [fast])
            let statistics = try await server.statistics()
            #expect(statistics.slowConsumerDrops > 0)
            #expect(statistics.slowConsumerDisconnects == 0)
            #expect(statistics.deliveries + statistics.slowConsumerDrops == 2 * Self.messageCount)

            // It drains what was queued, in order, with gaps where messages were dropped, and is still open.
            try await slow.connection.setReading(true)
            try await slow.send(opcode: 0x9, payload: Array("sync".utf8))
            var last = -1
            var received = 0
            while true {
                let frame = try await slow.nextFrame()
                if frame.opcode == 0xA { break }
                guard frame.opcode == 0x1 else { continue }
                let index = Self.index(of: frame)
                #expect(index > last)
                last = index
                received += 1
            }
            #expect(received + statistics.slowConsumerDrops == Self.messageCount)
        }
    }
}

/// A zero-padded four-digit decimal.
func padded4(_ value: Int) -> String {
    let digits = String(value)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
