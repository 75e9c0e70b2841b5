import ChorusCore
import ChorusServer
import NIOCore
import Testing

private func metrics(_ server: TestServer) async throws -> [String: Double] {
    parseExposition(try await httpRequest(port: server.port, "GET", "/metrics").body)
}

@Suite("Who may connect, subscribe and publish (over loopback)")
struct AccessTests {
    static func tokenServer(_ adjust: @escaping (inout ServerConfiguration) -> Void = { _ in }) -> ServerConfiguration {
        TestServer.configuration {
            $0.jwtSecret = TestTokens.secret
            adjust(&$0)
        }
    }

    @Test("a valid token is accepted from the query, a bearer header, or the chorus.token subprotocol")
    func tokenForms() async throws {
        try await TestServer.with(Self.tokenServer()) { server in
            let token = TestTokens.signed()
            let query = try await upgrade(port: server.port, path: "/ws/news?token=\(token)")
            #expect(query.status == 101)
            #expect(!query.head.lowercased().contains("sec-websocket-protocol"))
            let bearer = try await upgrade(
                port: server.port,
                path: "/ws/news",
                headers: ["Authorization: Bearer \(token)"]
            )
            #expect(bearer.status == 101)
            let subprotocol = try await upgrade(
                port: server.port,
                path: "/ws/news",
                headers: ["Sec-WebSocket-Protocol: chorus, chorus.token.\(token)"]
            )
            #expect(subprotocol.status == 101)
            // The server selects the plain subprotocol and never echoes the token.
            #expect(subprotocol.head.contains("Sec-WebSocket-Protocol: chorus\r\n"))
            #expect(!subprotocol.head.contains(token))
            // The token subprotocol alone cannot be answered (the server would have to echo the token).
            let alone = try await upgrade(
                port: server.port,
                path: "/ws/news",
                headers: ["Sec-WebSocket-Protocol: chorus.token.\(token)"]
            )
            #expect(alone.status == 400)
            #expect(!alone.body.contains(token))

            let response = try await server.publish("news", "hello")
            #expect(response.body.contains(#""delivered":3"#))
            for socket in [query.socket, bearer.socket, subprotocol.socket].compactMap({ $0 }) {
                #expect(try await socket.nextMessage().text == "hello")
                await socket.close()
            }
        }
    }

