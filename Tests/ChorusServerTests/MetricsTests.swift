import ChorusCore
import ChorusServer
import NIOCore
import Testing

/// Reads a Prometheus text exposition into `series → value` (series as written, labels included).
func parseExposition(_ text: String) -> [String: Double] {
    var values: [String: Double] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
            continue
        }
        values[String(line[..<space])] = value
    }
    return values
}

@Suite("/metrics over loopback")
struct MetricsTests {
    static let payload = String(repeating: "m", count: 8 * 1024)

    @Test("after a scripted scenario every counter equals what happened: buffer reuse, closes, rejections, blocks")
    func scriptedScenario() async throws {
        try await TestServer.with(TestServer.slowConsumerConfiguration(.disconnect)) { server in
            let subscribers = 3
            let messages = 60
            var fast: [TestWebSocket] = []
            for _ in 0..<subscribers {
                fast.append(try await TestWebSocket.connect(port: server.port, path: "/ws/m"))
            }
            let slow = try await TestWebSocket.connect(port: server.port, path: "/ws/m", receiveBufferSize: 4096)
            try await slow.connection.setReading(false)

            // One protocol error and one refused handshake.
            let rude = try await TestWebSocket.connect(port: server.port, path: "/ws/other")
            try await rude.send(opcode: 0x1, payload: Array("{}".utf8), masked: false)
            #expect(try await rude.expectClose().closeCode == 1002)
            await #expect(throws: TestWebSocket.Refused.self) {
                _ = try await TestWebSocket.connect(port: server.port, path: "/ws/bad!")
            }

            // Each publish waits until the fast subscribers have read the previous one: only the slow one lags.
            let publisher = try await RawConnection.connect(port: server.port)
            for _ in 0..<messages {
                let response = try await publisher.request(
                    "POST", "/publish/m", headers: ["Content-Type: text/plain"], body: Array(Self.payload.utf8))
                #expect(response.status == 200)
                for client in fast {
                    #expect(try await client.nextMessage().payload.count == Self.payload.utf8.count)
                }
            }
            // The slow subscriber was cut off: it reads what had been queued, then the 1008, and closes.
            try await slow.connection.setReading(true)
            var slowReceived = 0
            while true {
                let frame = try await slow.nextMessage()
                if frame.opcode == 0x8 {
                    #expect(frame.closeCode == 1008)
                    try await slow.sendClose(code: 1008)
                    _ = try await slow.connection.readUntilClosed()
                    break
                }
                slowReceived += 1
            }
            #expect(slowReceived < messages)

            let scrape = try await httpRequest(port: server.port, "GET", "/metrics")
            #expect(scrape.status == 200)
            #expect(scrape.header("content-type") == "text/plain; version=0.0.4; charset=utf-8")
            let values = parseExposition(scrape.body)
            let wireLength = Double(4 + Self.payload.utf8.count)  // 16-bit extended length header
            let deliveries = Double(subscribers * messages + slowReceived)

            #expect(values["chorus_frames_encoded_total"] == Double(messages))
            #expect(values["chorus_deliveries_total"] == deliveries)
            #expect(values["chorus_frame_bytes_encoded_total"] == Double(messages) * wireLength)
            #expect(values["chorus_delivered_bytes_total"] == deliveries * wireLength)
            #expect(values[#"chorus_messages_published_total{source="http"}"#] == Double(messages))
            #expect(values[#"chorus_messages_published_total{source="client"}"#] == 0)
            #expect(values["chorus_message_size_bytes_count"] == Double(messages))
            #expect(values["chorus_message_size_bytes_sum"] == Double(messages * Self.payload.utf8.count))
            #expect(values["chorus_publish_fanout_seconds_count"] == Double(messages))

            #expect(values["chorus_connections"] == Double(subscribers))
            #expect(values["chorus_connections_accepted_total"] == Double(subscribers + 2))
            #expect(values[#"chorus_connections_closed_total{reason="slow_consumer"}"#] == 1)
            #expect(values[#"chorus_connections_closed_total{reason="protocol_error"}"#] == 1)
            #expect(values[#"chorus_connections_closed_total{reason="normal"}"#] == 0)
            #expect(values[#"chorus_handshakes_rejected_total{reason="bad_request"}"#] == 1)
            #expect(values["chorus_slow_consumer_disconnects_total"] == 1)
            #expect(values["chorus_slow_consumer_drops_total"] == 0)
            #expect(values["chorus_channels"] == 1)
            #expect(values["chorus_subscriptions"] == Double(subscribers))

            #expect(values[#"chorus_metadata_blocks{state="in_use"}"#] == Double(subscribers))
            #expect(values[#"chorus_metadata_blocks{state="free"}"#] == 2)
            #expect(values["chorus_metadata_blocks_allocated_total"] == Double(subscribers + 2))
            #expect(values["chorus_metadata_blocks_reused_total"] == 0)
            #expect((values["chorus_metadata_block_bytes"] ?? 0) > 0)
            #expect(
                values["chorus_buffer_pool_acquired_total"]
                    == (values["chorus_buffer_pool_hits_total"] ?? -1) + (values["chorus_buffer_pool_misses_total"] ?? -1)
            )
            #expect(values["chorus_connection_memory_bytes_count"] == Double(subscribers))
            #expect((values["chorus_memory_per_connection_bytes"] ?? -1) >= 0)
            #expect((values["process_resident_memory_bytes"] ?? 0) > 0)
            #expect((values["process_open_fds"] ?? 0) > 0)
            #expect(values[#"chorus_build_info{version="0.1.0"}"#] == 1)

