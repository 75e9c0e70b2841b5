import ChorusCore
import ChorusServer
import NIOCore
import Testing

@Suite("Echo endpoint (--echo-path) over loopback")
struct EchoTests {
    static func echoServer(maxMessageBytes: Int = 64 * 1024) -> ServerConfiguration {
        TestServer.configuration {
            $0.echoPath = "/echo"
            $0.maxMessageBytes = maxMessageBytes
        }
    }

    @Test("off by default: an upgrade to /echo gets 404")
    func offByDefault() async throws {
        try await TestServer.with { server in
            do {
                _ = try await TestWebSocket.connect(port: server.port, path: "/echo")
                Issue.record("upgrade to /echo accepted without --echo-path")
            } catch let refused as TestWebSocket.Refused {
                #expect(refused.status == 404)
            }
        }
    }

    @Test("a plain GET of the echo path asks for an upgrade (426)")
    func plainGet() async throws {
        try await TestServer.with(Self.echoServer()) { server in
            let response = try await httpRequest(port: server.port, "GET", "/echo")
            #expect(response.status == 426)
        }
    }

    @Test("text and binary messages come back verbatim, unmasked, as one frame each")
    func textAndBinary() async throws {
        try await TestServer.with(Self.echoServer()) { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/echo")
            let binary = (0..<60_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let messages: [(opcode: UInt8, payload: [UInt8])] = [
                (0x1, Array("héllo, ✓".utf8)),
                (0x2, [0, 1, 2, 0xFF]),
                (0x1, []),
                (0x2, binary),
                (0x1, Array(String(repeating: "z", count: 300).utf8)),
            ]
            for message in messages {
                try await client.send(opcode: message.opcode, payload: message.payload)
                let echoed = try await client.nextMessage()
                #expect(echoed.fin && echoed.rsv == 0 && !echoed.masked)
                #expect(echoed.opcode == message.opcode)
                let same = echoed.payload == message.payload
                #expect(same, "payload of \(message.payload.count) bytes came back as \(echoed.payload.count) bytes")
            }
            // Echoes are not published messages: buffer-reuse counters stay untouched.
            #expect(try await server.statistics().deliveries == 0)
            try await client.sendClose()
            #expect(try await client.expectClose().closeCode == 1000)
        }
    }

    @Test("a fragmented message, with a ping between fragments, comes back whole")
    func fragmented() async throws {
        try await TestServer.with(Self.echoServer()) { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/echo")
            let bytes = Array("fragmented ✓ message".utf8)
            // Split inside the multi-byte check mark, so UTF-8 validation has to carry across fragments.
            try await client.send(opcode: 0x1, payload: Array(bytes[0..<12]), fin: false)
            try await client.send(opcode: 0x9, payload: Array("between".utf8))
            try await client.send(opcode: 0x0, payload: Array(bytes[12..<14]), fin: false)
            try await client.send(opcode: 0x0, payload: Array(bytes[14...]))
            let pong = try await client.nextMessage()
            #expect(pong.opcode == 0xA && pong.text == "between")
            let echoed = try await client.nextMessage()
            #expect(echoed.fin && echoed.opcode == 0x1 && echoed.payload == bytes)
            await client.close()
        }
    }

    @Test("control messages are not parsed there: a subscribe is echoed, not obeyed")
    func noControlMessages() async throws {
        try await TestServer.with(Self.echoServer()) { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/echo")
            try await client.sendText(#"{"subscribe":"news"}"#)
            #expect(try await client.nextMessage().text == #"{"subscribe":"news"}"#)
            try await client.sendText("not json")
            #expect(try await client.nextMessage().text == "not json")
            #expect(try await server.subscriberCount("news") == 0)
            await client.close()
        }
    }

    @Test("a message over max-message-bytes closes with 1009; invalid UTF-8 with 1007")
    func limits() async throws {
        try await TestServer.with(Self.echoServer(maxMessageBytes: 1024)) { server in
            let tooBig = try await TestWebSocket.connect(port: server.port, path: "/echo")
            try await tooBig.send(opcode: 0x2, payload: [UInt8](repeating: 7, count: 1025))
            #expect(try await tooBig.expectClose().closeCode == 1009)

            let fragmentedTooBig = try await TestWebSocket.connect(port: server.port, path: "/echo")
            try await fragmentedTooBig.send(opcode: 0x1, payload: [UInt8](repeating: 0x61, count: 1000), fin: false)
            try await fragmentedTooBig.send(opcode: 0x0, payload: [UInt8](repeating: 0x61, count: 100))
            #expect(try await fragmentedTooBig.expectClose().closeCode == 1009)

            let invalid = try await TestWebSocket.connect(port: server.port, path: "/echo")
            try await invalid.send(opcode: 0x1, payload: [0x61, 0xC0, 0xAF])
            #expect(try await invalid.expectClose().closeCode == 1007)

            let fine = try await TestWebSocket.connect(port: server.port, path: "/echo")
            try await fine.send(opcode: 0x2, payload: [UInt8](repeating: 9, count: 1024))
            #expect(try await fine.nextMessage().payload.count == 1024)
            await fine.close()
        }
    }
}
