import ChorusCore
import ChorusServer
import NIOCore
import Testing

@Suite("HTTP publish API")
struct PublishAPITests {
    @Test("a publish answers 200 with the channel and the number of subscribers it reached")
    func deliveredCount() async throws {
        try await TestServer.with { server in
            let nobody = try await server.publish("c", "into the void")
            #expect(nobody.status == 200)
            #expect(nobody.header("content-type") == "application/json")
            let epoch = try #require(nobody.body.firstMatch(of: /"epoch":"([A-Za-z0-9]{8})"/)?.1)
            #expect(nobody.body.trimmingNewline == #"{"channel":"c","delivered":0,"offset":1,"epoch":"\#(epoch)"}"#)

            let first = try await TestWebSocket.connect(port: server.port, path: "/ws/c")
            let second = try await TestWebSocket.connect(port: server.port, path: "/ws?channel=c&channel=d")
            let bystander = try await TestWebSocket.connect(port: server.port, path: "/ws/d")
            let two = try await server.publish("c", "hello")
            #expect(two.status == 200)
            // The channel's second message, in the same stream.
            #expect(two.body.trimmingNewline == #"{"channel":"c","delivered":2,"offset":2,"epoch":"\#(epoch)"}"#)
            #expect(try await first.nextMessage().text == "hello")
            #expect(try await second.nextMessage().text == "hello")
            // The subscriber of another channel got nothing.
            try await bystander.sync()
            for client in [first, second, bystander] { await client.close() }
        }
    }

