import ChorusCore
import ChorusServer
import Foundation
import NIOCore
import Testing

@Suite("chorus.v1: deliveries with channel, offset and epoch; subscribe answers; recovery")
struct ChorusV1Tests {
    private static func configuration(history: Int = 0, _ adjust: (inout ServerConfiguration) -> Void = { _ in })
        -> ServerConfiguration
    {
        TestServer.configuration {
            $0.historySize = history
            adjust(&$0)
        }
    }

    @Test("a subscriber on two channels tells them apart; offsets grow by one; JSON, text and binary as documented")
    func deliveries() async throws {
        try await TestServer.with(Self.configuration()) { server in
            let client = try await ChorusV1Client.connect(port: server.port, path: "/ws/news")
            #expect(client.socket.handshakeResponse.lowercased().contains("sec-websocket-protocol: chorus.v1"))
            let news = try await client.subscribed("news")
            #expect(news.offset == 0 && !news.recovered && news.epoch.count == 8)
            try await client.send(#"{"subscribe":"sport"}"#)
            let sport = try await client.subscribed("sport")
            #expect(sport.epoch != news.epoch)
            let raw = try await TestWebSocket.connect(port: server.port, path: "/ws/news")

            #expect(try await server.publish("news", #"{"a":[1,2]}"#, contentType: "application/json").status == 200)
            #expect(try await server.publish("sport", "goal \"quoted\"\n").status == 200)
            #expect(try await server.publish("news", "{not json", contentType: "application/json").status == 200)
            let binary = try await httpRequest(
                port: server.port, "POST", "/publish/news",
                headers: ["Content-Type: application/octet-stream"], body: [0, 1, 2, 255]
            )
            #expect(binary.status == 200 && binary.body.contains(#""offset":3,"epoch":"\#(news.epoch)""#))

            let first = try await client.next()
            #expect(first.string("channel") == "news" && first.deliveryOffset == 1 && first.string("epoch") == news.epoch)
            #expect((first.json["data"] as? [String: any Sendable])?["a"] as? [NSNumber] == [1, 2])
            let second = try await client.next()
            #expect(second.string("channel") == "sport" && second.deliveryOffset == 1)
            #expect(second.string("data") == "goal \"quoted\"\n" && second.string("epoch") == sport.epoch)
            let third = try await client.next()
            #expect(third.deliveryOffset == 2 && third.string("data") == "{not json")
            let fourth = try await client.next()
            #expect(fourth.opcode == 0x2 && fourth.channel == "news" && fourth.offset == 3 && fourth.epoch == news.epoch)
            #expect(fourth.payload == [0, 1, 2, 255])

            // The raw subscriber of the same channel still gets the bare payloads.
            #expect(try await raw.nextMessage().text == #"{"a":[1,2]}"#)
            #expect(try await raw.nextMessage().text == "{not json")
            #expect(try await raw.nextMessage().payload == [0, 1, 2, 255])
            // One encoding per message and protocol: 4 messages, each raw and chorus.v1.
            #expect(server.server.hub.hubCounters.framesEncoded == 8)
            await client.socket.close()
            await raw.close()
        }
    }

    @Test("the protocol can be asked for in the query; since and epoch recover the URL's channel")
    func queryForm() async throws {
        try await TestServer.with(Self.configuration(history: 10)) { server in
            for text in ["one", "two", "three"] { _ = try await server.publish("q", text) }
            let epoch = try await self.epoch(of: "q", server)
            let client = try await ChorusV1Client.connect(
                port: server.port,
                path: "/ws/q?protocol=chorus.v1&since=1&epoch=\(epoch)",
                subprotocol: nil
            )
            let answer = try await client.subscribed("q")
            #expect(answer.recovered && answer.offset == 3 && answer.epoch == epoch)
            #expect(try await client.next().string("data") == "two")
            #expect(try await client.next().string("data") == "three")
            await client.socket.close()
            // since without chorus.v1, or without its epoch, is refused at the upgrade.
            for path in ["/ws/q?since=1&epoch=\(epoch)", "/ws/q?protocol=chorus.v1&since=1", "/ws/q?protocol=v2"] {
                await #expect(throws: TestWebSocket.Refused.self) {
                    _ = try await TestWebSocket.connect(port: server.port, path: path)
                }
            }
        }
    }

