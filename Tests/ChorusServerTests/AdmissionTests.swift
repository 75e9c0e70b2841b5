import ChorusServer
import NIOCore
import Testing

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Memory-aware admission, the upgrade-rate limit and the plain-GET probe, over loopback on the transport under
/// test (both, through `CHORUS_TEST_TRANSPORT`).
@Suite("Admission: memory watermarks, upgrade rate, the probe", .serialized)
struct AdmissionTests {
    /// Polls `condition` every 20 ms until it holds or `seconds` pass; returns whether it held.
    private func eventually(within seconds: Double = 10, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await condition()
    }

    private func readiness(_ server: TestServer) async throws -> TestHTTPResponse {
        try await httpRequest(port: server.port, "GET", "/readyz")
    }

    private func scrape(_ server: TestServer) async throws -> [String: Double] {
        parseExposition(try await httpRequest(port: server.port, "GET", "/metrics").body)
    }

    private func retryAfter(_ head: String) -> Int? {
        TestHTTPResponse(status: 0, head: head, body: "").header("retry-after").flatMap { Int($0) }
    }

    @Test("a memory limit below current use: upgrades and probes get 503 with Retry-After 5-15 s, /readyz 503")
    func overLimitFromTheStart() async throws {
        let configuration = TestServer.configuration { $0.memoryLimit = 1 << 20 }  // 1 MiB: always over
        try await TestServer.with(configuration) { server in
            let ready = try await self.readiness(server)
            #expect(ready.status == 503 && ready.body.contains(#"{"status":"memory high"}"#))
            for _ in 0..<3 {
                let refused = try await upgrade(port: server.port, path: "/ws/news")
                #expect(refused.status == 503 && refused.body.contains("memory"))
                #expect(self.retryAfter(refused.head).map { (5...15).contains($0) } == true, "\(refused.head)")
            }
            let probe = try await httpRequest(port: server.port, "GET", "/ws/news")
            #expect(probe.status == 503 && (5...15).contains(Int(probe.header("retry-after") ?? "") ?? 0))
            #expect(probe.header("access-control-allow-origin") == "*")
            let values = try await self.scrape(server)
            #expect(values[#"chorus_handshakes_rejected_total{reason="memory"}"#] == 3)
            #expect(values[#"chorus_upgrade_probes_total{reason="memory"}"#] == 1)
            #expect(values["chorus_admission_open"] == 0)
            #expect(values["chorus_memory_limit_bytes"] == Double(1 << 20))
            #expect((values["chorus_memory_used_bytes"] ?? 0) > Double(1 << 20))
            // Publishing is not an upgrade: it still works.
            #expect(try await server.publish("news", "still publishing").status == 200)
        }
    }

    /// Maps `bytes` of fresh memory into this process (which also runs the server under test) and touches every
    /// page, so resident memory grows by that much until `release` unmaps it.
    private struct Ballast {
        let pointer: UnsafeMutableRawPointer
        let bytes: Int

        init(bytes: Int) throws {
            guard let mapped = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                mapped != MAP_FAILED
            else { throw MappingFailed() }
            memset(mapped, 1, bytes)
            self.pointer = mapped
            self.bytes = bytes
        }

        func release() { munmap(self.pointer, self.bytes) }

        struct MappingFailed: Error {}
    }

