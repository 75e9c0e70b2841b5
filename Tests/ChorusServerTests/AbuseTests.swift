import ChorusCore
import ChorusServer
import NIOCore
import Testing

/// Hostile clients over loopback: each is refused or closed with the right status or code, counted, and
/// leaves nothing behind, while a well-behaved client keeps receiving. Bounded in count and time.
///
/// Descriptor counts are process-wide, so these checks rely on `swift test --no-parallel` (the README's test
/// command). Connect/disconnect churn and its memory check run against a separate server process in
/// `scripts/churn.py`, where the client side cannot blur the server's numbers.
@Suite("Abuse that must not hurt anyone else")
struct AbuseTests {
    /// Blocks in use and open descriptors, read on the server's loops.
    private func footprint(_ server: TestServer) async throws -> (blocks: Int, fds: Int) {
        let snapshots = try await server.server.hub.collect(on: server.server.hub.shards[0].eventLoop) {
            $0.snapshot()
        }.get()
        let process = ProcessMetrics.sample()
        return (snapshots.map(\.blocksInUse).reduce(0, +), process.openFDs)
    }

    /// The footprint once descriptors are back to `before`'s count, or after 2 s. Closing a loopback connection
    /// finishes asynchronously on both ends (the test's last HTTP request included), and no event announces that
    /// the process's descriptor count has settled, so this polls, bounded.
    private func settledFootprint(_ server: TestServer, before: (blocks: Int, fds: Int)) async throws
        -> (blocks: Int, fds: Int)
    {
        let deadline = ContinuousClock.now + .seconds(2)
        var current = try await self.footprint(server)
        while current.fds > before.fds && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            current = try await self.footprint(server)
        }
        return current
    }

    @Test("slowloris: 1,000 connections sending one byte at a time are cut at the handshake timeout")
    func slowloris() async throws {
        let configuration = TestServer.configuration { $0.handshakeTimeout = .seconds(2) }
        try await TestServer.with(configuration) { server in
            let listener = try await TestWebSocket.connect(port: server.port, path: "/ws/live")
            // A NIO loop makes its timerfd when it first schedules a timer: let every HTTP loop answer (and arm its
            // request timer) before counting, or the count grows by one descriptor per loop first used below.
            for _ in 0..<8 { _ = try await server.publish("warm-up", "x") }
            let before = try await self.footprint(server)
            let request = Array("GET /ws/live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n".utf8)
            // All 1,000 connect and send their first byte. Sending the whole request this way would take 16 s.
            let lorises = try await withThrowingTaskGroup(of: (RawConnection, ContinuousClock.Instant).self) { group in
                for _ in 0..<1000 {
                    group.addTask {
                        let connection = try await RawConnection.connect(port: server.port)
                        let connected = ContinuousClock.now
                        try await connection.send([request[0]])
                        return (connection, connected)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let lifetimes = try await withThrowingTaskGroup(of: Duration?.self) { group in
                for (connection, connected) in lorises {
                    group.addTask {
                        // One more byte every 300 ms until the server hangs up.
                        for byte in request.dropFirst() where !connection.isClosed {
                            try await Task.sleep(for: .milliseconds(300))
                            try? await connection.send([byte])
                        }
                        _ = try await connection.readUntilClosed(timeout: .seconds(15))
                        return ContinuousClock.now - connected
                    }
                }
                // Meanwhile the well-behaved client keeps receiving.
                for index in 0..<5 {
                    #expect(try await server.publish("live", "tick \(index)").status == 200)
                    #expect(try await listener.nextMessage().text == "tick \(index)")
                }
                return try await group.reduce(into: [Duration]()) { if let lifetime = $1 { $0.append(lifetime) } }
            }
            // Each was cut near the 2 s timeout (slack for a loaded or sanitised run), long before finishing.
            #expect(lifetimes.count == 1000)
            #expect(lifetimes.allSatisfy { $0 < .seconds(8) }, "longest: \(lifetimes.max() ?? .zero)")
            #expect(server.server.state.rejections(.timeout) == 1000)
            try await listener.sync()
            let after = try await self.settledFootprint(server, before: before)
            #expect(after.blocks == before.blocks)
            #expect(after.fds <= before.fds)
            await listener.close()
        }
    }

    @Test("flood: upgrades past max-connections get 503 and are closed at once; accepted ones are unaffected")
    func flood() async throws {
        try await TestServer.with(TestServer.configuration { $0.maxConnections = 20 }) { server in
            var accepted: [TestWebSocket] = []
            var refused = 0
            for _ in 0..<30 {
                do {
                    accepted.append(try await TestWebSocket.connect(port: server.port, path: "/ws/f"))
                } catch let refusal as TestWebSocket.Refused {
                    #expect(refusal.status == 503)
                    refused += 1
                }
            }
            #expect(accepted.count == 20 && refused == 10)
            #expect(server.server.state.rejections(.overCapacity) == 10)
            #expect(try await server.publish("f", "still here").body.contains(#""delivered":20"#))
            for client in accepted { #expect(try await client.nextMessage().text == "still here") }
            for client in accepted { await client.close() }
        }
    }

    @Test("garbage: each kind is refused or closed with the right answer, counted, and leaves nothing behind")
    func garbage() async throws {
        let configuration = TestServer.configuration {
            $0.maxMessageBytes = 16 * 1024
            $0.pingInterval = .milliseconds(250)
        }
        try await TestServer.with(configuration) { server in
            // The first client connection starts the clients' event loops (their descriptors count too).
            #expect(try await httpRequest(port: server.port, "GET", "/healthz").status == 200)
            let before = try await self.footprint(server)

            // Random bytes instead of HTTP.
            var generator = SystemRandomNumberGenerator()
            let noise = (0..<512).map { _ in UInt8.random(in: 0...255, using: &generator) | 0x80 }
            let random = try await RawConnection.connect(port: server.port)
            try await random.send(noise)
            #expect(String(buffer: try await random.readUntilClosed()).hasPrefix("HTTP/1.1 400"))

            // 100 KiB of headers.
            let huge = try await RawConnection.connect(port: server.port)
            var request = "GET /ws/x HTTP/1.1\r\nHost: x\r\n"
            for index in 0..<1600 { request += "X-Filler-\(index): \(String(repeating: "a", count: 50))\r\n" }
            try? await huge.send(request + "\r\n")
            #expect(String(buffer: try await huge.readUntilClosed()).hasPrefix("HTTP/1.1 431 "))
            #expect(server.server.state.rejections(.badRequest) == 1)
            #expect(server.server.state.rejections(.headerTooLarge) == 1)

            // A frame header announcing 2^63 bytes, and one announcing 2^62.
            for (length, code) in [(UInt64(1) << 63, UInt16(1002)), (UInt64(1) << 62, UInt16(1009))] {
                let client = try await TestWebSocket.connect(port: server.port, path: "/ws/x")
                try await client.connection.send(
                    TestWebSocket.encodeFrame(opcode: 0x2, payload: [], lengthOverride: length)
                )
                #expect(try await client.expectClose().closeCode == code)
            }

            // A fragmented message that never ends.
            let endless = try await TestWebSocket.connect(port: server.port, path: "/ws/x")
            let chunk = [UInt8](repeating: 0x61, count: 1024)
            try await endless.send(opcode: 0x1, payload: chunk, fin: false)
            var closed: TestWebSocket.ReceivedFrame?
            for _ in 0..<64 where closed == nil {
                try? await endless.send(opcode: 0x0, payload: chunk, fin: false)
                if endless.connection.isClosed { break }
            }
            closed = try await endless.expectClose()
            #expect(closed?.closeCode == 1009)

            // A client that never answers pings.
            let mute = try await TestWebSocket.connect(port: server.port, path: "/ws/x")
            var sawPing = false
            while true {
                let frame = try await mute.nextFrame()
                if frame.opcode == 0x9 { sawPing = true; continue }
                #expect(frame.opcode == 0x8 && frame.closeCode == 1001 && frame.closeReason == "idle timeout")
                try await mute.sendClose(code: 1001)
                _ = try await mute.connection.readUntilClosed()
                break
            }
            #expect(sawPing)

            let statistics = try await server.statistics()
            #expect(statistics.closed(.protocolError) == 1)
            #expect(statistics.closed(.tooLarge) == 2)
            #expect(statistics.closed(.idleTimeout) == 1)
            let after = try await self.settledFootprint(server, before: before)
            #expect(after.blocks == before.blocks)
            #expect(after.fds <= before.fds)
            let pools = try await server.server.hub.collect(on: server.server.hub.shards[0].eventLoop) {
                ($0.pool.acquired, $0.pool.freeBuffers, $0.pool.bytesHeld, $0.settings.inboundBufferBytes)
            }.get()
            // Buffers came back to the pools, and only standard-size ones are kept (not the 16 KiB message's).
            #expect(pools.map(\.0).reduce(0, +) > 0)
            #expect(pools.allSatisfy { $0.2 == $0.1 * $0.3 })
        }
    }

    /// 17 KB, 70 KB and 95 KB headers and 10,000 header lines: never "at capacity", whatever the size.
    @Test("oversized heads get 431 and close, each counted once as header_too_large; others are unaffected")
    func oversizedHeads() async throws {
        try await TestServer.with { server in
            let listener = try await TestWebSocket.connect(port: server.port, path: "/ws/live")
            let upgrade =
                "GET /ws/live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: \(TestWebSocket.sampleKey)\r\nSec-WebSocket-Version: 13\r\n"
            let heads = [
                ("17 KB", upgrade + "X-Big: \(String(repeating: "a", count: 17 * 1024))\r\n\r\n"),
                ("70 KB", upgrade + "X-Big: \(String(repeating: "b", count: 70 * 1024))\r\n\r\n"),
                ("95 KB", upgrade + "X-Big: \(String(repeating: "c", count: 95 * 1024))\r\n\r\n"),
                ("10,000 lines", upgrade + (0..<10_000).map { "X-Line-\($0): v\r\n" }.joined() + "\r\n"),
            ]
            let state = server.server.state
            for (index, (name, head)) in heads.enumerated() {
                let (tooLarge, overCapacity, badRequest) =
                    (state.rejections(.headerTooLarge), state.rejections(.overCapacity), state.rejections(.badRequest))
                let connection = try await RawConnection.connect(port: server.port)
                // The server may answer and close before it has read everything: a failed send is expected.
                try? await connection.send(head)
                let response = String(buffer: try await connection.readUntilClosed())
                #expect(response.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "\(name): \(response)")
                #expect(response.lowercased().contains("\r\nconnection: close\r\n"), "\(name)")
                #expect(response.hasSuffix(#"{"error":"request header fields too large"}"# + "\n"), "\(name)")
                #expect(state.rejections(.headerTooLarge) == tooLarge + 1, "\(name)")
                #expect(state.rejections(.overCapacity) == overCapacity, "\(name)")
                #expect(state.rejections(.badRequest) == badRequest, "\(name)")
                // Meanwhile the well-behaved client keeps receiving.
                #expect(try await server.publish("live", "after \(index)").status == 200)
                #expect(try await listener.nextMessage().text == "after \(index)")
            }
            // A head under the limit (a browser with a 12 KB cookie) still upgrades, on either transport.
            let cookie = try await TestWebSocket.connect(
                port: server.port,
                path: "/ws/live",
                extraHeaders: ["Cookie: session=\(String(repeating: "d", count: 12 * 1024))"]
            )
            await cookie.close()
            // The metric counts each once, and a new client still upgrades.
            let metrics = try await httpRequest(port: server.port, "GET", "/metrics")
            #expect(metrics.body.contains(#"chorus_handshakes_rejected_total{reason="header_too_large"} 4"#))
            #expect(metrics.body.contains(#"chorus_handshakes_rejected_total{reason="over_capacity"} 0"#))
            let late = try await TestWebSocket.connect(port: server.port, path: "/ws/live")
            #expect(try await server.publish("live", "still here").body.contains(#""delivered":2"#))
            #expect(try await late.nextMessage().text == "still here")
            #expect(try await listener.nextMessage().text == "still here")
            await late.close()
            await listener.close()
        }
    }
}