            // A reconnect reuses a released block, with a new generation.
            let again = try await TestWebSocket.connect(port: server.port, path: "/ws/m")
            try await again.sync()
            let after = parseExposition(try await httpRequest(port: server.port, "GET", "/metrics").body)
            #expect(after["chorus_metadata_blocks_reused_total"] == 1)
            #expect(after[#"chorus_metadata_blocks{state="in_use"}"#] == Double(subscribers + 1))
            for client in fast + [again] { await client.close() }
            await publisher.close()
        }
    }

    @Test("every help line is present and each series is declared")
    func helpAndTypes() async throws {
        try await TestServer.with { server in
            let body = try await httpRequest(port: server.port, "GET", "/metrics").body
            let declared = Set(body.split(separator: "\n").filter { $0.hasPrefix("# HELP ") }.map {
                String($0.split(separator: " ")[2])
            })
            for name in [
                "chorus_connections", "chorus_deliveries_total", "chorus_frames_encoded_total",
                "chorus_memory_per_connection_bytes", "chorus_connection_memory_bytes", "chorus_publish_fanout_seconds",
                "chorus_buffer_pool_hits_total", "chorus_metadata_blocks", "process_cpu_seconds_total",
                "process_start_time_seconds", "process_max_fds",
            ] {
                #expect(declared.contains(name), "\(name) has no HELP line")
            }
            #expect(body.hasSuffix("\n"))
        }
    }

    @Test("a metrics token is required when set, and a separate metrics port moves /metrics off the main one")
    func tokenAndPort() async throws {
        let configuration = TestServer.configuration {
            $0.metricsPort = 0
            $0.metricsToken = "peek"
        }
        try await TestServer.with(configuration) { server in
            let metricsPort = try #require(try await server.server.metricsAddress?.port)
            #expect(try await httpRequest(port: server.port, "GET", "/metrics").status == 404)
            #expect(try await httpRequest(port: metricsPort, "GET", "/metrics").status == 401)
            #expect(
                try await httpRequest(port: metricsPort, "GET", "/metrics", headers: ["Authorization: Bearer nope"])
                    .status == 403
            )
            let scrape = try await httpRequest(
                port: metricsPort, "GET", "/metrics", headers: ["Authorization: Bearer peek"])
            #expect(scrape.status == 200 && scrape.body.contains("chorus_connections "))
            #expect(try await httpRequest(port: metricsPort, "GET", "/healthz").status == 200)
            #expect(try await httpRequest(port: metricsPort, "POST", "/publish/x").status == 404)
        }
    }
}
