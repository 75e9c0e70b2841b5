import ChorusCore
import ChorusServer
import NIOCore
import Testing

@Suite("Upgrade handshake and limits")
struct HandshakeTests {
    @Test(
        "an invalid channel name is refused with 400 and the reason in the body",
        arguments: [
            ("/ws/bad%20name", "outside [A-Za-z0-9_.:-]"),
            ("/ws?channel=", "channel name is empty"),
            ("/ws/" + String(repeating: "a", count: 129), "longer than 128 characters"),
            ("/ws/a?channel=b!", "outside [A-Za-z0-9_.:-]"),
            ("/ws?channel=ok&channel=", "channel name is empty"),
        ]
    )
    func invalidChannelName(path: String, reason: String) async throws {
        try await TestServer.with { server in
            let refused = try await refusal(port: server.port, path: path)
            #expect(refused.status == 400)
            #expect(refused.body.contains(reason), "body: \(refused.body)")
            #expect(refused.header("connection")?.lowercased() == "close")
        }
    }

    @Test("a 128-character channel name is accepted and receives its messages")
    func longestChannelName() async throws {
        try await TestServer.with { server in
            let name = String(repeating: "a", count: 64) + String(repeating: "Z9_.:-", count: 10) + "abcd"
            try #require(name.count == 128)
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/\(name)")
            let response = try await server.publish(name, "long name")
            #expect(response.status == 200 && response.body.contains(#""delivered":1"#))
            #expect(try await client.nextMessage().text == "long name")
            await client.close()
        }
    }

    @Test("a missing Sec-WebSocket-Key is refused with 400")
    func missingKey() async throws {
        try await TestServer.with { server in
            let response = try await rawUpgrade(port: server.port, path: "/ws/a", key: nil)
            #expect(response.status == 400)
            #expect(response.body.contains("Sec-WebSocket-Key"))
        }
    }

    @Test("a malformed Sec-WebSocket-Key is refused with 400")
    func malformedKey() async throws {
        try await TestServer.with { server in
            let response = try await rawUpgrade(port: server.port, path: "/ws/a", key: "c2hvcnQ=")
            #expect(response.status == 400)
            #expect(response.body.contains("Sec-WebSocket-Key"))
        }
    }

    @Test("Sec-WebSocket-Version 8 is refused with 426 and Sec-WebSocket-Version: 13")
    func wrongVersion() async throws {
        try await TestServer.with { server in
            let response = try await rawUpgrade(port: server.port, path: "/ws/a", version: "8")
            #expect(response.status == 426)
            #expect(response.header("sec-websocket-version") == "13")
            #expect(response.body.contains("Sec-WebSocket-Version: 13"))
        }
    }

    @Test("GET /ws without upgrade headers is answered with 426")
    func plainGetOnWebSocketPath() async throws {
        try await TestServer.with { server in
            for path in ["/ws", "/ws/news"] {
                let response = try await httpRequest(port: server.port, "GET", path)
                #expect(response.status == 426, "\(path)")
                #expect(response.header("upgrade")?.lowercased() == "websocket")
                #expect(response.header("sec-websocket-version") == "13")
            }
        }
    }

    @Test("an upgrade after a plain request on the same connection is refused plainly, and the connection ends")
    func upgradeAfterAPlainRequest() async throws {
        try await TestServer.with { server in
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(try await connection.read(upTo: "\r\n\r\n").hasPrefix("HTTP/1.1 200"))
            _ = try await connection.read(upTo: "\n")  // {"status":"ok"}
            var request = "GET /ws/a HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            request += "Sec-WebSocket-Key: \(TestWebSocket.sampleKey)\r\nSec-WebSocket-Version: 13\r\n\r\n"
            try await connection.send(request)
            let head = try await connection.read(upTo: "\r\n\r\n")
            #expect(head.hasPrefix("HTTP/1.1 400") && head.lowercased().contains("connection: close"))
            let body = try await connection.readUntilClosed()
            #expect(String(buffer: body).contains("must be the first request on its connection"))
        }
    }

    @Test("an upgrade with POST is refused with 405")
    func upgradeWithPost() async throws {
        try await TestServer.with { server in
            let connection = try await RawConnection.connect(port: server.port)
            var request = "POST /ws/a HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            request += "Sec-WebSocket-Key: \(TestWebSocket.sampleKey)\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n"
            try await connection.send(request)
            let head = try await connection.read(upTo: "\r\n\r\n")
            #expect(head.hasPrefix("HTTP/1.1 405"))
            let body = try await connection.readUntilClosed()
            #expect(String(buffer: body).contains("requires GET"))
        }
    }

