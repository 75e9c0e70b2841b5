import ChorusCore
import ChorusServer
import Foundation
import NIOCore
import Testing

@Suite("HTTP history API: GET /history/{channel}")
struct HistoryAPITests {
    private static func configuration(history: Int, _ adjust: (inout ServerConfiguration) -> Void = { _ in })
        -> ServerConfiguration
    {
        TestServer.configuration {
            $0.historySize = history
            adjust(&$0)
        }
    }

    @Test("JSON, text and binary messages come back as documented, in valid JSON")
    func contents() async throws {
        try await TestServer.with(Self.configuration(history: 10)) { server in
            let first = try await server.publish("news", #"{"a":[1,2]}"#, contentType: "application/json")
            let epoch = try #require(first.body.firstMatch(of: /"epoch":"([A-Za-z0-9]{8})"/)?.1)
            #expect(try await server.publish("news", "goal \"quoted\"\n").status == 200)
            #expect(try await server.publish("news", "{not json", contentType: "application/json").status == 200)
            for bytes in [[0, 1, 2, 255], [0xFB, 0xFF], [7]] as [[UInt8]] {
                let binary = try await httpRequest(
                    port: server.port,
                    "POST",
                    "/publish/news",
                    headers: ["Content-Type: application/octet-stream"],
                    body: bytes
                )
                #expect(binary.status == 200)
            }

            let response = try await httpRequest(port: server.port, "GET", "/history/news")
            #expect(response.status == 200)
            #expect(response.header("content-type") == "application/json")
            let expected =
                #"{"channel":"news","epoch":"\#(epoch)","offset":6,"recoverable":true,"messages":["#
                + #"{"offset":1,"data":{"a":[1,2]}},{"offset":2,"data":"goal \"quoted\"\n"},"#
                + #"{"offset":3,"data":"{not json"},{"offset":4,"base64":"AAEC/w=="},"#
                + #"{"offset":5,"base64":"+/8="},{"offset":6,"base64":"Bw=="}]}"#
            #expect(response.body.trimmingNewline == expected)

            // And a JSON parser reads back what was published.
            let json = try #require(
                try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: any Sendable]
            )
            let messages = try #require(json["messages"] as? [[String: any Sendable]])
            #expect((messages[0]["data"] as? [String: any Sendable])?["a"] as? [NSNumber] == [1, 2])
            #expect(messages[1]["data"] as? String == "goal \"quoted\"\n")
            #expect(messages[2]["data"] as? String == "{not json")
            #expect((messages[3]["base64"] as? String).flatMap { Data(base64Encoded: $0) } == Data([0, 1, 2, 255]))
        }
    }

    @Test("since and epoch give the messages after an offset; limit takes the oldest of them")
    func sinceAndLimit() async throws {
        try await TestServer.with(Self.configuration(history: 10)) { server in
            let epoch = try await Self.publish(1...8, on: "c", server)
            let answer = Self.answer(epoch: epoch, offset: 8)

            #expect(try await Self.get("/history/c?since=5&epoch=\(epoch)", server) == answer(true, 6...8))
            #expect(try await Self.get("/history/c?epoch=\(epoch)&since=2&limit=3", server) == answer(true, 3...5))
            #expect(try await Self.get("/history/c?limit=2", server) == answer(true, 1...2))
            #expect(try await Self.get("/history/c?since=0&limit=1000", server) == answer(true, 1...8))
            // Up to date: nothing missed.
            #expect(try await Self.get("/history/c?since=8&epoch=\(epoch)", server) == answer(true, nil))
            // Unknown parameters are ignored.
            #expect(try await Self.get("/history/c?since=7&token=x&&", server) == answer(true, 8...8))
            // Ahead of the stream: the client knew another life of it.
            #expect(try await Self.get("/history/c?since=9", server) == answer(false, nil))
        }
    }

    @Test("a wrong epoch, or a since older than history holds, is answered recoverable:false")
    func unrecoverable() async throws {
        try await TestServer.with(Self.configuration(history: 5)) { server in
            let epoch = try await Self.publish(1...8, on: "c", server)
            let answer = Self.answer(epoch: epoch, offset: 8)

            // History holds 4...8.
            #expect(try await Self.get("/history/c", server) == answer(false, 4...8))
            #expect(try await Self.get("/history/c?since=2&epoch=\(epoch)", server) == answer(false, 4...8))
            #expect(try await Self.get("/history/c?since=3&epoch=\(epoch)", server) == answer(true, 4...8))
            #expect(try await Self.get("/history/c?since=6&epoch=other", server) == answer(false, 7...8))
            #expect(try await Self.get("/history/c?epoch=other", server) == answer(false, 4...8))
        }
    }

    @Test("with history off the stream still answers its offset and epoch, and no messages")
    func historyOff() async throws {
        try await TestServer.with(Self.configuration(history: 0)) { server in
            let epoch = try await Self.publish(1...2, on: "c", server)
            let answer = Self.answer(epoch: epoch, offset: 2)
            #expect(try await Self.get("/history/c", server) == answer(false, nil))
            #expect(try await Self.get("/history/c?since=1&epoch=\(epoch)", server) == answer(false, nil))
            #expect(try await Self.get("/history/c?since=2&epoch=\(epoch)", server) == answer(true, nil))
        }
    }

    @Test(
        "bad parameters are refused with 400 and a reason",
        arguments: [
            ("since=-1", "since must be"), ("since=abc", "since must be"), ("since=+1", "since must be"),
            ("since=", "since must be"), ("since=18446744073709551616", "since must be"),
            ("limit=0", "limit must be"), ("limit=1001", "limit must be"), ("limit=x", "limit must be"),
            ("epoch=bad!", "epoch must be"), ("epoch=", "epoch must be"),
            ("epoch=\(String(repeating: "a", count: 33))", "epoch must be"),
            ("since=1&since=2", "since given more than once"),
        ]
    )
    func badParameters(query: String, reason: String) async throws {
        try await TestServer.with(Self.configuration(history: 10)) { server in
            _ = try await Self.publish(1...1, on: "c", server)
            let response = try await httpRequest(port: server.port, "GET", "/history/c?\(query)")
            #expect(response.status == 400)
            #expect(response.header("content-type") == "application/json")
            #expect(response.body.contains(#"{"error":"\#(reason)"#))
        }
    }

    @Test("an invalid channel is 400, an unknown one 404, and only GET is allowed")
    func channelsAndMethods() async throws {
        try await TestServer.with(Self.configuration(history: 10)) { server in
            for name in ["bad!name", "", "a%20b"] {
                let response = try await httpRequest(port: server.port, "GET", "/history/\(name)")
                #expect(response.status == 400)
                #expect(response.body.contains("channel name"))
            }
            let unknown = try await httpRequest(port: server.port, "GET", "/history/nobody?since=0")
            #expect(unknown.status == 404)
            #expect(unknown.body.trimmingNewline == #"{"error":"channel has no stream (nothing published recently)"}"#)

            let post = try await httpRequest(port: server.port, "POST", "/history/c")
            #expect(post.status == 405)
            #expect(post.header("allow") == "GET")
        }
    }

    @Test("with an API key, reading history requires it as a bearer token, like publishing")
    func apiKey() async throws {
        try await TestServer.with(Self.configuration(history: 10) { $0.apiKeys = ["s3cret"] }) { server in
            let published = try await httpRequest(
                port: server.port,
                "POST",
                "/publish/secure",
                headers: ["Content-Type: text/plain", "Authorization: Bearer s3cret"],
                body: Array("m1".utf8)
            )
            #expect(published.status == 200)
            func get(_ headers: [String]) async throws -> TestHTTPResponse {
                try await httpRequest(port: server.port, "GET", "/history/secure", headers: headers)
            }
            let missing = try await get([])
            #expect(missing.status == 401)
            #expect(missing.header("www-authenticate") == "Bearer")
            #expect(!missing.body.contains("m1"))
            #expect(try await get(["Authorization: Bearer wrong"]).status == 403)
            let accepted = try await get(["Authorization: Bearer s3cret"])
            #expect(accepted.status == 200)
            #expect(accepted.body.contains(#"{"offset":1,"data":"m1"}"#))
        }
    }

    // MARK: Helpers

    /// Publishes `m1`, `m2`, … as text on `channel` and returns the stream's epoch.
    private static func publish(_ range: ClosedRange<Int>, on channel: String, _ server: TestServer) async throws
        -> String
    {
        var epoch = ""
        for index in range {
            let response = try await server.publish(channel, "m\(index)")
            #expect(response.status == 200)
            epoch = String(try #require(response.body.firstMatch(of: /"epoch":"([A-Za-z0-9]{8})"/)?.1))
        }
        return epoch
    }

    /// The body of a 200 answer to `path` (without its final newline), or the status when it is not 200.
    private static func get(_ path: String, _ server: TestServer) async throws -> String {
        let response = try await httpRequest(port: server.port, "GET", path)
        return response.status == 200 ? response.body.trimmingNewline : "status \(response.status)"
    }

    /// The expected answer for a stream at `offset` holding `m1`, `m2`, …: `recoverable`, and the messages in
    /// `offsets`.
    private static func answer(epoch: String, offset: Int) -> (Bool, ClosedRange<Int>?) -> String {
        { recoverable, offsets in
            let messages = (offsets.map(Array.init) ?? []).map { #"{"offset":\#($0),"data":"m\#($0)"}"# }
            return #"{"channel":"c","epoch":"\#(epoch)","offset":\#(offset),"recoverable":\#(recoverable),"#
                + #""messages":[\#(messages.joined(separator: ","))]}"#
        }
    }
}

extension String {
    /// A JSON answer without the newline that ends it.
    fileprivate var trimmingNewline: String {
        self.hasSuffix("\n") ? String(self.dropLast()) : self
    }
}
