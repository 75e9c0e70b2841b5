import ChorusCore
import ChorusServer
import NIOCore
import Testing



/// A compressed client frame's payload, as a client would deflate it (no context takeover).
private func deflate(_ text: String) throws -> [UInt8] {
    let deflater = try MessageDeflater(windowBits: 15, allocator: .init())
    let payload = try #require(deflater.compress(ByteBuffer(string: text), evenIfLarger: true))
    return Array(payload.readableBytesView)
}

/// Inflates a server frame's payload the way a client does.
private func inflate(_ payload: [UInt8]) throws -> String {
    var buffer = ByteBuffer(bytes: payload)
    let pool = InboundBufferPool(allocator: .init())
    guard case .inflated(let text) = try MessageInflater().inflate(&buffer, maxBytes: 1 << 20, pool: pool) else {
        throw InflateFailed()
    }
    return String(buffer: text)
}

private struct InflateFailed: Error {}

private func json(bytes: Int) -> String {
    var text = "["
    var index = 0
    while text.utf8.count < bytes - 1 {
        text += "{\"id\":\(index),\"symbol\":\"CHOR\",\"price\":\(100 + index % 7)},"
        index += 1
    }
    return String(text.prefix(bytes))
}

private let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"

@Suite("permessage-deflate end to end over loopback")
struct CompressionEndToEndTests {
    @Test("a deflate subscriber gets one shared compressed frame, a plain one the plain frame; small ones go plain")
    func compressedAndPlainSubscribers() async throws {
        try await TestServer.with { server in
            let deflating = try await TestWebSocket.connect(port: server.port, path: "/ws/news", extraHeaders: [offer])
            let deflating2 = try await TestWebSocket.connect(port: server.port, path: "/ws/news", extraHeaders: [offer])
            let plain = try await TestWebSocket.connect(port: server.port, path: "/ws/news")
            #expect(
                deflating.handshakeResponse.lowercased().contains(
                    "sec-websocket-extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"
                )
            )
            #expect(!plain.handshakeResponse.lowercased().contains("sec-websocket-extensions"))
            for client in [deflating, deflating2, plain] { try await client.sync() }

            let message = json(bytes: 2048)
            #expect(try await server.publish("news", message).status == 200)
            for client in [deflating, deflating2] {
                let frame = try await client.nextMessage()
                #expect(frame.rsv == 0x4 && frame.opcode == 0x1 && frame.fin)
                #expect(frame.payload.count * 3 < message.utf8.count)
                #expect(try inflate(frame.payload) == message)
            }
            let plainFrame = try await plain.nextMessage()
            #expect(plainFrame.rsv == 0 && plainFrame.text == message)

            let small = json(bytes: 100)
            #expect(try await server.publish("news", small).status == 200)
            for client in [deflating, deflating2, plain] {
                let frame = try await client.nextMessage()
                #expect(frame.rsv == 0 && frame.text == small)
            }
            let statistics = try await server.statistics()
            #expect(statistics.compressedFrames == 1)
            #expect(statistics.compressedDeliveries == 2)
            #expect(statistics.deliveries == 6)
            #expect(server.server.hub.hubCounters.compressionConnections == 2)
            for client in [deflating, deflating2, plain] { await client.close() }
        }
    }

    @Test("--no-compression answers no extension, and RSV1 from that client is a protocol error")
    func compressionOff() async throws {
        try await TestServer.with(TestServer.configuration { $0.compression = false }) { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws/news", extraHeaders: [offer])
            #expect(!client.handshakeResponse.lowercased().contains("sec-websocket-extensions"))
            try await client.send(opcode: 0x1, payload: try deflate(#"{"subscribe":"other"}"#), rsv: 0x4)
            #expect(try await client.expectClose().closeCode == 1002)
        }
    }

    @Test("a declined offer (server_max_window_bits=8) leaves the connection uncompressed, not broken")
    func declinedOffer() async throws {
        try await TestServer.with { server in
            let client = try await TestWebSocket.connect(
                port: server.port,
                path: "/ws/news",
                extraHeaders: ["Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=8"]
            )
            #expect(!client.handshakeResponse.lowercased().contains("sec-websocket-extensions"))
            try await client.sync()
            let message = json(bytes: 1000)
            #expect(try await server.publish("news", message).status == 200)
            let frame = try await client.nextMessage()
            #expect(frame.rsv == 0 && frame.text == message)
            await client.close()
        }
    }

    @Test("compressed control messages from a client are inflated and acted on")
    func compressedControlMessage() async throws {
        try await TestServer.with { server in
            let client = try await TestWebSocket.connect(port: server.port, path: "/ws", extraHeaders: [offer])
            try await client.send(opcode: 0x1, payload: try deflate(#"{"subscribe":"inflated"}"#), rsv: 0x4)
            try await client.sync()
            #expect(try await server.subscriberCount("inflated") == 1)
            await client.close()
        }
    }

    @Test("a decompression bomb is closed with 1009 and the server keeps serving others")
    func bomb() async throws {
        try await TestServer.with(TestServer.configuration { $0.maxMessageBytes = 65536 }) { server in
            let bystander = try await TestWebSocket.connect(port: server.port, path: "/ws/news", extraHeaders: [offer])
            let attacker = try await TestWebSocket.connect(port: server.port, path: "/ws", extraHeaders: [offer])
            // 16 MiB of one byte deflates to about 16 KiB: far under the 64 KiB wire limit.
            let bomb = try deflate(String(repeating: "{", count: 16 << 20))
            #expect(bomb.count < 65536)
            try await attacker.send(opcode: 0x1, payload: bomb, rsv: 0x4)
            #expect(try await attacker.expectClose().closeCode == 1009)
            try await bystander.sync()
            let message = json(bytes: 4096)
            #expect(try await server.publish("news", message).status == 200)
            #expect(try inflate(try await bystander.nextMessage().payload) == message)
            let statistics = try await server.statistics()
            #expect(statistics.closed(.tooLarge) == 1)
            await bystander.close()
        }
    }
}

@Suite("permessage-deflate settings")
struct CompressionConfigurationTests {
    @Test("compression is on with a 256-byte threshold by default; flags win; a negative threshold is refused")
    func settings() throws {
        let defaults = try ServerConfiguration.resolve(environment: [:], flags: [])
        #expect(defaults.compression && defaults.compressionMinBytes == 256)
        #expect(defaults.shardSettings.compressionMinBytes == 256)
        let flags = try ServerConfiguration.resolve(
            environment: ["CHORUS_COMPRESSION": "false", "CHORUS_COMPRESSION_MIN_BYTES": "10"],
            flags: [("compression", "true"), ("compression-min-bytes", "0")]
        )
        #expect(flags.compression && flags.compressionMinBytes == 0)
        #expect(throws: ConfigurationError.self) {
            try ServerConfiguration.resolve(environment: [:], flags: [("compression-min-bytes", "-1")])
        }
    }
}