    @Test("frames sent right behind the upgrade request are not lost")
    func framesBehindTheRequest() async throws {
        try await TestServer.with { server in
            let connection = try await RawConnection.connect(port: server.port)
            var request = "GET /ws/a HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            request += "Sec-WebSocket-Key: \(TestWebSocket.sampleKey)\r\nSec-WebSocket-Version: 13\r\n\r\n"
            try await connection.send(
                Array(request.utf8)
                    + TestWebSocket.encodeFrame(opcode: 0x1, payload: Array(#"{"subscribe":"b"}"#.utf8))
                    + TestWebSocket.encodeFrame(opcode: 0x9, payload: Array("early".utf8))
            )
            let head = try await connection.read(upTo: "\r\n\r\n")
            #expect(head.hasPrefix("HTTP/1.1 101"))
            let client = TestWebSocket(connection: connection)
            let pong = try await client.nextFrame()
            #expect(pong.opcode == 0xA && pong.text == "early")
            #expect(try await server.subscriberCount("b") == 1)
            await client.close()
        }
    }

    @Test("an upgrade to an unknown path is refused with 404")
    func unknownUpgradePath() async throws {
        try await TestServer.with { server in
            let refused = try await refusal(port: server.port, path: "/nope")
            #expect(refused.status == 404)
            #expect(!refused.body.isEmpty)
        }
    }

    @Test("more channels in the query than maxSubscriptions is refused with 400")
    func tooManyChannelsInQuery() async throws {
        try await TestServer.with(TestServer.configuration { $0.maxSubscriptions = 2 }) { server in
            let refused = try await refusal(port: server.port, path: "/ws/a?channel=b&channel=c")
            #expect(refused.status == 400)
            #expect(refused.body.contains("too many channels"))
            // Duplicates count once, so two distinct channels are fine.
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/a?channel=b&channel=a")
            #expect(try await server.subscriberCount("a") == 1)
            #expect(try await server.subscriberCount("b") == 1)
            await client.close()
        }
    }

    @Test("at maxConnections an upgrade gets 503 until a connection closes")
    func connectionLimit() async throws {
        try await TestServer.with(TestServer.configuration { $0.maxConnections = 2 }) { server in
            let first = try await TestWebSocket.connect(port: server.port, path: "/ws/a")
            let second = try await TestWebSocket.connect(port: server.port, path: "/ws/a")
            let refused = try await refusal(port: server.port, path: "/ws/a")
            #expect(refused.status == 503)
            #expect(refused.body.contains("capacity"))
            // Plain HTTP is not limited by the WebSocket capacity.
            #expect(try await httpRequest(port: server.port, "GET", "/healthz").status == 200)

            // Complete a closing handshake: the server closes TCP once it has released the connection.
            try await first.sendClose()
            let echo = try await first.nextFrame()
            #expect(echo.opcode == 0x8 && echo.closeCode == 1000)
            _ = try await first.connection.readUntilClosed()

            let third = try await upgradeRetrying(port: server.port, path: "/ws/a")
            // The freed place was taken again: the server is full once more.
            #expect(try await refusal(port: server.port, path: "/ws/a").status == 503)
            let response = try await server.publish("a", "both")
            #expect(response.body.contains(#""delivered":2"#))
            #expect(try await second.nextMessage().text == "both")
            #expect(try await third.nextMessage().text == "both")
            await second.close()
            await third.close()
        }
    }

    @Test("refused upgrades do not hold a connection place")
    func refusalsDoNotLeakCapacity() async throws {
        try await TestServer.with(TestServer.configuration { $0.maxConnections = 1 }) { server in
            for path in ["/ws/bad!", "/ws?channel=", "/nope", "/ws/" + String(repeating: "x", count: 129)] {
                #expect(try await refusal(port: server.port, path: path).status != 101)
            }
            #expect(try await rawUpgrade(port: server.port, path: "/ws/a", key: nil).status == 400)
            #expect(try await rawUpgrade(port: server.port, path: "/ws/a", version: "8").status == 426)
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/a")
            #expect(try await refusal(port: server.port, path: "/ws/a").status == 503)
            await client.close()
        }
    }

    @Test("a connection that sends only half a request head is closed after handshakeTimeout")
    func handshakeTimeout() async throws {
        // Long enough that a busy machine (the suite runs in parallel) gets the half head out before it expires.
        let configuration = TestServer.configuration { $0.handshakeTimeout = .seconds(1) }
        try await TestServer.with(configuration) { server in
            let slow = try await RawConnection.connect(port: server.port)
            let start = ContinuousClock.now
            try await slow.send("GET /ws/a HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: webso")
            let rest = try await slow.readUntilClosed(timeout: .seconds(5))
            let elapsed = ContinuousClock.now - start
            #expect(elapsed < .seconds(4))
            // Not closed on sight: the request was given its time (the timer starts at accept, before `start`).
            #expect(elapsed > .milliseconds(300))
            #expect(rest.readableBytes == 0)
            await slow.close()

            // A complete request on a fresh connection is served.
            #expect(try await httpRequest(port: server.port, "GET", "/healthz").status == 200)
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/a")
            try await client.sync()
            await client.close()
        }
    }

    @Test("a keep-alive HTTP connection left idle is closed after handshakeTimeout")
    func idleKeepAliveClosed() async throws {
        // Two requests must fit in it even on a busy machine.
        let configuration = TestServer.configuration { $0.handshakeTimeout = .seconds(1) }
        try await TestServer.with(configuration) { server in
            let connection = try await RawConnection.connect(port: server.port)
            #expect(try await connection.request("GET", "/healthz").status == 200)
            #expect(try await connection.request("GET", "/readyz").status == 200)
            let rest = try await connection.readUntilClosed(timeout: .seconds(5))
            #expect(rest.readableBytes == 0)
            await connection.close()
        }
    }

    @Test("an upgraded connection is not closed by the handshake timeout")
    func upgradedConnectionOutlivesHandshakeTimeout() async throws {
        // The upgrade itself must fit in it even on a busy machine.
        let configuration = TestServer.configuration { $0.handshakeTimeout = .seconds(1) }
        try await TestServer.with(configuration) { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/a")
            // A connection accepted after the upgrade, silent: once the server drops it, the upgraded
            // connection's handshake timer would have fired too.
            let clock = try await RawConnection.connect(port: server.port)
            _ = try await clock.readUntilClosed(timeout: .seconds(5))
            try await client.sync()
            let response = try await server.publish("a", "alive")
            #expect(response.body.contains(#""delivered":1"#))
            #expect(try await client.nextMessage().text == "alive")
            await clock.close()
            await client.close()
        }
    }
}

/// The server's answer to an upgrade of `path` that must be refused (records an issue if it was accepted).
private func refusal(port: Int, path: String, sourceLocation: SourceLocation = #_sourceLocation) async throws
    -> TestHTTPResponse
{
    do {
        let client = try await TestWebSocket.connect(port: port, path: path)
        await client.close()
        Issue.record("upgrade of \(path) was accepted", sourceLocation: sourceLocation)
        return TestHTTPResponse(status: 101, head: "", body: "")
    } catch let refused as TestWebSocket.Refused {
        let parts = refused.response.split(separator: "\r\n\r\n", maxSplits: 1, omittingEmptySubsequences: false)
        return TestHTTPResponse(
            status: refused.status,
            head: String(parts[0]) + "\r\n\r\n",
            body: parts.count > 1 ? String(parts[1]) : ""
        )
    }
}

/// Sends a hand-built upgrade request (nil leaves a header out) and reads the answer up to the server's close.
private func rawUpgrade(
    port: Int,
    path: String,
    key: String? = TestWebSocket.sampleKey,
    version: String? = "13"
) async throws -> TestHTTPResponse {
    let connection = try await RawConnection.connect(port: port)
    var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    if let key { request += "Sec-WebSocket-Key: \(key)\r\n" }
    if let version { request += "Sec-WebSocket-Version: \(version)\r\n" }
    request += "\r\n"
    try await connection.send(request)
    let head = try await connection.read(upTo: "\r\n\r\n")
    let status = Int(head.split(separator: " ")[1]) ?? 0
    let rest = try await connection.readUntilClosed()
    await connection.close()
    return TestHTTPResponse(status: status, head: head, body: String(buffer: rest))
}

/// Upgrades `path`, retrying a bounded number of times while the server still reports 503 (a place freed
/// on one event loop may become visible to another a moment later).
private func upgradeRetrying(port: Int, path: String) async throws -> TestWebSocket {
    var attempts = 0
    while true {
        do {
            return try await TestWebSocket.connect(port: port, path: path)
        } catch let refused as TestWebSocket.Refused where refused.status == 503 && attempts < 20 {
            attempts += 1
        }
    }
}
