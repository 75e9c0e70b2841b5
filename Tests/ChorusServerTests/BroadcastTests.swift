import ChorusServer
import Testing

@Suite("Broadcast over loopback")
struct BroadcastTests {
    @Test("three clients on two channels each receive exactly their channels' messages, verbatim and in order")
    func threeClientsTwoChannels() async throws {
        try await TestServer.with { server in
            let newsOnly = try await TestWebSocket.connect(port: server.port, path: "/ws/news")
            let sportsOnly = try await TestWebSocket.connect(port: server.port, path: "/ws?channel=sports")
            let both = try await TestWebSocket.connect(port: server.port, path: "/ws?channel=news&channel=sports")

            let messages = (0..<20).map { ($0 % 2 == 0 ? "news" : "sports", "message \($0) ✓ \"quoted\"") }
            for (channel, text) in messages {
                let response = try await server.publish(channel, text)
                #expect(response.status == 200)
                #expect(response.body.contains(#""delivered":2"#))
            }
            for (channel, text) in messages {
                let frame = try await both.nextMessage()
                #expect(frame.opcode == 0x1 && frame.text == text && frame.fin && !frame.masked)
                let single = channel == "news" ? newsOnly : sportsOnly
                let other = try await single.nextMessage()
                #expect(other.text == text)
            }
            // Nothing else is queued for anyone: a sync round-trip comes back first.
            for client in [newsOnly, sportsOnly, both] {
                try await client.sync()
            }
            for client in [newsOnly, sportsOnly, both] { await client.close() }
        }
    }

    @Test("binary publish arrives as a binary frame; large payloads use extended lengths")
    func binaryAndLarge() async throws {
        try await TestServer.with { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/bin")
            let payload = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let small = try await httpRequest(
                port: server.port, "POST", "/publish/bin",
                headers: ["Content-Type: application/octet-stream"], body: Array(payload.prefix(60_000))
            )
            #expect(small.status == 200)
            let frame = try await client.nextMessage()
            #expect(frame.opcode == 0x2)
            #expect(frame.payload == Array(payload.prefix(60_000)))
            await client.close()
        }
    }

    @Test("runtime subscribe and unsubscribe take effect")
    func runtimeSubscriptions() async throws {
        try await TestServer.with { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws")
            #expect(try await server.publish("late", "before").body.contains(#""delivered":0"#))
            try await client.sendText(#"{"subscribe":"late"}"#)
            try await client.sync()
            #expect(try await server.publish("late", "after subscribe").body.contains(#""delivered":1"#))
            #expect(try await client.nextMessage().text == "after subscribe")
            try await client.sendText(#"{"unsubscribe":"late"}"#)
            try await client.sync()
            #expect(try await server.publish("late", "after unsubscribe").body.contains(#""delivered":0"#))
            try await client.sync()
            await client.close()
        }
    }

    @Test("client publish is refused with 1008 when off")
    func clientPublishOff() async throws {
        try await TestServer.with { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/room")
            try await client.sendText(#"{"publish":"room","data":"hi"}"#)
            let close = try await client.expectClose()
            #expect(close.closeCode == 1008)
            #expect(close.closeReason == "client publish is disabled")
        }
    }

    @Test("client publish reaches every subscriber, the publisher included, when on")
    func clientPublishOn() async throws {
        try await TestServer.with(TestServer.configuration { $0.clientPublish = true }) { server in
            let publisher = try await TestWebSocket.connect(port: server.port, path: "/ws/room")
            let listener = try await TestWebSocket.connect(port: server.port, path: "/ws/room")
            for index in 0..<5 {
                try await publisher.sendText(#"{"publish":"room","data":"line \#(index)\n"}"#)
            }
            for index in 0..<5 {
                #expect(try await listener.nextMessage().text == "line \(index)\n")
                #expect(try await publisher.nextMessage().text == "line \(index)\n")
            }
            await publisher.close()
            await listener.close()
        }
    }
}
