#if os(Linux)
    import ChorusCore
    import NIOCore
    import Testing

    @testable import ChorusServer

    /// The epoll transport must be indistinguishable from the NIO transport at the wire: the same scripted session
    /// (upgrades with and without compression, publishes over HTTP and from a client, ping, a refused command, a
    /// close handshake, plain HTTP and a refused upgrade on the same port) yields the same bytes at every client.
    @Suite("Both transports answer a scripted session with the same bytes")
    struct TransportDifferentialTests {
        /// Everything the clients of one run received, in script order.
        private struct Transcript: Equatable {
            var entries: [String] = []

            mutating func add(_ label: String, _ frame: TestWebSocket.ReceivedFrame) {
                let header = "fin=\(frame.fin) rsv=\(frame.rsv) op=\(frame.opcode) masked=\(frame.masked)"
                self.entries.append("\(label): \(header) \(frame.payload)")
            }

            mutating func add(_ label: String, _ text: String) {
                // Each server names its streams' epochs at random: compare everything else.
                let epochless = text.replacing(/"epoch":"[A-Za-z0-9_-]+"/, with: #""epoch":"…""#)
                self.entries.append("\(label): \(epochless)")
            }
        }

        private func run(_ transport: ServerConfiguration.Transport) async throws -> Transcript {
            let configuration = TestServer.configuration {
                $0.transport = transport
                $0.clientPublish = true
                $0.echoPath = "/echo"
                // The refused client never answers the server's close: do not wait the default 5 s for it.
                $0.closeTimeout = .milliseconds(200)
            }
            return try await TestServer.with(configuration) { server in
                var transcript = Transcript()
                let compressed = try await TestWebSocket.connect(
                    port: server.port,
                    path: "/ws/news",
                    extraHeaders: ["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"]
                )
                transcript.add("compressed 101", compressed.handshakeResponse)
                let plain = try await TestWebSocket.connect(
                    port: server.port,
                    path: "/ws/news?channel=sports",
                    extraHeaders: ["Sec-WebSocket-Protocol: chorus"]
                )
                transcript.add("plain 101", plain.handshakeResponse)

                // Small (never compressed) and large (compressed for the first client) publishes.
                let large = String(repeating: "chorus broadcasts once; ", count: 40)
                for message in ["hello", large] {
                    transcript.add("publish", try await server.publish("news", message).body)
                    transcript.add("compressed", try await compressed.nextFrame())
                    transcript.add("plain", try await plain.nextFrame())
                }
                transcript.add("sports", try await server.publish("sports", "goal").body)
                transcript.add("plain", try await plain.nextFrame())

                // Ping → pong; a client publish reaches both.
                try await compressed.send(opcode: 0x9, payload: Array("are you there".utf8))
                transcript.add("compressed pong", try await compressed.nextFrame())
                try await plain.sendText(#"{"publish":"news","data":"from a client"}"#)
                transcript.add("compressed", try await compressed.nextFrame())
                transcript.add("plain", try await plain.nextFrame())

                // A refused command closes with 1008 and its reason; a client close is echoed.
                try await compressed.sendText("not json")
                transcript.add("compressed refused", try await compressed.nextFrame())
                transcript.add("compressed rest", String(buffer: try await compressed.connection.readUntilClosed()))
                try await plain.sendClose(code: 1000, reason: "bye")
                transcript.add("plain close", try await plain.nextFrame())
                transcript.add("plain rest", String(buffer: try await plain.connection.readUntilClosed()))

                // Echo endpoint, text and binary.
                let echo = try await TestWebSocket.connect(port: server.port, path: "/echo")
                try await echo.sendText("echo me")
                transcript.add("echo", try await echo.nextFrame())
                try await echo.send(opcode: 0x2, payload: [0, 1, 2, 255])
                transcript.add("echo", try await echo.nextFrame())
                await echo.close()

                // Plain HTTP and a refused upgrade on the same port.
                for request in [
                    "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                    "GET /ws/bad! HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Key: \(TestWebSocket.sampleKey)\r\nSec-WebSocket-Version: 13\r\n\r\n",
                    "POST /publish/news HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
                ] {
                    let raw = try await RawConnection.connect(port: server.port)
                    try await raw.send(request)
                    transcript.add("http", String(buffer: try await raw.readUntilClosed()))
                    await raw.close()
                }
                return transcript
            }
        }

        @Test("nio and epoll: identical bytes at every client")
        func sameBytes() async throws {
            let nio = try await self.run(.nio)
            let epoll = try await self.run(.epoll)
            #expect(nio.entries.count == 22)
            // The script saw what it expects (so equal transcripts are not equally empty).
            #expect(nio.entries[0].contains("101 Switching Protocols") && nio.entries[0].contains("permessage-deflate"))
            #expect(nio.entries.contains { $0.hasPrefix("compressed refused: fin=true rsv=0 op=8") })
            for (index, (left, right)) in zip(nio.entries, epoll.entries).enumerated() {
                #expect(left == right, "entry \(index) differs")
            }
            #expect(nio == epoll)
        }
    }
#endif
