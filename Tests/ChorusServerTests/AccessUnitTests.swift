import ChorusCore
import ChorusServer
import CryptoExtras
import Foundation
import JWTKit
import NIOCore
import NIOHTTP1
import Testing

@Suite("Access control pieces: tokens, channel patterns, addresses, origins, API keys")
struct AccessUnitTests {
    static func verifier(_ adjust: (inout ServerConfiguration) -> Void = { $0.jwtSecret = TestTokens.secret })
        async throws -> TokenVerifier
    {
        var configuration = ServerConfiguration()
        adjust(&configuration)
        return try #require(try await TokenVerifier.make(configuration: configuration))
    }

    @Test("a valid HS256 token yields its subject, expiry and channel permissions")
    func validToken() async throws {
        let verifier = try await Self.verifier()
        let token = try verifier.verify(TestTokens.signed(claims: TestTokens.claims(publish: ["news"])))
        #expect(token.subject == "user-42")
        #expect(token.expiresAt.timeIntervalSinceNow > 200 && token.expiresAt.timeIntervalSinceNow <= 300)
        let news = try ChannelName(validating: "news")
        #expect(token.grant.maySubscribe(to: news) && token.grant.mayPublish(to: news))
        #expect(token.grant.maySubscribe(to: try ChannelName(validating: "user.42.inbox")))
        #expect(!token.grant.maySubscribe(to: try ChannelName(validating: "user.43.inbox")))
        #expect(!token.grant.mayPublish(to: try ChannelName(validating: "user.42.inbox")))
        // Tokens with the same claims share one grant object.
        let again = try verifier.verify(TestTokens.signed(claims: TestTokens.claims(sub: "other", publish: ["news"])))
        #expect(again.grant === token.grant)
    }

