#if os(Linux)
    import ChorusCore
    import ChorusServer
    import ChorusTestSupport
    import NIOCore
    import NIOEmbedded
    import NIOHTTP1
    import Testing

    @testable import ChorusEpoll

    /// The policy reads an upgrade request as bytes where the epoll transport read it, and as NIO's parsed head
    /// on the NIO transport: both must come to the same decision, down to the reason and headers of a refusal.
    @Suite("Upgrade policy: request bytes and NIO's head decide alike")
    struct UpgradePolicyTests {
        private static let key = ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        private static let valid = [
            ("Host", "127.0.0.1"), ("Upgrade", "websocket"), ("Connection", "keep-alive, Upgrade"), key,
            ("Sec-WebSocket-Version", "13"),
        ]

        private static let cases: [(method: String, uri: String, headers: [(String, String)])] = [
            ("GET", "/ws/news", valid),
            ("GET", "/ws?channel=a&channel=b&channel=a&other=x", valid),
            ("GET", "/ws/a-channel-name-longer-than-fifteen?channel=b", valid),
            ("GET", "/ws", valid),
            ("GET", "/echo", valid),
            ("GET", "/echo?x=1", valid),
            ("GET", "/wss/news", valid),
            ("GET", "/publish/news", valid),
            ("GET", "/ws/bad%20name", valid),
            ("GET", "/ws?channel=", valid),
            ("GET", "/ws?" + (0..<70).map { "channel=c\($0)" }.joined(separator: "&"), valid),
            ("POST", "/ws/news", valid),
            ("GET", "/ws/news", valid.filter { $0.0 != "Upgrade" }),
            ("GET", "/ws/news", valid.filter { $0.0 != "Connection" }),
            ("GET", "/ws/news", valid.filter { $0.0 != "Sec-WebSocket-Version" } + [("Sec-WebSocket-Version", "8")]),
            ("GET", "/ws/news", valid + [("sec-websocket-version", "13")]),
            ("GET", "/ws/news", valid + [key]),
            ("GET", "/ws/news", valid.filter { $0.0 != key.0 } + [(key.0, "short==")]),
            ("GET", "/ws/news", valid.filter { $0.0 != key.0 } + [("SEC-WEBSOCKET-KEY", "  \(key.1)\t")]),
            ("GET", "/ws/news", valid + [("Sec-WebSocket-Protocol", "x, chorus")]),
            ("GET", "/ws/news", valid + [("Sec-WebSocket-Protocol", "chorus.token.abc")]),
            ("GET", "/ws/news", valid + [("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")]),
            ("GET", "/ws/news", valid + [("Sec-WebSocket-Extensions", "x-unknown")]),
        ]

        /// What a decision comes to, as comparable text.
        private func summary(_ result: Result<UpgradePolicy.Admission, HTTPRejection>) -> String {
            switch result {
            case .success(let admission):
                let endpoint: String
                switch admission.endpoint {
                case .echo: endpoint = "echo"
                case .statusFeed: endpoint = "status"
                case .subscriber(let channels, _): endpoint = channels.map(\.value).joined(separator: ",")
                }
                return "accept \(endpoint) \(admission.secWebSocketAccept) \(admission.subprotocol ?? "-") "
                    + "\(admission.deflate.map { "\($0)" } ?? "-")"
            case .failure(let rejection):
                return
                    "reject \(rejection.status.code) \(rejection.reason) \(rejection.headers.map { "\($0.0)=\($0.1)" })"
            }
        }

        private func policy(origins: [String] = []) -> UpgradePolicy {
            var configuration = ServerConfiguration()
            configuration.echoPath = "/echo"
            let hub = Hub(loops: [EmbeddedEventLoop()], settings: ShardSettings())
            let access = AccessControl(origins: OriginPolicy(origins.compactMap { OriginPattern($0) }))
            return UpgradePolicy(configuration: configuration, hub: hub, state: ServerState(), access: access)
        }

        private func decide(
            _ policy: UpgradePolicy,
            _ method: String,
            _ uri: String,
            _ headers: [(String, String)]
        ) -> (bytes: String, nio: String) {
            let text = "\(method) \(uri) HTTP/1.1\r\n" + headers.map { "\($0.0): \($0.1)\r\n" }.joined() + "\r\n"
            let buffer = ByteBuffer(string: text)
            guard case .complete(let layout) = RequestHeadParser.parse(buffer) else { return ("unparsed", "") }
            let fromBytes = buffer.withUnsafeReadableBytes {
                self.summary(policy.evaluate(RequestHeadView(bytes: $0, layout: layout), peer: nil))
            }
            let head = HTTPRequestHead(
                version: .http1_1,
                method: HTTPMethod(rawValue: method),
                uri: uri,
                headers: HTTPHeaders(headers)
            )
            return (fromBytes, self.summary(policy.evaluate(head, peer: nil)))
        }

        @Test("every check, accepted and refused, with no options")
        func defaultConfiguration() {
            let policy = self.policy()
            var accepted = 0
            for request in Self.cases {
                let (fromBytes, fromHead) = self.decide(policy, request.method, request.uri, request.headers)
                #expect(fromBytes == fromHead, "\(request.method) \(request.uri) \(request.headers)")
                if fromBytes.hasPrefix("accept") { accepted += 1 }
            }
            // The table holds both kinds: a policy that refused (or accepted) everything would not pass.
            #expect(accepted == 10)
            #expect(
                self.decide(policy, "GET", "/ws/news", Self.valid).bytes
                    == "accept news s3pPLMBiTxaQ9kYGzzhZRbK+xOo= - -"
            )
        }

        @Test("an allowed origin is read from the whole head on both")
        func origins() {
            let policy = self.policy(origins: ["https://example.com"])
            for origin in ["https://example.com", "https://evil.example"] {
                let (fromBytes, fromHead) = self.decide(policy, "GET", "/ws/news", Self.valid + [("Origin", origin)])
                #expect(fromBytes == fromHead)
                #expect(fromBytes.hasPrefix(origin == "https://example.com" ? "accept" : "reject 403"))
            }
        }

        @Test("random requests: the bytes and NIO's own decoder's head decide alike")
        func randomRequests() throws {
            let policy = self.policy()
            var random = SplitMix64(seed: 0xC0FFEE)
            let names = ["news", "a.b", "x:y-z_1", "way-too-long-for-inline", "bad!name", "", "%C3%BC"]
            var decisions = Set<String>()
            for _ in 0..<400 {
                var fields = Self.valid.map { field -> (String, String) in
                    // Names in any case, values with optional whitespace around them.
                    let name = random.next() % 2 == 0 ? field.0.uppercased() : field.0.lowercased()
                    let pad = ["", " ", "\t", "  "][Int(random.next() % 4)]
                    return (name, pad + field.1 + pad)
                }
                fields.shuffle(using: &random)
                switch random.next() % 8 {
                case 0: fields.remove(at: Int(random.next() % UInt64(fields.count)))
                case 1: fields.append(fields[Int(random.next() % UInt64(fields.count))])
                case 2:
                    fields.append(
                        ("Sec-WebSocket-Protocol", ["chorus", "other", "chorus.token.t"][Int(random.next() % 3)])
                    )
                case 3: fields.append(("Sec-WebSocket-Extensions", "permessage-deflate"))
                case 4: fields.append(("X-Extra", String(repeating: "v", count: Int(random.next() % 40))))
                default: break
                }
                let channels = (0..<Int(random.next() % 4)).map { _ in names[Int(random.next() % UInt64(names.count))] }
                let uri: String
                switch random.next() % 3 {
                case 0: uri = "/ws/" + (channels.first ?? "news")
                case 1: uri = "/ws?" + channels.map { "channel=\($0)" }.joined(separator: "&")
                default: uri = ["/echo", "/ws", "/metrics", "/ws/"][Int(random.next() % 4)]
                }
                let text = "GET \(uri) HTTP/1.1\r\n" + fields.map { "\($0.0):\($0.1)\r\n" }.joined() + "\r\n"
                let buffer = ByteBuffer(string: text)
                guard case .complete(let layout) = RequestHeadParser.parse(buffer) else {
                    Issue.record("not parsed: \(text.debugDescription)")
                    continue
                }
                let fromBytes = buffer.withUnsafeReadableBytes {
                    self.summary(policy.evaluate(RequestHeadView(bytes: $0, layout: layout), peer: nil))
                }
                let fromDecoder = self.summary(policy.evaluate(try Self.decode(text), peer: nil))
                #expect(fromBytes == fromDecoder, "\(text.debugDescription)")
                decisions.insert(String(fromBytes.prefix(10)))
            }
            // The requests reach both kinds of decision and several refusals.
            #expect(decisions.count >= 4, "\(decisions)")
        }

        /// The head NIO's own HTTP decoder reads from `text`.
        private static func decode(_ text: String) throws -> HTTPRequestHead {
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(HTTPRequestDecoder()))
            defer { _ = try? channel.finish() }
            try channel.writeInbound(ByteBuffer(string: text))
            guard case .head(let head) = try channel.readInbound(as: HTTPServerRequestPart.self) else {
                throw DecodeFailure()
            }
            return head
        }

        private struct DecodeFailure: Error {}
    }
#endif
