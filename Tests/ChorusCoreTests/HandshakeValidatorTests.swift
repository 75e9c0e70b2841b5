import ChorusCore
import Testing

@Suite struct HandshakeValidatorTests {
    typealias Headers = [(name: String, value: String)]

    let good: Headers = [
        ("Host", "example.com"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ]

    func validate(method: String = "GET", major: Int = 1, minor: Int = 1, _ headers: Headers)
        -> HandshakeValidator.Outcome
    {
        HandshakeValidator.validate(method: method, versionMajor: major, versionMinor: minor, headers: headers)
    }

    func replacing(_ name: String, with values: [String]) -> Headers {
        self.good.filter { $0.name != name } + values.map { (name, $0) }
    }

    /// RFC 6455 §1.3 (the value is the RFC's; python3 hashlib agrees).
    @Test func rfcExample() {
        #expect(
            HandshakeValidator.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==").string == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        )
        #expect(self.validate(self.good).acceptString == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func lenientButCorrectHeaderForms() {
        let headers: Headers = [
            ("upgrade", "h2c, WebSocket"),
            ("CONNECTION", "keep-alive"),
            ("connection", " keep-alive ,  UPGRADE "),
            ("sec-websocket-key", " dGhlIHNhbXBsZSBub25jZQ== "),
            ("SEC-WEBSOCKET-VERSION", "13"),
        ]
        #expect(
            self.validate(major: 2, minor: 0, headers).acceptString == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        )
    }

    @Test func methodMustBeGet() {
        #expect(
            self.validate(method: "POST", self.good)
                == .reject(status: 405, reason: "WebSocket upgrade requires GET", extraHeaders: [])
        )
        #expect(
            self.validate(method: "get", self.good)
                == .reject(status: 405, reason: "WebSocket upgrade requires GET", extraHeaders: [])
        )
    }

    @Test func httpVersion() {
        guard case .reject(400, _, []) = self.validate(major: 1, minor: 0, self.good) else {
            Issue.record("HTTP/1.0 must be rejected with 400")
            return
        }
        guard case .reject(400, _, []) = self.validate(major: 0, minor: 9, self.good) else {
            Issue.record("HTTP/0.9 must be rejected with 400")
            return
        }
    }

    @Test(arguments: [[], ["h2c"], ["websocket2"], ["web socket"]])
    func upgradeHeader(values: [String]) {
        let outcome = self.validate(self.replacing("Upgrade", with: values))
        guard case .reject(426, _, let extra) = outcome else {
            Issue.record("expected 426, got \(outcome)")
            return
        }
        #expect(extra == [HandshakeValidator.HeaderField(name: "Upgrade", value: "websocket")])
    }

    @Test(arguments: [[], ["keep-alive"], ["upgraded"], ["keep-alive", "close"]])
    func connectionHeader(values: [String]) {
        let outcome = self.validate(self.replacing("Connection", with: values))
        guard case .reject(400, _, []) = outcome else {
            Issue.record("expected 400, got \(outcome)")
            return
        }
    }

    @Test(arguments: [[], ["8"], ["13, 8"], ["13", "13"], ["14"], [""]])
    func versionHeader(values: [String]) {
        let outcome = self.validate(self.replacing("Sec-WebSocket-Version", with: values))
        guard case .reject(426, _, let extra) = outcome else {
            Issue.record("expected 426, got \(outcome)")
            return
        }
        #expect(extra == [HandshakeValidator.HeaderField(name: "Sec-WebSocket-Version", value: "13")])
    }

    @Test(arguments: [
        [],
        [""],
        ["dGhlIHNhbXBsZSBub25jZQ"],  // unpadded
        ["dGhlIHNhbXBsZSBub25j"],  // 15 bytes
        ["dGhlIHNhbXBsZSBub25jZSE="],  // 17 bytes
        ["dGhlIHNhbXBsZSBub25jZ*=="],
        ["dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ=="],
    ])
    func keyHeader(values: [String]) {
        let outcome = self.validate(self.replacing("Sec-WebSocket-Key", with: values))
        guard case .reject(400, _, []) = outcome else {
            Issue.record("expected 400, got \(outcome)")
            return
        }
    }

    @Test func checksRunInOrder() {
        // Everything wrong: the method is reported first, then the version, then Upgrade.
        #expect(
            self.validate(method: "POST", major: 1, minor: 0, [])
                == .reject(status: 405, reason: "WebSocket upgrade requires GET", extraHeaders: [])
        )
        guard case .reject(400, _, _) = self.validate(major: 1, minor: 0, []) else {
            Issue.record("version comes second")
            return
        }
        guard
            case .reject(426, _, [HandshakeValidator.HeaderField(name: "Upgrade", value: "websocket")]) = self.validate(
                [])
        else {
            Issue.record("Upgrade comes third")
            return
        }
    }
}

extension HandshakeValidator.Outcome {
    /// The accept value as text, nil for a rejection.
    fileprivate var acceptString: String? {
        guard case .accept(let value) = self else { return nil }
        return value.string
    }
}