    @Test("expired, wrong-signature, alg none, wrong algorithm, missing exp, missing sub and malformed tokens fail")
    func invalidTokens() async throws {
        let verifier = try await Self.verifier()
        let valid = TestTokens.signed()
        let cases: [(String, String)] = [
            (TestTokens.signed(claims: TestTokens.claims(expiresIn: -1)), "token expired"),
            (TestTokens.signed(secret: "another-secret-that-is-32-bytes-long!"), "invalid token signature"),
            (String(valid.dropLast(2)) + (valid.hasSuffix("AA") ? "BA" : "AA"), "invalid token signature"),
            (TestTokens.unsigned(), "unsupported token algorithm"),
            (TestTokens.signed(header: #"{"alg":"HS512","typ":"JWT"}"#, sha512: true), "unsupported token algorithm"),
            (TestTokens.signed(header: #"{"typ":"JWT"}"#), "unsupported token algorithm"),
            (TestTokens.signed(claims: TestTokens.claims(expiresIn: nil)), "token has no exp claim"),
            (TestTokens.signed(claims: TestTokens.claims(sub: nil)), "token has no sub claim"),
            (TestTokens.signed(claims: TestTokens.claims(channels: ["bad channel"])), "invalid channels"),
            (TestTokens.signed(claims: TestTokens.claims(channels: ["user.*.inbox"])), "invalid channels"),
            (TestTokens.signed(claims: #"{"sub":"a","exp":"tomorrow"}"#), "malformed token"),
            ("not-a-token", "malformed token"),
            ("a.b.c", "malformed token"),
            ("", "malformed token"),
            (String(repeating: "a", count: 9000) + ".b.c", "malformed token"),
        ]
        for (token, reason) in cases {
            do {
                _ = try verifier.verify(token)
                Issue.record("accepted a token that should fail with \(reason)")
            } catch {
                #expect(error.reason.contains(reason), "\(error.reason) for \(token.prefix(80))")
                #expect(!error.reason.contains(token.prefix(20)) || token.count < 4)
            }
        }
    }

    @Test("an ES256 public key verifies ES256 tokens and refuses HS256 ones signed with its PEM text")
    func publicKey() async throws {
        let privateKey = ES256PrivateKey()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-es256-\(UUID()).pem")
        try privateKey.publicKey.pemRepresentation.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let verifier = try await Self.verifier { $0.jwtPublicKeyFile = file.path }
        #expect(verifier.acceptedAlgorithms == ["ES256"])
        let claims = TokenClaims(
            sub: SubjectClaim(value: "device-7"),
            exp: ExpirationClaim(value: Date().addingTimeInterval(60)),
            channels: ["*"]
        )
        let token = try await JWTKeyCollection().add(ecdsa: privateKey).sign(claims)
        let verified = try verifier.verify(token)
        #expect(try verified.subject == "device-7" && verified.grant.maySubscribe(to: try ChannelName(validating: "x")))
        // The confusion attack: an HMAC over the token with the public key as the secret.
        let confused = TestTokens.signed(secret: privateKey.publicKey.pemRepresentation)
        #expect(throws: TokenRejection.self) { try verifier.verify(confused) }

        var configuration = ServerConfiguration()
        configuration.jwtPublicKeyFile = file.path + ".missing"
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
    }

    @Test("an RS256 public key verifies RS256 tokens; HS256 and RS512 tokens are refused")
    func rsaPublicKey() async throws {
        let privateKey = try Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-rs256-\(UUID()).pem")
        try privateKey.publicKey.pemRepresentation.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        // Both kinds of key at once: each token is checked with the key its alg names.
        let verifier = try await Self.verifier {
            $0.jwtPublicKeyFile = file.path
            $0.jwtSecret = TestTokens.secret
        }
        #expect(verifier.acceptedAlgorithms == ["HS256", "RS256"])
        let claims = TokenClaims(
            sub: SubjectClaim(value: "service"),
            exp: ExpirationClaim(value: Date().addingTimeInterval(60)),
            channels: ["news"]
        )
        let rs256 = try await JWTKeyCollection().add(rsa: privateKey, digestAlgorithm: .sha256).sign(claims)
        #expect(try verifier.verify(rs256).subject == "service")
        #expect(try verifier.verify(TestTokens.signed()).subject == "user-42")
        let rs512 = try await JWTKeyCollection().add(rsa: privateKey, digestAlgorithm: .sha512).sign(claims)
        #expect(throws: TokenRejection.self) { try verifier.verify(rs512) }
    }

    @Test("channel patterns: exact names, prefix patterns and the wildcard")
    func channelPatterns() throws {
        func name(_ text: String) throws -> ChannelName { try ChannelName(validating: text) }
        let prefix = try #require(ChannelPattern("user.42.*"))
        #expect(try prefix.matches(try name("user.42.inbox")) && prefix.matches(try name("user.42.a.b")))
        #expect(try !prefix.matches(try name("user.42")) && !prefix.matches(try name("user.421.inbox")))
        #expect(try !prefix.matches(name("user.43.inbox")))
        let exact = try #require(ChannelPattern("news"))
        #expect(try exact.matches(try name("news")) && !exact.matches(try name("news2")))
        #expect(ChannelPattern("*")?.matches(try name("anything")) == true)
        for invalid in ["", "*.x", "user.*.x", "a b", "user.*.*", ".*", "news*"] {
            #expect(ChannelPattern(invalid) == nil, "\(invalid)")
        }
        #expect(ChannelPattern("user.42.*")?.description == "user.42.*")
    }

    @Test("IPv4 and IPv6 addresses and CIDR blocks parse, and only valid ones")
    func addresses() throws {
        #expect(IPAddress("192.0.2.1")?.description == "192.0.2.1")
        #expect(IPAddress("::ffff:192.0.2.1") == IPAddress("192.0.2.1"))
        #expect(IPAddress("2001:db8::1") == IPAddress("2001:0db8:0:0:0:0:0:1"))
        #expect(IPAddress("::1")?.description == "0:0:0:0:0:0:0:1")
        #expect(IPAddress("::") == IPAddress(high: 0, low: 0))
        #expect(IPAddress("fe80::1%eth0") == IPAddress("fe80::1"))
        for invalid in [
            "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "1::2::3", "12345::", ":::",
            "1:2:3:4:5:6:7:8:9", "g::1", "1.2.3.4:80", "::ffff:1.2.3",
        ] {
            #expect(IPAddress(invalid) == nil, "\(invalid)")
        }

        let v4 = try #require(IPNetwork("10.0.0.0/8"))
        #expect(v4.contains(try #require(IPAddress("10.255.1.2"))))
        #expect(!v4.contains(try #require(IPAddress("11.0.0.1"))))
        #expect(v4.contains(try #require(IPAddress("::ffff:10.1.1.1"))))
        #expect(v4.description == "10.0.0.0/8")
        let v6 = try #require(IPNetwork("2001:db8::/32"))
        #expect(v6.contains(try #require(IPAddress("2001:db8:ffff::1"))))
        #expect(!v6.contains(try #require(IPAddress("2001:db9::1"))))
        #expect(!v6.contains(try #require(IPAddress("10.0.0.1"))))
        let single = try #require(IPNetwork("192.0.2.7"))
        #expect(single.contains(try #require(IPAddress("192.0.2.7"))))
        #expect(!single.contains(try #require(IPAddress("192.0.2.8"))))
        #expect(IPNetwork("0.0.0.0/0")?.contains(try #require(IPAddress("203.0.113.9"))) == true)
        #expect(IPNetwork("::/0")?.contains(try #require(IPAddress("2001:db8::9"))) == true)
        #expect(IPNetwork("192.168.1.128/25")?.contains(try #require(IPAddress("192.168.1.200"))) == true)
        #expect(IPNetwork("192.168.1.128/25")?.contains(try #require(IPAddress("192.168.1.100"))) == false)
        for invalid in [
            "10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "2001:db8::/129", "x/8", "/8",
            "fd00::1/8",
        ] {
            #expect(IPNetwork(invalid) == nil, "\(invalid)")
        }
    }

    @Test("X-Forwarded-For is believed only from trusted proxies, read from the right")
    func forwardedFor() throws {
        let proxies = [try #require(IPNetwork("10.0.0.0/8")), try #require(IPNetwork("fd00::/8"))]
        func client(_ peer: String, _ forwarded: [String]) throws -> String? {
            var headers = HTTPHeaders()
            for value in forwarded { headers.add(name: "X-Forwarded-For", value: value) }
            let address = try SocketAddress(ipAddress: peer, port: 1234)
            return ClientAddress.resolve(peer: address, headers: headers, trustedProxies: proxies)?.description
        }
        // An untrusted peer's header is ignored.
        #expect(try client("203.0.113.5", ["198.51.100.1"]) == "203.0.113.5")
        // A trusted proxy: the rightmost address that is not a trusted proxy.
        #expect(try client("10.0.0.1", ["198.51.100.1"]) == "198.51.100.1")
        #expect(try client("10.0.0.1", ["6.6.6.6, 198.51.100.1, 10.0.0.2"]) == "198.51.100.1")
        #expect(try client("10.0.0.1", ["6.6.6.6", "198.51.100.1"]) == "198.51.100.1")
        #expect(try client("fd00::1", ["2001:db8::7"]) == "2001:db8:0:0:0:0:0:7")
        // Garbage stops the walk at the proxy that passed it on; no header means the proxy itself.
        #expect(try client("10.0.0.1", ["198.51.100.1, garbage"]) == "10.0.0.1")
        #expect(try client("10.0.0.1", []) == "10.0.0.1")
        #expect(try client("10.0.0.1", ["10.0.0.3"]) == "10.0.0.3")
        // Without trusted proxies the header never counts.
        let address = try SocketAddress(ipAddress: "10.0.0.1", port: 1)
        var headers = HTTPHeaders()
        headers.add(name: "X-Forwarded-For", value: "198.51.100.1")
        #expect(ClientAddress.resolve(peer: address, headers: headers, trustedProxies: [])?.description == "10.0.0.1")
    }

    @Test("loopback addresses: 127.0.0.0/8, its IPv4-mapped form and ::1, nothing else")
    func loopback() {
        for text in ["127.0.0.1", "127.255.3.4", "::ffff:127.0.0.1", "::1"] {
            #expect(IPAddress(text)?.isLoopback == true, "\(text)")
        }
        for text in ["128.0.0.1", "10.0.0.1", "::2", "::", "::ffff:10.127.0.1", "2001:db8::1"] {
            #expect(IPAddress(text)?.isLoopback == false, "\(text)")
        }
    }

    @Test("a socket peer's address reads as its text does (IPv4, IPv6, IPv4-mapped)")
    func socketAddress() throws {
        for text in ["127.0.0.1", "203.0.113.9", "::1", "2001:db8::8:1", "::ffff:10.0.0.7"] {
            let address = try SocketAddress(ipAddress: text, port: 80)
            #expect(IPAddress(address) == IPAddress(text), "\(text)")
        }
        #expect(IPAddress(try SocketAddress(ipAddress: "127.0.0.1", port: 1))?.isLoopback == true)
    }

    @Test("chorus token: exp is a whole second, never before now + ttl; a ttl that is not positive is refused")
    func tokenSigner() async throws {
        #expect(throws: ConfigurationError.self) { try TokenSigner.lifetime("0") }
        #expect(throws: ConfigurationError.self) { try TokenSigner.lifetime("0ms") }
        #expect(try TokenSigner.lifetime("500ms") == .milliseconds(500))
        let now = Date(timeIntervalSince1970: 1_800_000_000.25)
        let token = try await TokenSigner.hs256(
            secret: String(repeating: "s", count: 32),
            subject: "user-1",
            channels: ["news"],
            lifetime: .milliseconds(1500),
            now: now
        )
        // The payload's exp as written: an integer, 1,800,000,001.75 rounded up.
        var payload = String(token.split(separator: ".")[1]).replacingOccurrences(of: "-", with: "+")
            .replacingOccurrences(of: "_", with: "/")
        while payload.count % 4 != 0 { payload += "=" }
        let json = String(decoding: try #require(Data(base64Encoded: payload)), as: UTF8.self)
        #expect(json.contains(#""exp":1800000002"#) && !json.contains("1800000002."), "\(json)")
    }

    @Test("allowed origins: exact origins, hosts and *.example.com")
    func origins() throws {
        let policy = OriginPolicy(
            try ["https://app.example.com", "*.example.org", "http://localhost:3000", "https://*.example.net"].map {
                try #require(OriginPattern($0))
            }
        )
        for allowed in [
            "https://app.example.com", "HTTPS://APP.EXAMPLE.COM", "https://a.example.org",
            "http://a.b.example.org:8443", "http://localhost:3000", "https://x.example.net",
        ] {
            #expect(policy.allows(allowed), "\(allowed)")
        }
        for denied in [
            "https://evil.com", "http://app.example.com", "https://app.example.com:8443",
            "https://example.org", "https://evilexample.org", "http://localhost:3001", "http://x.example.net",
            "null", "https://app.example.com.evil.com",
        ] {
            #expect(!policy.allows(denied), "\(denied)")
        }
        // No Origin: not a browser page, nothing to protect.
        #expect(policy.allows(nil))
        #expect(OriginPolicy([]).allows("https://anything.example"))
        for invalid in ["", "https://", "https://a.com/path", "*", "a.*.com", "https://a.com:x", "*."] {
            #expect(OriginPattern(invalid) == nil, "\(invalid)")
        }
    }

    @Test("API keys: every key is compared in constant time through the digest helper")
    func apiKeyComparison() {
        let digests = ["old-key", "new-key"].map { PublishAuthorizer.digest(Array($0.utf8)) }
        #expect(PublishAuthorizer.matchesAny(Array("old-key".utf8), digests: digests))
        #expect(PublishAuthorizer.matchesAny(Array("new-key".utf8), digests: digests))
        #expect(!PublishAuthorizer.matchesAny(Array("new-ke".utf8), digests: digests))
        #expect(!PublishAuthorizer.matchesAny(Array("new-key2".utf8), digests: digests))
        #expect(!PublishAuthorizer.matchesAny([], digests: digests))
        #expect(!PublishAuthorizer.matchesAny(Array("old-key".utf8), digests: []))
        #expect(PublishAuthorizer.constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!PublishAuthorizer.constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!PublishAuthorizer.constantTimeEquals([1, 2, 3], [1, 2]))
        #expect(!PublishAuthorizer.constantTimeEquals([], [0]))
        #expect(!PublishAuthorizer.constantTimeEquals([UInt8](repeating: 0, count: 256), []))
    }
}