    @Test(
        "the Content-Type decides the frame type",
        arguments: [
            ("application/json", UInt8(0x1)),
            ("text/plain; charset=utf-8", 0x1),
            ("Text/HTML", 0x1),
            ("application/octet-stream", 0x2),
            (nil, 0x2),
        ] as [(String?, UInt8)]
    )
    func contentTypeDecidesOpcode(contentType: String?, opcode: UInt8) async throws {
        try await TestServer.with { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/typed")
            let body = Array(#"{"n":1} ✓"#.utf8)
            let response = try await httpRequest(
                port: server.port,
                "POST",
                "/publish/typed",
                headers: contentType.map { ["Content-Type: \($0)"] } ?? [],
                body: body
            )
            #expect(response.status == 200)
            let frame = try await client.nextMessage()
            #expect(frame.opcode == opcode)
            #expect(frame.payload == body)
            #expect(frame.fin && !frame.masked)
            await client.close()
        }
    }

    @Test(
        "a text body that is not UTF-8 is refused with 400 and delivered to no one",
        arguments: [[0x66, 0xFF, 0x66], [0x61, 0xE2, 0x82], [0xED, 0xA0, 0x80]] as [[UInt8]]
    )
    func invalidUTF8Body(body: [UInt8]) async throws {
        try await TestServer.with { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/t")
            let response = try await httpRequest(
                port: server.port,
                "POST",
                "/publish/t",
                headers: ["Content-Type: text/plain; charset=utf-8"],
                body: body
            )
            #expect(response.status == 400)
            #expect(response.body.contains("UTF-8"))
            // The same bytes are fine as binary.
            let binary = try await httpRequest(
                port: server.port, "POST", "/publish/t", headers: ["Content-Type: application/octet-stream"], body: body
            )
            #expect(binary.status == 200)
            let first = try await client.nextMessage()
            #expect(first.opcode == 0x2 && first.payload == body)
            try await client.sync()
            await client.close()
        }
    }

    @Test("an invalid channel in the path is refused with 400", arguments: ["bad!name", "", "a%20b"])
    func invalidChannel(name: String) async throws {
        try await TestServer.with { server in
            let response = try await server.publish(name, "x")
            #expect(response.status == 400)
            #expect(response.body.contains("channel name"))
        }
    }

    @Test("a body over maxMessageBytes is refused with 413 and delivered to no one")
    func bodyTooLarge() async throws {
        try await TestServer.with(TestServer.configuration { $0.maxMessageBytes = 1024 }) { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/big")
            let connection = try await RawConnection.connect(port: server.port)
            let response = try await connection.request(
                "POST",
                "/publish/big",
                headers: ["Content-Type: text/plain"],
                body: [UInt8](repeating: 0x61, count: 2000)
            )
            #expect(response.status == 413)
            #expect(response.header("connection")?.lowercased() == "close")
            #expect(response.body.contains("1024"))
            _ = try await connection.readUntilClosed()

            // Exactly at the limit is fine, and it is the first thing the subscriber sees.
            let atLimit = String(repeating: "b", count: 1024)
            #expect(try await server.publish("big", atLimit).status == 200)
            #expect(try await client.nextMessage().text == atLimit)
            try await client.sync()
            await client.close()
        }
    }

    @Test("a chunked body that grows over maxMessageBytes is refused with 413")
    func chunkedBodyTooLarge() async throws {
        try await TestServer.with(TestServer.configuration { $0.maxMessageBytes = 1024 }) { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/big")
            let connection = try await RawConnection.connect(port: server.port)
            var request = "POST /publish/big HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
            request += "Transfer-Encoding: chunked\r\n\r\n"
            for _ in 0..<4 { request += "258\r\n" + String(repeating: "c", count: 600) + "\r\n" }
            request += "0\r\n\r\n"
            try await connection.send(request)
            let head = try await connection.read(upTo: "\r\n\r\n")
            #expect(head.hasPrefix("HTTP/1.1 413"))
            _ = try await connection.readUntilClosed()

            #expect(try await server.publish("big", "small").status == 200)
            #expect(try await client.nextMessage().text == "small")
            await client.close()
        }
    }

    @Test("routes: wrong method, health, readiness, unknown path")
    func routes() async throws {
        try await TestServer.with { server in
            let get = try await httpRequest(port: server.port, "GET", "/publish/x")
            #expect(get.status == 405)
            #expect(get.header("allow") == "POST")
            let health = try await httpRequest(port: server.port, "GET", "/healthz")
            #expect(health.status == 200)
            #expect(health.body.contains("ok"))
            let ready = try await httpRequest(port: server.port, "GET", "/readyz")
            #expect(ready.status == 200)
            #expect(try await httpRequest(port: server.port, "GET", "/nope").status == 404)
            #expect(try await httpRequest(port: server.port, "POST", "/healthz").status == 405)
            #expect(try await httpRequest(port: server.port, "GET", "/publishx").status == 404)
        }
    }

    @Test("several requests on one keep-alive connection are all answered")
    func keepAlive() async throws {
        try await TestServer.with { server in
            let connection = try await RawConnection.connect(port: server.port)
            #expect(try await connection.request("GET", "/healthz").status == 200)
            #expect(try await connection.request("GET", "/publish/x").status == 405)
            #expect(try await connection.request("GET", "/nope").status == 404)
            #expect(try await connection.request("POST", "/publish/bad!").status == 400)
            #expect(try await connection.request("POST", "/publish/x", body: Array("y".utf8)).status == 200)
            #expect(!connection.isClosed)
            await connection.close()
        }
    }

    @Test("pipelined requests are answered in order and their publishes delivered in order")
    func pipelined() async throws {
        try await TestServer.with { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/p")
            let connection = try await RawConnection.connect(port: server.port)
            var requests = ""
            for index in 0..<3 {
                requests += "POST /publish/p HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
                requests += "Content-Length: 2\r\n\r\nm\(index)"
            }
            requests += "GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n"
            try await connection.send(requests)
            for status in ["200", "200", "200", "404"] {
                let head = try await connection.read(upTo: "\r\n\r\n")
                #expect(head.hasPrefix("HTTP/1.1 \(status)"))
                _ = try await connection.read(upTo: "\n")
            }
            for index in 0..<3 {
                #expect(try await client.nextMessage().text == "m\(index)")
            }
            await connection.close()
            await client.close()
        }
    }

    @Test(
        "a request that does not keep the connection is answered, then the server closes it",
        arguments: [
            "POST /publish/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 1\r\n\r\nz",
            "POST /publish/x HTTP/1.0\r\nContent-Length: 1\r\n\r\nz",
            "GET /healthz HTTP/1.0\r\n\r\n",
            "GET /nope HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        ]
    )
    func connectionClose(request: String) async throws {
        try await TestServer.with { server in
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send(request)
            let head = try await connection.read(upTo: "\r\n\r\n")
            #expect(head.lowercased().contains("connection: close"))
            // The whole body, then the end of the connection (long before the 10 s idle timeout).
            let rest = try await connection.readUntilClosed(timeout: .seconds(2))
            #expect(String(buffer: rest).hasSuffix("}\n"))
            await connection.close()
        }
    }

    @Test("an HTTP/1.0 request with Connection: keep-alive keeps the connection")
    func http10KeepAlive() async throws {
        try await TestServer.with { server in
            let connection = try await RawConnection.connect(port: server.port)
            for _ in 0..<2 {
                try await connection.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                let head = try await connection.read(upTo: "\r\n\r\n")
                #expect(head.hasPrefix("HTTP/1.1 200"))
                _ = try await connection.read(upTo: "\n")
            }
            #expect(!connection.isClosed)
            await connection.close()
        }
    }

    @Test("with an API key, publishing requires it as a bearer token")
    func apiKey() async throws {
        try await TestServer.with(TestServer.configuration { $0.apiKeys = ["s3cret"] }) { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/secure")
            func publish(_ headers: [String]) async throws -> TestHTTPResponse {
                try await httpRequest(
                    port: server.port,
                    "POST",
                    "/publish/secure",
                    headers: ["Content-Type: text/plain"] + headers,
                    body: Array("payload \(headers)".utf8)
                )
            }
            let missing = try await publish([])
            #expect(missing.status == 401)
            #expect(missing.header("www-authenticate") == "Bearer")
            #expect(try await publish(["Authorization: Basic czNjcmV0"]).status == 401)
            #expect(try await publish(["Authorization: Bearer wrong"]).status == 403)
            #expect(try await publish(["Authorization: Bearer s3cre"]).status == 403)
            #expect(try await publish(["Authorization: Bearer s3cret2"]).status == 403)
            let accepted = try await publish(["Authorization: Bearer s3cret"])
            #expect(accepted.status == 200)
            #expect(accepted.body.contains(#""delivered":1"#))
            // Only the authorised publish reached the subscriber.
            #expect(try await client.nextMessage().text == "payload [\"Authorization: Bearer s3cret\"]")
            try await client.sync()
            await client.close()
        }
    }

    @Test("50 publishes on one keep-alive connection arrive in order at subscribers on both event loops")
    func orderingAcrossLoops() async throws {
        try await TestServer.with { server in
            let first = try await TestWebSocket.connect(port: server.port, path: "/ws/order")
            let second = try await TestWebSocket.connect(port: server.port, path: "/ws/order")
            // Connections are spread round-robin over the two loops: one subscriber on each shard.
            let name = try ChannelName(validating: "order")
            let hub = server.server.hub
            let perShard = try await hub.collect(on: hub.shards[0].eventLoop) { $0.subscriberCount(of: name) }.get()
            #expect(perShard == [1, 1])

            let publisher = try await RawConnection.connect(port: server.port)
            for index in 0..<50 {
                let response = try await publisher.request(
                    "POST",
                    "/publish/order",
                    headers: ["Content-Type: text/plain"],
                    body: Array("message \(index)".utf8)
                )
                #expect(response.status == 200)
                #expect(response.body.contains(#""delivered":2"#))
            }
            for client in [first, second] {
                for index in 0..<50 {
                    #expect(try await client.nextMessage().text == "message \(index)")
                }
                try await client.sync()
            }
            await publisher.close()
            await first.close()
            await second.close()
        }
    }

    @Test("a request cut short by the timeout is counted once, as a timeout")
    func partialBodyTimeout() async throws {
        // 1 s, not less: the timeout applies to the test's own /metrics requests too, which a loaded machine
        // (TSan, two cores) can take a few hundred milliseconds to send.
        try await TestServer.with(TestServer.configuration { $0.handshakeTimeout = .seconds(1) }) { server in
            let before = try await scrape(server)
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send("POST /publish/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nabc")
            // No answer; the server closes at the timeout (the bound is far past 1 s).
            let rest = try await connection.readUntilClosed(timeout: .seconds(5))
            #expect(rest.readableBytes == 0)
            let after = try await scrape(server)
            #expect(rejectionDeltas(before, after) == ["timeout": 1])
            #expect(after[publishedHTTP] == before[publishedHTTP])
        }
    }

    @Test("a publish after shutdown began is answered 503 with Retry-After, and its connection closes")
    func publishDuringShutdown() async throws {
        // The subscriber holds the drain open until it answers the 1001, at the end.
        try await TestServer.with(TestServer.configuration { $0.drainTimeout = .seconds(10) }) { server in
            let subscriber = try await TestWebSocket.connect(port: server.port, path: "/ws/drain")
            let publisher = try await RawConnection.connect(port: server.port)
            let scraper = try await RawConnection.connect(port: server.port)
            func publish(_ text: String) async throws -> TestHTTPResponse {
                try await publisher.request(
                    "POST",
                    "/publish/drain",
                    headers: ["Content-Type: text/plain"],
                    body: Array(text.utf8)
                )
            }
            #expect(try await publish("before").status == 200)
            #expect(try await subscriber.nextMessage().text == "before")
            let before = parseExposition(try await scraper.request("GET", "/metrics").body)

            await server.triggerShutdown()
            // The subscriber's 1001 shows that shutdown has begun.
            #expect(try await subscriber.nextMessage().closeCode == 1001)

            let refused = try await publish("after")
            #expect(refused.status == 503)
            #expect(refused.header("retry-after") == "1")
            #expect(refused.header("connection")?.lowercased() == "close")
            #expect(refused.body == #"{"error":"server is shutting down; retry on another instance"}"# + "\n")
            _ = try await publisher.readUntilClosed(timeout: .seconds(5))

            let after = parseExposition(try await scraper.request("GET", "/metrics").body)
            #expect(after[publishedHTTP] == before[publishedHTTP])
            #expect(rejectionDeltas(before, after) == [:])
            await scraper.close()
            try await subscriber.sendClose(code: 1001)
            _ = try await subscriber.connection.readUntilClosed()
        }
    }

    @Test(
        "a body over maxMessageBytes is refused with 413 as soon as that is known, without reading the rest",
        arguments: [
            // The head says so (the 64 KiB default limit; 100 bytes of 70,000 sent, or of 500 MB).
            ("Content-Length: 70000", String(repeating: "a", count: 100)),
            ("Content-Length: 500000000", String(repeating: "a", count: 100)),
            // A chunk announced as 2^64 - 1 bytes: refused once 70,000 of them are in.
            ("Transfer-Encoding: chunked", "ffffffffffffffff\r\n" + String(repeating: "a", count: 70_000)),
        ]
    )
    func bodyRefusedEarly(framing: String, body: String) async throws {
        try await TestServer.with { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/big")
            let before = try await scrape(server)
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send(
                "POST /publish/big HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n\(framing)\r\n\r\n\(body)"
            )
            // The rest of the body never comes: the answer must not wait for it (nor for the 10 s timeout).
            let head = try await connection.read(upTo: "\r\n\r\n", timeout: .seconds(3))
            #expect(head.hasPrefix("HTTP/1.1 413"))
            #expect(head.lowercased().contains("connection: close"))
            let rest = try await connection.readUntilClosed(timeout: .seconds(3))
            #expect(String(buffer: rest) == #"{"error":"message is larger than max-message-bytes (65536)"}"# + "\n")
            let after = try await scrape(server)
            #expect(rejectionDeltas(before, after) == [:])
            #expect(after[publishedHTTP] == before[publishedHTTP])

            // Delivered to no one; the server goes on serving.
            #expect(try await server.publish("big", "small").status == 200)
            #expect(try await client.nextMessage().text == "small")
            await client.close()
        }
    }

    @Test(
        "framing NIO's decoder does not accept is answered at once and counted once as bad_request",
        arguments: [
            // RFC 9112 §6.1: a transfer coding the server does not know (only chunked is decoded) is 501.
            (
                "POST /publish/f HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                    + "3\r\nabc\r\n0\r\n\r\n",
                501, "transfer coding not supported (only chunked)"
            ),
            // A chunk size past 2^64 - 1.
            (
                "POST /publish/f HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nabc",
                400, "malformed request"
            ),
            // Bare LF line endings.
            ("POST /publish/f HTTP/1.1\nHost: localhost\nContent-Length: 3\n\nabc", 400, "malformed request"),
        ] as [(String, Int, String)]
    )
    func framingRefused(request: String, status: Int, reason: String) async throws {
        try await TestServer.with { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/f")
            let before = try await scrape(server)
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send(request)
            let head = try await connection.read(upTo: "\r\n\r\n", timeout: .seconds(3))
            #expect(head.hasPrefix("HTTP/1.1 \(status) "))
            #expect(head.lowercased().contains("connection: close"))
            let rest = try await connection.readUntilClosed(timeout: .seconds(3))
            #expect(String(buffer: rest) == #"{"error":"\#(reason)"}"# + "\n")
            let after = try await scrape(server)
            #expect(rejectionDeltas(before, after) == ["bad_request": 1])
            #expect(after[publishedHTTP] == before[publishedHTTP])

            // Nothing was delivered, and everyone else is still served.
            #expect(try await server.publish("f", "next").status == 200)
            #expect(try await client.nextMessage().text == "next")
            await client.close()
        }
    }
}

private let publishedHTTP = #"chorus_messages_published_total{source="http"}"#

/// The server's metrics, scraped on a connection of their own.
private func scrape(_ server: TestServer) async throws -> [String: Double] {
    parseExposition(try await httpRequest(port: server.port, "GET", "/metrics").body)
}

/// How each `chorus_handshakes_rejected_total` reason moved between two scrapes, leaving out those that did not.
private func rejectionDeltas(_ before: [String: Double], _ after: [String: Double]) -> [String: Double] {
    let prefix = #"chorus_handshakes_rejected_total{reason=""#
    var deltas: [String: Double] = [:]
    for (name, value) in after where name.hasPrefix(prefix) {
        let delta = value - (before[name] ?? 0)
        if delta != 0 { deltas[String(name.dropFirst(prefix.count).dropLast(2))] = delta }
    }
    return deltas
}

extension String {
    fileprivate var trimmingNewline: String {
        self.hasSuffix("\n") ? String(self.dropLast()) : self
    }
}
