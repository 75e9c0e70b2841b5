import ChorusCore
import ChorusServer
import NIOCore
import Testing

@Suite("RFC 6455 edge cases over loopback")
struct ProtocolEdgeTests {
    /// One way for a client to break the rules, and the close the server must answer with.
    struct Violation: Sendable, CustomTestStringConvertible {
        var name: String
        /// Everything the client sends after the upgrade.
        var bytes: [UInt8]
        var code: UInt16
        /// A phrase the close reason must contain; any violation must come with some reason.
        var reasonContains: String

        var testDescription: String { self.name }
    }

    static let violations: [Violation] = [
        Violation(
            name: "unmasked client frame",
            bytes: frame(0x1, Array("hi".utf8), masked: false),
            code: 1002,
            reasonContains: "not masked"
        ),
        Violation(name: "RSV1 set", bytes: frame(0x1, Array("hi".utf8), rsv: 4), code: 1002, reasonContains: "reserved"),
        Violation(name: "RSV2 set", bytes: frame(0x1, Array("hi".utf8), rsv: 2), code: 1002, reasonContains: "reserved"),
        Violation(name: "RSV3 set on a ping", bytes: frame(0x9, [], rsv: 1), code: 1002, reasonContains: "reserved"),
        Violation(name: "unknown data opcode 0x3", bytes: frame(0x3, [1, 2]), code: 1002, reasonContains: "opcode 3"),
        Violation(name: "unknown control opcode 0xB", bytes: frame(0xB, []), code: 1002, reasonContains: "opcode 11"),
        Violation(
            name: "ping with a 126-byte payload",
            bytes: frame(0x9, [UInt8](repeating: 0x61, count: 126)),
            code: 1002,
            reasonContains: "125"
        ),
        Violation(
            name: "fragmented ping",
            bytes: frame(0x9, Array("p".utf8), fin: false),
            code: 1002,
            reasonContains: "fragmented"
        ),
        Violation(
            name: "continuation without a message in progress",
            bytes: frame(0x0, Array("x".utf8)),
            code: 1002,
            reasonContains: "continuation"
        ),
        Violation(
            name: "new text frame while a fragmented message is in progress",
            bytes: frame(0x1, Array(#"{"subscr"#.utf8), fin: false) + frame(0x1, Array(#"{"subscribe":"x"}"#.utf8)),
            code: 1002,
            reasonContains: "previous message"
        ),
        Violation(
            name: "invalid UTF-8 in a single text frame",
            bytes: frame(0x1, [0x61, 0xC3, 0x28]),
            code: 1007,
            reasonContains: "UTF-8"
        ),
        Violation(
            name: "UTF-8 surrogate encoded in a text frame",
            bytes: frame(0x1, [0xED, 0xA0, 0x80]),
            code: 1007,
            reasonContains: "UTF-8"
        ),
        Violation(
            name: "invalid UTF-8 split across fragments",
            bytes: frame(0x1, [0xF0, 0x9F], fin: false) + frame(0x0, [0x98, 0x00]),
            code: 1007,
            reasonContains: "UTF-8"
        ),
        Violation(
            name: "text message ending inside a UTF-8 sequence",
            bytes: frame(0x1, [0x61, 0xF0, 0x9F], fin: false) + frame(0x0, [0x98]),
            code: 1007,
            reasonContains: "UTF-8"
        ),
        Violation(name: "close with a 1-byte payload", bytes: frame(0x8, [0x03]), code: 1002, reasonContains: "1 byte"),
        Violation(name: "close code 1005", bytes: frame(0x8, closePayload(1005)), code: 1002, reasonContains: "1005"),
        Violation(name: "close code 999", bytes: frame(0x8, closePayload(999)), code: 1002, reasonContains: "999"),
        Violation(name: "close code 5000", bytes: frame(0x8, closePayload(5000)), code: 1002, reasonContains: "5000"),
        Violation(name: "close code 1006", bytes: frame(0x8, closePayload(1006)), code: 1002, reasonContains: "1006"),
        Violation(name: "close code 1015", bytes: frame(0x8, closePayload(1015)), code: 1002, reasonContains: "1015"),
        Violation(
            name: "close reason that is not UTF-8",
            bytes: frame(0x8, closePayload(1000) + [0xFF]),
            code: 1007,
            reasonContains: "UTF-8"
        ),
        Violation(
            name: "binary message",
            bytes: frame(0x2, [0, 1, 2]),
            code: 1003,
            reasonContains: "binary"
        ),
        Violation(name: "control message that is not JSON", bytes: frame(0x1, Array("not json".utf8)), code: 1008, reasonContains: ""),
        Violation(
            name: "subscribe to a number",
            bytes: frame(0x1, Array(#"{"subscribe":5}"#.utf8)),
            code: 1008,
            reasonContains: ""
        ),
        Violation(
            name: "subscribe to an invalid channel name",
            bytes: frame(0x1, Array(#"{"subscribe":"bad name!"}"#.utf8)),
            code: 1008,
            reasonContains: ""
        ),
        Violation(name: "unknown control key", bytes: frame(0x1, Array(#"{"foo":"x"}"#.utf8)), code: 1008, reasonContains: ""),
    ]

    // Serialized: one server at a time keeps the load (and the timing-sensitive ping tests) sane.
    @Test(
        "a protocol violation is answered with its close code and reason; other clients keep being served",
        .serialized,
        arguments: ProtocolEdgeTests.violations
    )
    func violation(_ violation: Violation) async throws {
        try await TestServer.with { server in
            let bystander = try await TestWebSocket.connect(port: server.port, path: "/ws/bystander")
            let offender = try await TestWebSocket.connect(port: server.port, path: "/ws/offender")
            try await offender.connection.send(violation.bytes)
            let close = try await offender.expectClose()
            #expect(close.closeCode == violation.code)
            #expect(!close.closeReason.isEmpty)
            if !violation.reasonContains.isEmpty {
                #expect(close.closeReason.contains(violation.reasonContains), "reason: \(close.closeReason)")
            }
            try await expectDelivered(server, to: bystander, channel: "bystander", "still here")
            await offender.close()
            await bystander.close()
        }
    }

    @Test("one server survives every violation in a row and keeps serving a well-behaved client")
    func violationsInARow() async throws {
        try await TestServer.with { server in
            let bystander = try await TestWebSocket.connect(port: server.port, path: "/ws/bystander")
            for (index, violation) in Self.violations.enumerated() {
                let offender = try await TestWebSocket.connect(port: server.port, path: "/ws/offender")
                try await offender.connection.send(violation.bytes)
                let close = try await offender.expectClose()
                #expect(close.closeCode == violation.code, "\(violation.name)")
                await offender.close()
                try await expectDelivered(server, to: bystander, channel: "bystander", "after violation \(index)")
            }
            // Every offender's subscription is gone: only the bystander is left on the server.
            #expect(try await server.subscriberCount("offender") == 0)
            #expect(server.server.state.capacity.taken == 1)
            await bystander.close()
        }
    }

    @Test("a frame announcing more than maxMessageBytes is refused with 1009 before its payload is sent")
    func oversizedFrameRefusedAtHeader() async throws {
        try await TestServer.with(TestServer.configuration { $0.maxMessageBytes = 1024 }) { server in
            let bystander = try await TestWebSocket.connect(port: server.port, path: "/ws/bystander")
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws")
            // Only the header (with its mask key): the server must decide without waiting for 2048 bytes.
            try await client.connection.send(TestWebSocket.encodeFrame(opcode: 0x1, payload: [], lengthOverride: 2048))
            let close = try await client.expectClose()
            #expect(close.closeCode == 1009)
            #expect(close.closeReason.contains("1024"))
            try await expectDelivered(server, to: bystander, channel: "bystander", "still here")
            await client.close()
            await bystander.close()
        }
    }

    @Test("the limit applies to the whole fragmented message, not to each frame")
    func oversizedFragmentedMessage() async throws {
        try await TestServer.with(TestServer.configuration { $0.maxMessageBytes = 1024 }) { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws")
            // 1000 + 100 bytes: each frame fits, the message does not. The second payload is never sent.
            try await client.send(opcode: 0x1, payload: [UInt8](repeating: 0x20, count: 1000), fin: false)
            try await client.connection.send(
                TestWebSocket.encodeFrame(opcode: 0x0, payload: [], fin: true, lengthOverride: 100)
            )
            let close = try await client.expectClose()
            #expect(close.closeCode == 1009)
            await client.close()
        }
    }

    @Test("a message of exactly maxMessageBytes is accepted")
    func messageAtTheLimit() async throws {
        try await TestServer.with(TestServer.configuration { $0.maxMessageBytes = 1024 }) { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws")
            let command = Array(#"{"subscribe":"edge"}"#.utf8)
            // Valid JSON padded with whitespace to exactly 1024 bytes, split over two frames.
            let padded = [UInt8](repeating: 0x20, count: 1024 - command.count) + command
            try await client.send(opcode: 0x1, payload: Array(padded.prefix(600)), fin: false)
            try await client.send(opcode: 0x0, payload: Array(padded.dropFirst(600)))
            try await client.sync()
            try await expectDelivered(server, to: client, channel: "edge", "accepted")
            await client.close()
        }
    }

    @Test("subscribing to more than maxSubscriptions channels closes with 1008")
    func tooManySubscriptions() async throws {
        try await TestServer.with(TestServer.configuration { $0.maxSubscriptions = 2 }) { server in
            let bystander = try await TestWebSocket.connect(port: server.port, path: "/ws/bystander")
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/a")
            try await client.sendText(#"{"subscribe":"b"}"#)
            // Subscribing again to a channel already followed does not count against the limit.
            try await client.sendText(#"{"subscribe":"a"}"#)
            try await client.sync()
            #expect(try await server.subscriberCount("b") == 1)
            try await client.sendText(#"{"subscribe":"c"}"#)
            let close = try await client.expectClose()
            #expect(close.closeCode == 1008)
            #expect(close.closeReason == "too many subscriptions")
            #expect(try await server.subscriberCount("c") == 0)
            try await expectDelivered(server, to: bystander, channel: "bystander", "still here")
            await client.close()
            await bystander.close()
        }
    }

    @Test("a ping is answered with a pong carrying the identical payload", arguments: [0, 1, 125])
    func pingPong(payloadLength: Int) async throws {
        try await TestServer.with { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws")
            let payload = (0..<payloadLength).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 0x80) }
            try await client.send(opcode: 0x9, payload: payload)
            let pong = try await client.nextFrame()
            #expect(pong.opcode == 0xA)
            #expect(pong.fin && pong.rsv == 0 && !pong.masked)
            #expect(pong.payload == payload)
            await client.close()
        }
    }

    @Test("a ping between two fragments is answered, and the fragmented message still arrives whole")
    func pingBetweenFragments() async throws {
        try await TestServer.with { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws")
            try await client.send(opcode: 0x1, payload: Array(#"{"subscri"#.utf8), fin: false)
            try await client.send(opcode: 0x9, payload: Array("between".utf8))
            try await client.send(opcode: 0x0, payload: Array(#"be":"x"}"#.utf8), fin: true)
            let pong = try await client.nextFrame()
            #expect(pong.opcode == 0xA && pong.text == "between")
            try await client.sync()
            try await expectDelivered(server, to: client, channel: "x", "subscribed by fragments")
            await client.close()
        }
    }

    @Test("a client close is echoed with the same code and the server closes TCP", arguments: [1000, 1001, 3000, 4999])
    func clientClose(code: Int) async throws {
        try await TestServer.with { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/room")
            try await client.sendClose(code: UInt16(code), reason: "bye")
            let echo = try await client.nextFrame()
            #expect(echo.opcode == 0x8 && echo.fin && !echo.masked)
            #expect(echo.closeCode == UInt16(code))
            let rest = try await client.connection.readUntilClosed()
            #expect(rest.readableBytes == 0)
            #expect(try await server.subscriberCount("room") == 0)
        }
    }

    @Test("a client close without payload is answered with an empty close")
    func clientCloseWithoutPayload() async throws {
        try await TestServer.with { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws")
            try await client.send(opcode: 0x8, payload: [])
            let echo = try await client.nextFrame()
            #expect(echo.opcode == 0x8)
            #expect(echo.payload.isEmpty)
            let rest = try await client.connection.readUntilClosed()
            #expect(rest.readableBytes == 0)
        }
    }

    @Test("data sent after a client's close frame is ignored")
    func dataAfterClose() async throws {
        try await TestServer.with(TestServer.configuration { $0.clientPublish = true }) { server in
            let listener = try await TestWebSocket.connect(port: server.port, path: "/ws/room")
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/other")
            try await client.connection.send(
                frame(0x8, closePayload(1000)) + frame(0x1, Array(#"{"publish":"room","data":"late"}"#.utf8))
            )
            let echo = try await client.nextFrame()
            #expect(echo.opcode == 0x8 && echo.closeCode == 1000)
            _ = try await client.connection.readUntilClosed()
            // The publish after the close never reached the room: the next message there is this one.
            try await expectDelivered(server, to: listener, channel: "room", "first")
            await listener.close()
        }
    }

    @Test("a client that answers pings stays open across several ping intervals")
    func answeredPingsKeepConnectionOpen() async throws {
        // 500 ms, not less: the parallel suite can hold a client's pong back for a few hundred milliseconds.
        try await TestServer.with(TestServer.configuration { $0.pingInterval = .milliseconds(500) }) { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/alive")
            // Four intervals: twice the silence after which an idle client is dropped.
            for index in 0..<4 {
                let ping = try await client.nextFrame(timeout: .seconds(5))
                try #require(
                    ping.opcode == 0x9,
                    "frame \(index): opcode \(ping.opcode) \(ping.closeCode ?? 0) \(ping.closeReason)"
                )
                try await client.send(opcode: 0xA, payload: ping.payload)
            }
            let response = try await server.publish("alive", "still open")
            #expect(response.body.contains(#""delivered":1"#))
            // Keep answering pings while waiting for the message.
            while true {
                let frame = try await client.nextFrame(timeout: .seconds(5))
                if frame.opcode == 0x9 {
                    try await client.send(opcode: 0xA, payload: frame.payload)
                    continue
                }
                #expect(frame.opcode == 0x1 && frame.text == "still open")
                break
            }
            await client.close()
        }
    }

    @Test("a client that never answers is closed with 1001 \"idle timeout\" after being pinged")
    func silentClientTimesOut() async throws {
        try await TestServer.with(TestServer.configuration { $0.pingInterval = .milliseconds(250) }) { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/silent")
            var pings = 0
            var close: TestWebSocket.ReceivedFrame?
            while close == nil {
                let frame = try await client.nextFrame(timeout: .seconds(5))
                switch frame.opcode {
                case 0x9: pings += 1
                case 0x8: close = frame
                default: Issue.record("unexpected frame with opcode \(frame.opcode)")
                }
            }
            #expect(pings >= 1)
            #expect(close?.closeCode == 1001)
            #expect(close?.closeReason == "idle timeout")
            // Complete the closing handshake; the server then closes TCP and forgets the client.
            try await client.sendClose(code: 1001)
            _ = try await client.connection.readUntilClosed(timeout: .seconds(5))
            #expect(try await server.subscriberCount("silent") == 0)
        }
    }

    @Test("pings followed by a half-close are answered, the latest last, before the server closes")
    func pingsThenHalfClose() async throws {
        // A burst of 501 pings is over the default control-frame limit: this is about the half-close, not the rate.
        let configuration = TestServer.configuration { $0.maxControlFramesPerSecond = 0 }
        try await TestServer.with(configuration) { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/half")
            try await client.sync()
            // Exactly 64 KiB of pings (500 of 125 bytes, one of 30): the epoll transport's read buffer, so one
            // read can take them all and the next one the end of input, in the same turn as the pongs.
            var pings: [UInt8] = []
            for index in 0..<500 {
                let payload = [UInt8](repeating: UInt8(index % 256), count: 125)
                pings += TestWebSocket.encodeFrame(opcode: 0x9, payload: payload)
            }
            pings += TestWebSocket.encodeFrame(opcode: 0x9, payload: Array(repeating: 7, count: 30))
            #expect(pings.count == 65536)
            try await client.connection.send(pings)
            try await client.connection.channel.close(mode: .output)
            // Pongs in ping order; later pongs of one turn may replace each other (RFC 6455 5.5.3: only the most
            // recent ping needs an answer), but the last ping's answer always comes, and before the end.
            var previous = -1
            var pongs = 0
            while true {
                let pong = try await client.nextFrame()
                try #require(pong.opcode == 0xA, "frame \(pongs): opcode \(pong.opcode)")
                pongs += 1
                if pong.payload.count == 30 { break }
                let index = Int(pong.payload[0])
                #expect(pong.payload.count == 125 && index == (previous + 1) % 256, "pong \(pongs)")
                previous = index
            }
            #expect(pongs >= 65 && pongs <= 501)
            let rest = try await client.connection.readUntilClosed(timeout: .seconds(5))
            #expect(rest.readableBytes == 0)
        }
    }

    @Test("a client that never answers the server's close frame is dropped after closeTimeout, and only then")
    func unansweredCloseTimesOut() async throws {
        let configuration = TestServer.configuration { $0.closeTimeout = .milliseconds(600) }
        try await TestServer.with(configuration) { server in
            let listener = try await TestWebSocket.connect(port: server.port, path: "/ws/room")
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/room")
            try await client.sync()
            let start = ContinuousClock.now
            try await client.sendText("not json")
            let close = try await client.nextFrame()
            #expect(close.opcode == 0x8 && close.closeCode == 1008)
            // No answer: the server waits for one, then closes TCP by itself.
            let rest = try await client.connection.readUntilClosed(timeout: .seconds(5))
            let elapsed = ContinuousClock.now - start
            #expect(rest.readableBytes == 0)
            #expect(elapsed >= .milliseconds(600), "closed \(elapsed) after the refused command")
            #expect(elapsed < .seconds(4))
            #expect(try await server.subscriberCount("room") == 1)
            // The other connection of the channel was never disturbed.
            try await expectDelivered(server, to: listener, channel: "room", "still here")
            await listener.close()
        }
    }
}

/// Publishes `text` to `channel` over HTTP and expects `client` to receive exactly it next.
private func expectDelivered(
    _ server: TestServer,
    to client: TestWebSocket,
    channel: String,
    _ text: String,
    sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    let response = try await server.publish(channel, text)
    #expect(response.status == 200, sourceLocation: sourceLocation)
    #expect(response.body.contains(#""delivered":1"#), "\(response.body)", sourceLocation: sourceLocation)
    let message = try await client.nextMessage()
    #expect(message.opcode == 0x1 && message.text == text, "got \(message.opcode): \(message.text)",
        sourceLocation: sourceLocation)
}

private func frame(
    _ opcode: UInt8,
    _ payload: [UInt8],
    fin: Bool = true,
    rsv: UInt8 = 0,
    masked: Bool = true
) -> [UInt8] {
    TestWebSocket.encodeFrame(opcode: opcode, payload: payload, fin: fin, rsv: rsv, masked: masked)
}

private func closePayload(_ code: UInt16) -> [UInt8] {
    [UInt8(code >> 8), UInt8(code & 0xFF)]
}