    @Test("crossing the high watermark closes admission, open connections keep receiving; below the low one it reopens")
    func hysteresisOverLoopback() async throws {
        // The server runs in this process, so its resident memory is ours: the high watermark is set 64 MiB above
        // it, the low one 32 MiB above (room for the server's own start), and 128 MiB of ballast crosses them.
        let mebibyte = 1 << 20
        let resident = ProcessMetrics.residentBytes()
        try #require(resident > 0, "resident memory is read from /proc")
        let limit = (resident + 64 * mebibyte) * 100 / 90
        let low = (resident + 32 * mebibyte) * 100 / limit
        let configuration = TestServer.configuration {
            $0.memoryLimit = limit
            $0.memoryHighWatermark = 90
            $0.memoryLowWatermark = low
            $0.memorySampleInterval = .milliseconds(20)
        }
        try await TestServer.with(configuration) { server in
            #expect(try await self.readiness(server).status == 200)
            let subscriber = try await TestWebSocket.connect(port: server.port, path: "/ws/news")

            let ballast = try Ballast(bytes: 128 * mebibyte)
            var released = false
            defer { if !released { ballast.release() } }
            #expect(try await self.eventually { try await self.readiness(server).status == 503 })
            let refused = try await upgrade(port: server.port, path: "/ws/news")
            #expect(refused.status == 503)
            #expect(self.retryAfter(refused.head).map { (5...15).contains($0) } == true, "\(refused.head)")
            #expect(try await self.scrape(server)["chorus_admission_open"] == 0)

            // The open connection is not dropped and still gets what is published.
            #expect(try await server.publish("news", "while memory is high").status == 200)
            #expect(try await subscriber.nextMessage().text == "while memory is high")

            ballast.release()
            released = true
            #expect(try await self.eventually { try await self.readiness(server).status == 200 })
            let admitted = try await upgrade(port: server.port, path: "/ws/news")
            #expect(admitted.status == 101)
            await admitted.socket?.close()
            let values = try await self.scrape(server)
            #expect(values["chorus_admission_open"] == 1)
            #expect(values[#"chorus_handshakes_rejected_total{reason="memory"}"#] == 1)
            await subscriber.close()
        }
    }

