import ChorusCore
import ChorusServer
import NIOCore
import Testing

/// Control-frame floods from a client that never reads: memory stays within the pending-bytes limit, the flood
/// ends in a counted close, and a well-behaved client keeps receiving. Bounded in count and time; both
/// transports (`CHORUS_TEST_TRANSPORT`).
@Suite("Abuse: ping floods")
struct PingFloodTests {
    /// A masked ping whose 125-byte payload starts with `index` (big-endian), so its pong can be recognised.
    private static func ping(_ index: Int) -> [UInt8] {
        let tag = withUnsafeBytes(of: UInt32(index).bigEndian, Array.init)
        return TestWebSocket.encodeFrame(opcode: 0x9, payload: tag + [UInt8](repeating: 0x70, count: 121))
    }

    /// Outbound bytes queued in Chorus over every connection, read on the server's loops.
    private func pendingBytes(_ server: TestServer) async throws -> Int {
        let snapshots = try await server.server.hub.collect(on: server.server.hub.shards[0].eventLoop) {
            $0.snapshot()
        }.get()
        return snapshots.map(\.pendingOutboundBytes).reduce(0, +)
    }

    @Test("past --max-control-frames-per-second the flooder is closed 1008, counted; the canary is unharmed")
    func rateLimited() async throws {
        let configuration = TestServer.configuration { $0.maxControlFramesPerSecond = 100 }
        try await TestServer.with(configuration) { server in
            let canary = try await TestWebSocket.connect(port: server.port, path: "/ws/live")
            let flooder = try await TestWebSocket.connect(port: server.port, path: "/ws/x", receiveBufferSize: 4096)
            try await flooder.connection.setReading(false)
            // 1,000 pings at once (131 KB): ten times the second's allowance.
            try await flooder.connection.send(Array((0..<1000).map(Self.ping).joined()))

            // The flooder reads again: the pongs the limit allowed, then the close.
            try await flooder.connection.setReading(true)
            var pongs = 0
            var close: TestWebSocket.ReceivedFrame?
            while close == nil {
                let frame = try await flooder.nextFrame()
                switch frame.opcode {
                case 0xA: pongs += 1
                case 0x8: close = frame
                default: break
                }
            }
            #expect(close?.closeCode == 1008 && close?.closeReason == "too many control frames")
            // At most the allowance (twice, if the window turned during the flood), fewer when pongs replaced
            // each other behind the queue; never the flood.
            #expect(pongs >= 1 && pongs <= 200)
            try await flooder.sendClose(code: 1008)
            _ = try await flooder.connection.readUntilClosed()

            let statistics = try await server.statistics()
            #expect(statistics.closed(.controlFrameFlood) == 1)
            #expect(statistics.closed(.protocolError) == 0 && statistics.slowConsumerDisconnects == 0)
            #expect(try await server.publish("live", "still here").body.contains(#""delivered":1"#))
            #expect(try await canary.nextMessage().text == "still here")
            let metrics = parseExposition(try await httpRequest(port: server.port, "GET", "/metrics").body)
            #expect(metrics[#"chorus_connections_closed_total{reason="control_frame_flood"}"#] == 1)
            await canary.close()
        }
    }

    @Test("without a rate limit a flooder that never reads holds one waiting pong, within the pending limit")
    func oneWaitingPong() async throws {
        let maxPending = 64 * 1024
        let configuration = TestServer.configuration {
            $0.maxControlFramesPerSecond = 0
            $0.maxPendingBytes = maxPending
            $0.socketSendBufferBytes = 8192
        }
        try await TestServer.with(configuration) { server in
            let canary = try await TestWebSocket.connect(port: server.port, path: "/ws/live")
            let flooder = try await TestWebSocket.connect(port: server.port, path: "/ws/x", receiveBufferSize: 4096)
            try await flooder.connection.setReading(false)
            let pings = 20_000  // 2.6 MB of pings, 2.5 MB of pongs if every one were queued
            var largestPending = 0
            for batch in stride(from: 0, to: pings, by: 500) {
                try await flooder.connection.send(Array((batch..<(batch + 500)).map(Self.ping).joined()))
                largestPending = max(largestPending, try await self.pendingBytes(server))
            }
            // One turn's worth of pongs (epoll: 64 corked) and a waiting one above what the kernel took.
            #expect(largestPending <= maxPending + 16 * 1024)

            // The canary is served meanwhile.
            #expect(try await server.publish("live", "still here").body.contains(#""delivered":1"#))
            #expect(try await canary.nextMessage().text == "still here")

            // Reading again, the flooder gets a few pongs and finally the answer to its last ping.
            try await flooder.connection.setReading(true)
            var received = 0
            var last = -1
            while last != pings - 1 {
                let frame = try await flooder.nextFrame()
                guard frame.opcode == 0xA else { continue }
                received += 1
                last = Int(UInt32(bigEndian: frame.payload.prefix(4).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
            }
            #expect(received < pings / 10)
            let statistics = try await server.statistics()
            #expect(statistics.pongsReplaced >= pings - received - 1)
            #expect(statistics.slowConsumerDisconnects == 0)
            let metrics = parseExposition(try await httpRequest(port: server.port, "GET", "/metrics").body)
            #expect((metrics["chorus_pongs_replaced_total"] ?? 0) == Double(statistics.pongsReplaced))
            await flooder.close()
            await canary.close()
        }
    }

    @Test("a ping to a connection over its pending limit gets the slow-consumer policy: closed 1008, counted")
    func pingWhileOverLimit() async throws {
        try await TestServer.with(TestServer.slowConsumerConfiguration(.disconnect)) { server in
            let slow = try await TestWebSocket.connect(port: server.port, path: "/ws/s", receiveBufferSize: 4096)
            try await slow.connection.setReading(false)
            let message = String(repeating: "m", count: 8 * 1024)
            // Publish until the subscriber is past its 16 KiB limit (no delivery has found it so yet).
            var published = 0
            while try await self.pendingBytes(server) <= 16 * 1024 {
                #expect(try await server.publish("s", message).body.contains(#""delivered":1"#))
                published += 1
                try #require(published < 64, "the subscriber never went over its limit")
            }
            try await slow.send(opcode: 0x9, payload: Array("are you there".utf8))
            try await slow.connection.setReading(true)
            let close = try await slow.expectClose(skippingData: true)
            #expect(close.closeCode == 1008 && close.closeReason == "slow consumer")
            let statistics = try await server.statistics()
            #expect(statistics.slowConsumerDisconnects == 1 && statistics.closed(.slowConsumer) == 1)
        }
    }
}