    @Test("missing, expired, forged, alg none, wrong-algorithm, exp-less and malformed tokens get 401")
    func unauthorized() async throws {
        try await TestServer.with(Self.tokenServer()) { server in
            let tokens = [
                TestTokens.signed(claims: TestTokens.claims(expiresIn: -5)),
                TestTokens.signed(secret: "a-different-secret-of-32-bytes-or-more"),
                TestTokens.unsigned(),
                TestTokens.signed(header: #"{"alg":"HS512","typ":"JWT"}"#, sha512: true),
                TestTokens.signed(claims: TestTokens.claims(expiresIn: nil)),
                "garbage.garbage.garbage",
            ]
            let missing = try await upgrade(port: server.port, path: "/ws/news")
            #expect(missing.status == 401)
            #expect(missing.head.contains("WWW-Authenticate: Bearer\r\n"))
            let basic = try await upgrade(port: server.port, path: "/ws/news", headers: ["Authorization: Basic eDp5"])
            #expect(basic.status == 401)
            for token in tokens {
                let refused = try await upgrade(port: server.port, path: "/ws/news?token=\(token)")
                #expect(refused.status == 401, "\(refused.body)")
                #expect(refused.head.contains(#"WWW-Authenticate: Bearer error="invalid_token""#))
                // Secrets stay out of answers: neither the token nor the server's secret is repeated.
                #expect(!refused.body.contains(token) && !refused.body.contains(TestTokens.secret))
            }
            let values = try await metrics(server)
            #expect(values[#"chorus_handshakes_rejected_total{reason="unauthorized"}"#] == Double(tokens.count + 2))
            #expect(values["chorus_connections_accepted_total"] == 0)
        }
    }

    @Test("channels outside the token's permissions: 403 at the upgrade, 1008 for a runtime subscribe")
    func channelPermissions() async throws {
        try await TestServer.with(Self.tokenServer()) { server in
            let token = TestTokens.signed()  // channels: news, user.42.*
            let outside = try await upgrade(
                port: server.port,
                path: "/ws?channel=news&channel=user.43.inbox&token=\(token)"
            )
            #expect(outside.status == 403)
            #expect(outside.body.contains("user.43.inbox"))

            let client = try #require(
                try await upgrade(port: server.port, path: "/ws/user.42.inbox?token=\(token)").socket
            )
            try await client.sendText(#"{"subscribe":"news"}"#)
            try await client.sync()
            #expect(try await server.subscriberCount("news") == 1)
            try await client.sendText(#"{"subscribe":"user.43.inbox"}"#)
            let close = try await client.expectClose()
            #expect(close.closeCode == 1008)
            #expect(close.closeReason == "not allowed to subscribe to this channel")
            #expect(try await server.subscriberCount("user.43.inbox") == 0)

            let values = try await metrics(server)
            #expect(values[#"chorus_handshakes_rejected_total{reason="forbidden"}"#] == 1)
        }
    }

    @Test("client publishing needs the token's publish claim for that channel")
    func publishPermission() async throws {
        try await TestServer.with(Self.tokenServer { $0.clientPublish = true }) { server in
            let listener = try #require(
                try await upgrade(port: server.port, path: "/ws/news?token=\(TestTokens.signed())").socket
            )
            let publisher = try #require(
                try await upgrade(
                    port: server.port,
                    path: "/ws?token=\(TestTokens.signed(claims: TestTokens.claims(publish: ["news"])))"
                ).socket
            )
            try await publisher.sendText(#"{"publish":"news","data":"allowed"}"#)
            #expect(try await listener.nextMessage().text == "allowed")

            // The listener's token has no publish claim: it may not publish even where it may listen.
            try await listener.sendText(#"{"publish":"news","data":"refused"}"#)
            let close = try await listener.expectClose()
            #expect(close.closeCode == 1008 && close.closeReason == "not allowed to publish to this channel")
            // And the publisher may not publish outside its claim.
            try await publisher.sendText(#"{"publish":"user.42.x","data":"refused"}"#)
            #expect(try await publisher.expectClose().closeCode == 1008)
        }
    }

    @Test("a live connection is closed with 1008 \"token expired\" when its exp passes")
    func expiry() async throws {
        try await TestServer.with(Self.tokenServer()) { server in
            let shortLived = TestTokens.signed(claims: TestTokens.claims(expiresIn: 1.5))
            let longLived = TestTokens.signed()
            let expiring = try #require(
                try await upgrade(port: server.port, path: "/ws/news?token=\(shortLived)").socket
            )
            let staying = try #require(try await upgrade(port: server.port, path: "/ws/news?token=\(longLived)").socket)
            // Awaits the close frame itself: it arrives within about a second of exp.
            let close = try await expiring.expectClose(timeout: .seconds(8))
            #expect(close.closeCode == 1008 && close.closeReason == "token expired")
            // The other connection is untouched and still receives.
            #expect(try await server.publish("news", "still here").body.contains(#""delivered":1"#))
            #expect(try await staying.nextMessage().text == "still here")
            let values = try await metrics(server)
            #expect(values[#"chorus_connections_closed_total{reason="token_expired"}"#] == 1)
            await staying.close()
        }
    }

    @Test("an RS256 or ES256 key file is loaded at start, and a bad one stops the server")
    func badKeyFile() async throws {
        let configuration = TestServer.configuration { $0.jwtPublicKeyFile = "/nonexistent/chorus-key.pem" }
        await #expect(throws: ConfigurationError.self) {
            try await TestServer.with(configuration) { _ in }
        }
    }

    @Test("Origin: allowed origins upgrade, others get 403 and are counted")
    func origins() async throws {
        let configuration = TestServer.configuration {
            $0.allowedOrigins = [OriginPattern("https://app.example.com")!, OriginPattern("*.example.org")!]
        }
        try await TestServer.with(configuration) { server in
            for origin in ["https://app.example.com", "https://eu.example.org"] {
                let accepted = try await upgrade(port: server.port, path: "/ws/a", headers: ["Origin: \(origin)"])
                #expect(accepted.status == 101, "\(origin)")
                await accepted.socket?.close()
            }
            for origin in ["https://evil.example", "null", "http://app.example.com"] {
                let refused = try await upgrade(port: server.port, path: "/ws/a", headers: ["Origin: \(origin)"])
                #expect(refused.status == 403, "\(origin)")
            }
            // Clients that are not browsers send no Origin.
            let plain = try await upgrade(port: server.port, path: "/ws/a")
            #expect(plain.status == 101)
            await plain.socket?.close()
            #expect(try await metrics(server)[#"chorus_handshakes_rejected_total{reason="origin"}"#] == 3)
        }
    }

    @Test("past max-connections-per-ip an upgrade gets 429; the place comes back when a connection closes")
    func perAddressLimit() async throws {
        try await TestServer.with(TestServer.configuration { $0.maxConnectionsPerIP = 2 }) { server in
            let first = try #require(try await upgrade(port: server.port, path: "/ws/a").socket)
            let second = try #require(try await upgrade(port: server.port, path: "/ws/a").socket)
            let refused = try await upgrade(port: server.port, path: "/ws/a")
            #expect(refused.status == 429)
            // X-Forwarded-For from an untrusted peer changes nothing.
            #expect(
                try await upgrade(port: server.port, path: "/ws/a", headers: ["X-Forwarded-For: 198.51.100.1"]).status
                    == 429
            )

            try await first.sendClose()
            #expect(try await first.nextFrame().opcode == 0x8)
            _ = try await first.connection.readUntilClosed()
            // The place is returned when the server has released the connection, which may be a moment after
            // the socket closed as the client sees it: retry a bounded number of times.
            var third: TestWebSocket?
            for _ in 0..<50 where third == nil {
                third = try await upgrade(port: server.port, path: "/ws/a").socket
            }
            let reopened = try #require(third)
            #expect(try await upgrade(port: server.port, path: "/ws/a").status == 429)
            #expect(try await metrics(server)[#"chorus_handshakes_rejected_total{reason="rate_limited"}"#] ?? 0 >= 3)
            await second.close()
            await reopened.close()
        }
    }