    @Test("--max-upgrades-per-second 5: a burst of 20 admits about 5, the rest get 503 with Retry-After 1-5 s")
    func upgradeRate() async throws {
        let configuration = TestServer.configuration { $0.maxUpgradesPerSecond = 5 }
        try await TestServer.with(configuration) { server in
            var admitted: [TestWebSocket] = []
            var refused = 0
            let start = ContinuousClock.now
            for _ in 0..<20 {
                let answer = try await upgrade(port: server.port, path: "/ws/storm")
                if let socket = answer.socket {
                    admitted.append(socket)
                } else {
                    #expect(answer.status == 503 && answer.body.contains("too many upgrades"))
                    #expect(self.retryAfter(answer.head).map { (1...5).contains($0) } == true, "\(answer.head)")
                    refused += 1
                }
            }
            // Five at once, plus one per 200 ms the burst took.
            let elapsed = (ContinuousClock.now - start) / .milliseconds(200)
            #expect(admitted.count >= 5 && admitted.count <= 5 + Int(elapsed.rounded(.up)), "\(admitted.count)")
            #expect(refused == 20 - admitted.count)
            let values = try await self.scrape(server)
            #expect(values[#"chorus_handshakes_rejected_total{reason="rate"}"#] == Double(refused))
            #expect(values[#"chorus_handshakes_rejected_total{reason="rate_limited"}"#] == 0)

            // The bucket refills: later upgrades are admitted again (refusals take no token).
            var later: TestWebSocket?
            #expect(
                try await self.eventually(within: 5) {
                    later = try await upgrade(port: server.port, path: "/ws/storm").socket
                    return later != nil
                }
            )
            await later?.close()
            for socket in admitted { await socket.close() }
        }
    }

    @Test("the probe: 426 normally, 503 while rate-limited (taking no token), with CORS headers; OPTIONS preflight")
    func probeAndRate() async throws {
        let configuration = TestServer.configuration { $0.maxUpgradesPerSecond = 1 }
        try await TestServer.with(configuration) { server in
            for _ in 0..<3 {
                // Peeking takes nothing: three probes, and the one token is still there for the upgrade.
                let probe = try await httpRequest(port: server.port, "GET", "/ws/news")
                #expect(probe.status == 426 && probe.header("upgrade") == "websocket")
                #expect(probe.header("access-control-allow-origin") == "*")
                #expect(probe.header("access-control-expose-headers") == "Retry-After")
            }
            let first = try await upgrade(port: server.port, path: "/ws/news")
            #expect(first.status == 101)
            let limited = try await httpRequest(port: server.port, "GET", "/ws/news")
            #expect(limited.status == 503 && limited.body.contains("too many upgrades"))
            #expect((1...5).contains(Int(limited.header("retry-after") ?? "") ?? 0))
            #expect(limited.header("access-control-allow-origin") == "*")
            #expect(limited.header("access-control-expose-headers") == "Retry-After")
            // The bucket refills within a second; until then probes keep saying 503.
            var rateProbes = 1
            #expect(
                try await self.eventually {
                    let status = try await httpRequest(port: server.port, "GET", "/ws/news").status
                    if status == 503 { rateProbes += 1 }
                    return status == 426
                }
            )

            let preflight = try await httpRequest(
                port: server.port,
                "OPTIONS",
                "/ws/news",
                headers: ["Origin: https://app.example", "Access-Control-Request-Headers: authorization"]
            )
            #expect(preflight.status == 204 && preflight.header("access-control-allow-origin") == "*")
            #expect(preflight.header("access-control-allow-headers")?.lowercased() == "authorization")

            let values = try await self.scrape(server)
            #expect(values[#"chorus_upgrade_probes_total{reason="rate"}"#] == Double(rateProbes))
            #expect(values[#"chorus_upgrade_probes_total{reason="none"}"#] == 4)
            // Probes are not handshake rejections.
            #expect(values[#"chorus_handshakes_rejected_total{reason="rate"}"#] == 0)
            #expect(values[#"chorus_handshakes_rejected_total{reason="bad_request"}"#] == 0)
            await first.socket?.close()
        }
    }

    @Test("the probe with tokens: 401 without or with a bad token, 403 for a channel outside it, 426 when allowed")
    func probeWithTokens() async throws {
        let configuration = TestServer.configuration { $0.jwtSecret = TestTokens.secret }
        try await TestServer.with(configuration) { server in
            let bearer = { (token: String) in ["Authorization: Bearer \(token)"] }
            let missing = try await httpRequest(port: server.port, "GET", "/ws/news")
            #expect(missing.status == 401 && missing.header("www-authenticate") == "Bearer")
            #expect(missing.header("access-control-allow-origin") == "*")
            let bad = try await httpRequest(port: server.port, "GET", "/ws/news", headers: bearer("not.a.token"))
            #expect(bad.status == 401 && bad.header("www-authenticate")?.contains("invalid_token") == true)
            let wrongSecret = TestTokens.signed(secret: String(repeating: "x", count: 40))
            let forged = try await httpRequest(port: server.port, "GET", "/ws/news", headers: bearer(wrongSecret))
            #expect(forged.status == 401)
            let valid = TestTokens.signed()
            let forbidden = try await httpRequest(port: server.port, "GET", "/ws/sports", headers: bearer(valid))
            #expect(forbidden.status == 403 && forbidden.body.contains("sports"))
            let allowed = try await httpRequest(port: server.port, "GET", "/ws/news", headers: bearer(valid))
            #expect(allowed.status == 426 && allowed.header("access-control-allow-origin") == "*")
            // The upgrade with the same token agrees with the probe.
            let upgraded = try await upgrade(port: server.port, path: "/ws/news", headers: bearer(valid))
            #expect(upgraded.status == 101)
            await upgraded.socket?.close()

            let values = try await self.scrape(server)
            #expect(values[#"chorus_upgrade_probes_total{reason="unauthorized"}"#] == 3)
            #expect(values[#"chorus_upgrade_probes_total{reason="forbidden"}"#] == 1)
            #expect(values[#"chorus_upgrade_probes_total{reason="none"}"#] == 1)
            #expect(values[#"chorus_handshakes_rejected_total{reason="unauthorized"}"#] == 0)
        }
    }
}