    @Test("a connection reset while 200 messages go out at 1 kHz recovers exactly the missed ones, then live ones")
    func recoveryAfterReset() async throws {
        for publishDuringReplay in [false, true] {
            try await TestServer.with(Self.configuration(history: 500)) { server in
                let first = try await ChorusV1Client.connect(port: server.port, path: "/ws/feed")
                let start = try await first.subscribed("feed")
                let publisher = Task {
                    for index in 1...200 {
                        _ = try await server.publish("feed", "m\(index)")
                        try await Task.sleep(for: .milliseconds(1))
                    }
                }
                var last: UInt64 = 0
                while last < 40 { last = try #require(try await first.next().deliveryOffset) }
                await first.socket.connection.reset()
                if !publishDuringReplay { try await publisher.value }

                let second = try await ChorusV1Client.connect(port: server.port, path: "/ws")
                try await second.send(#"{"subscribe":"feed","since":{"offset":\#(last),"epoch":"\#(start.epoch)"}}"#)
                let answer = try await second.subscribed("feed")
                #expect(answer.recovered && answer.epoch == start.epoch)
                var expected = last + 1
                while expected <= 200 {
                    let message = try await second.next()
                    #expect(message.deliveryOffset == expected && message.string("data") == "m\(expected)")
                    expected += 1
                }
                try await publisher.value
                _ = try await server.publish("feed", "live")
                let live = try await second.next()
                #expect(live.deliveryOffset == 201 && live.string("data") == "live")
                try await second.socket.sync()
                await second.socket.close()
            }
        }
    }

    @Test("wrong epoch, too old, too many and history off answer recovered:false, and the subscription holds")
    func unrecoverable() async throws {
        try await TestServer.with(Self.configuration(history: 5) { $0.recoveryMaxMessages = 3 }) { server in
            for index in 1...8 { _ = try await server.publish("c", "m\(index)") }
            let epoch = try await self.epoch(of: "c", server)
            let client = try await ChorusV1Client.connect(port: server.port, path: "/ws")
            for since in [#"{"offset":7,"epoch":"other"}"#, #"{"offset":1,"epoch":"\#(epoch)"}"#, #"{"offset":4,"epoch":"\#(epoch)"}"#] {
                try await client.send(#"{"subscribe":"c","since":\#(since)}"#)
                let answer = try await client.subscribed("c")
                #expect(!answer.recovered && answer.offset == 8 && answer.epoch == epoch)
                try await client.send(#"{"unsubscribe":"c"}"#)
                #expect(try await client.next().string("unsubscribed") == "c")
            }
            // Within reach: offset 6 of 8 replays 7 and 8.
            try await client.send(#"{"subscribe":"c","since":{"offset":6,"epoch":"\#(epoch)"}}"#)
            #expect(try await client.subscribed("c").recovered)
            #expect(try await client.next().deliveryOffset == 7)
            #expect(try await client.next().deliveryOffset == 8)
            _ = try await server.publish("c", "live")
            #expect(try await client.next().string("data") == "live")
            await client.socket.close()
            let metrics = try await httpRequest(port: server.port, "GET", "/metrics").body
            for (outcome, count) in [("recovered", 1), ("epoch_mismatch", 1), ("too_old", 1), ("too_many", 1)] {
                #expect(metrics.contains(#"chorus_recoveries_total{outcome="\#(outcome)"} \#(count)"#))
            }
        }
        try await TestServer.with(Self.configuration(history: 0)) { server in
            _ = try await server.publish("c", "m1")
            let epoch = try await self.epoch(of: "c", server)
            let client = try await ChorusV1Client.connect(port: server.port, path: "/ws")
            try await client.send(#"{"subscribe":"c","since":{"offset":1,"epoch":"\#(epoch)"}}"#)
            let answer = try await client.subscribed("c")
            #expect(!answer.recovered && answer.offset == 1)
            _ = try await server.publish("c", "m2")
            #expect(try await client.next().deliveryOffset == 2)
            await client.socket.close()
        }
    }

    @Test("a restart starts new epochs")
    func restartChangesEpoch() async throws {
        let first = try await TestServer.with(Self.configuration()) { try await self.epoch(of: "c", $0) }
        let second = try await TestServer.with(Self.configuration()) { try await self.epoch(of: "c", $0) }
        #expect(first != second)
    }

    @Test("harmless mistakes are answered with an error and the connection stays open")
    func errorsDoNotClose() async throws {
        try await TestServer.with(Self.configuration()) { server in
            let client = try await ChorusV1Client.connect(port: server.port, path: "/ws")
            for (request, code) in [
                (#"{"subscribe":"bad name!"}"#, "bad_request"),
                (#"{"subscribe":"c","since":{"offset":-1,"epoch":"x"}}"#, "bad_request"),
                (#"{"subscribe":"c","extra":1}"#, "bad_request"),
                (#"not json"#, "bad_request"),
                (#"{"publish":"c","data":{"a":1}}"#, "publish_disabled"),
            ] {
                try await client.send(request)
                let answer = try await client.next()
                #expect(answer.string("error") == code, "\(request)")
                #expect(!(answer.string("reason") ?? "").isEmpty)
            }
            try await client.send(#"{"subscribe":"c"}"#)
            #expect(try await client.subscribed("c").offset == 0)
            try await client.send(#"{"subscribe":"c"}"#)
            #expect(try await client.next().string("error") == "already_subscribed")
            // Binary messages remain a protocol violation.
            try await client.socket.send(opcode: 0x2, payload: [1])
            #expect(try await client.socket.expectClose().closeCode == 1003)
        }
    }

    @Test("with a token: chorus.v1 beside chorus.token.<jwt>; a channel outside the token is refused, not closed")
    func tokenPermissions() async throws {
        try await TestServer.with(Self.configuration { $0.jwtSecret = TestTokens.secret }) { server in
            let token = TestTokens.signed()  // channels: news, user.42.*
            let client = try await ChorusV1Client.connect(
                port: server.port,
                path: "/ws/news",
                subprotocol: "chorus.v1, chorus.token.\(token)"
            )
            #expect(client.socket.handshakeResponse.lowercased().contains("sec-websocket-protocol: chorus.v1\r\n"))
            #expect(!client.socket.handshakeResponse.contains(token))
            _ = try await client.subscribed("news")
            try await client.send(#"{"subscribe":"user.43.inbox"}"#)
            let refused = try await client.next()
            #expect(refused.string("error") == "forbidden" && refused.string("channel") == "user.43.inbox")
            try await client.send(#"{"subscribe":"user.42.inbox"}"#)
            #expect(try await client.subscribed("user.42.inbox").offset == 0)
            #expect(try await server.subscriberCount("user.43.inbox") == 0)
            await client.socket.close()
        }
    }

    @Test("a client publish carries any JSON value; echo:false leaves the publisher out")
    func clientPublish() async throws {
        try await TestServer.with(Self.configuration { $0.clientPublish = true }) { server in
            let publisher = try await ChorusV1Client.connect(port: server.port, path: "/ws/room")
            let listener = try await ChorusV1Client.connect(port: server.port, path: "/ws/room")
            let raw = try await TestWebSocket.connect(port: server.port, path: "/ws/room")
            _ = try await publisher.subscribed("room")
            _ = try await listener.subscribed("room")
            try await publisher.send(#"{"publish":"room","data":{"n":[1,true,null]}}"#)
            try await publisher.send(#"{"publish":"room","data":"plain","echo":false}"#)
            let own = try await publisher.next()
            #expect(own.deliveryOffset == 1 && (own.json["data"] as? [String: any Sendable]) != nil)
            let first = try await listener.next()
            let second = try await listener.next()
            #expect(first.deliveryOffset == 1 && second.deliveryOffset == 2 && second.string("data") == "plain")
            #expect(try await raw.nextMessage().text == #"{"n":[1,true,null]}"#)
            #expect(try await raw.nextMessage().text == "plain")
            // The publisher did not get its echo:false message: a sync comes back first.
            try await publisher.socket.sync()
            for socket in [publisher.socket, listener.socket, raw] { await socket.close() }
        }
    }

    /// The channel's current epoch, from a publish-free subscription.
    private func epoch(of channel: String, _ server: TestServer) async throws -> String {
        let probe = try await ChorusV1Client.connect(port: server.port, path: "/ws/\(channel)")
        defer { Task { await probe.socket.close() } }
        return try await probe.subscribed(channel).epoch
    }
}