    @Test("behind a trusted proxy, X-Forwarded-For names the client that is counted")
    func trustedProxy() async throws {
        let configuration = TestServer.configuration {
            $0.maxConnectionsPerIP = 1
            $0.trustedProxies = [IPNetwork("127.0.0.0/8")!, IPNetwork("::1")!]
        }
        try await TestServer.with(configuration) { server in
            let alice = try await upgrade(port: server.port, path: "/ws/a", headers: ["X-Forwarded-For: 198.51.100.1"])
            let bob = try await upgrade(port: server.port, path: "/ws/a", headers: ["X-Forwarded-For: 198.51.100.2"])
            #expect(alice.status == 101 && bob.status == 101)
            let aliceAgain = try await upgrade(
                port: server.port,
                path: "/ws/a",
                headers: ["X-Forwarded-For: 198.51.100.1, 127.0.0.1"]
            )
            #expect(aliceAgain.status == 429)
            await alice.socket?.close()
            await bob.socket?.close()
        }
    }

    @Test("without an API key, a trusted proxy's requests publish only when X-Forwarded-For names a loopback client")
    func publishThroughTrustedProxy() async throws {
        let configuration = TestServer.configuration { $0.trustedProxies = [IPNetwork("127.0.0.1")!] }
        try await TestServer.with(configuration) { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/proxied")
            let cases: [(forwardedFor: String?, status: Int)] = [
                ("203.0.113.9", 403),  // a client on the internet, through nginx on this host
                ("127.0.0.1, 203.0.113.9", 403),  // a forged first hop does not help
                (nil, 403),  // a proxy that does not say who it forwards for
                ("127.0.0.1", 200),  // a local client through the proxy
            ]
            for (forwardedFor, status) in cases {
                let response = try await httpRequest(
                    port: server.port,
                    "POST",
                    "/publish/proxied",
                    headers: ["Content-Type: text/plain"] + (forwardedFor.map { ["X-Forwarded-For: \($0)"] } ?? []),
                    body: Array("from \(forwardedFor ?? "nobody")".utf8)
                )
                #expect(response.status == status, "X-Forwarded-For: \(forwardedFor ?? "none")")
                if status == 403 { #expect(response.body.contains("loopback only")) }
            }
            #expect(try await client.nextMessage().text == "from 127.0.0.1")
            await client.close()
        }
        // Without a trusted proxy the header is ignored: the loopback peer publishes, whatever it claims.
        try await TestServer.with { server in
            let response = try await httpRequest(
                port: server.port,
                "POST",
                "/publish/direct",
                headers: ["X-Forwarded-For: 203.0.113.9"],
                body: Array("hi".utf8)
            )
            #expect(response.status == 200)
        }
    }

    @Test("several API keys publish (rotation); a wrong one is refused")
    func apiKeyRotation() async throws {
        try await TestServer.with(TestServer.configuration { $0.apiKeys = ["old-key", "new-key"] }) { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/keys")
            for key in ["old-key", "new-key", "wrong-key", "new-ke"] {
                let response = try await httpRequest(
                    port: server.port,
                    "POST",
                    "/publish/keys",
                    headers: ["Content-Type: text/plain", "Authorization: Bearer \(key)"],
                    body: Array(key.utf8)
                )
                #expect(response.status == (key.hasSuffix("-key") && key != "wrong-key" ? 200 : 403), "\(key)")
                #expect(!response.body.contains(key))
            }
            #expect(try await client.nextMessage().text == "old-key")
            #expect(try await client.nextMessage().text == "new-key")
            try await client.sync()
            await client.close()
        }
    }
}
