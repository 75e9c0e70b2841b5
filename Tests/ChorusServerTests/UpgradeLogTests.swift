import ChorusCore
import ChorusServer
import Logging
import NIOCore
import Testing

/// Each upgrade is decided once, whichever transport reads it, and the decision is logged once at debug: accepted
/// with the token's subject, refused with the status and reason (and the subject of a valid token refused for
/// its channel) — never the token itself. The decision is logged before its answer is written, so a client that
/// has the answer finds the record.
@Suite("Upgrade decisions in the log (over loopback)")
struct UpgradeLogTests {
    private static func tokenServer(maxConnections: Int = 100) -> ServerConfiguration {
        TestServer.configuration {
            $0.jwtSecret = TestTokens.secret
            $0.maxConnections = maxConnections
        }
    }

    @Test("an accepted upgrade is logged once with the token's subject and expiry, never the token")
    func accepted() async throws {
        let logs = CapturedLogs()
        try await TestServer.with(Self.tokenServer(), logs: logs) { server in
            let token = TestTokens.signed(claims: TestTokens.claims(sub: "alice"))
            let answer = try await upgrade(port: server.port, path: "/ws/news?token=\(token)")
            #expect(answer.status == 101)
            let accepted = logs.records("upgrade accepted")
            #expect(accepted.count == 1)
            #expect(accepted.first?.level == .debug)
            #expect(accepted.first?.metadata["sub"] == "alice")
            #expect(accepted.first?.metadata["channels"] == "1")
            #expect(accepted.first?.metadata["expires"] != nil)
            #expect(logs.records("upgrade refused").isEmpty)
            #expect(!logs.all.contains { $0.text.contains(token) })
            await answer.socket?.close()
        }
    }

    @Test("a refused upgrade is logged once with its status and reason: a bad token, a channel the token forbids")
    func refused() async throws {
        let logs = CapturedLogs()
        try await TestServer.with(Self.tokenServer(), logs: logs) { server in
            let forged = TestTokens.signed(claims: TestTokens.claims(sub: "mallory"), secret: String(repeating: "x", count: 40))
            let bad = try await upgrade(port: server.port, path: "/ws/news?token=\(forged)")
            #expect(bad.status == 401)
            let first = logs.records("upgrade refused")
            #expect(first.count == 1)
            #expect(first.first?.metadata["status"] == "401")
            // A token that failed verification names nobody.
            #expect(first.first?.metadata["sub"] == nil)

            let token = TestTokens.signed(claims: TestTokens.claims(sub: "bob", channels: ["news"]))
            let forbidden = try await upgrade(port: server.port, path: "/ws/sport?token=\(token)")
            #expect(forbidden.status == 403)
            let both = logs.records("upgrade refused")
            #expect(both.count == 2)
            #expect(both.last?.metadata["status"] == "403")
            #expect(both.last?.metadata["sub"] == "bob")
            #expect(both.last?.metadata["reason"] == "token does not allow channel sport")
            #expect(logs.records("upgrade accepted").isEmpty)
            #expect(!logs.all.contains { $0.text.contains(forged) || $0.text.contains(token) })
        }
    }

    @Test("past max-connections the refusal is logged once (503), and the place comes back when the first goes")
    func overCapacity() async throws {
        let logs = CapturedLogs()
        try await TestServer.with(Self.tokenServer(maxConnections: 1), logs: logs) { server in
            let token = TestTokens.signed(claims: TestTokens.claims(sub: "carol"))
            let first = try await upgrade(port: server.port, path: "/ws/news?token=\(token)")
            #expect(first.status == 101)
            let second = try await upgrade(port: server.port, path: "/ws/news?token=\(token)")
            #expect(second.status == 503)
            let refused = logs.records("upgrade refused")
            #expect(refused.count == 1)
            #expect(refused.first?.metadata["status"] == "503")
            #expect(refused.first?.metadata["sub"] == "carol")
            try await first.socket?.sendClose()
            _ = try await first.socket?.expectClose()
            await first.socket?.close()
            // The place is back once the connection is released.
            let released = server.server.hub.shards[0].eventLoop.makePromise(of: Void.self)
            server.server.state.capacity.succeedWhenNone(released)
            try await released.futureResult.get()
            let third = try await upgrade(port: server.port, path: "/ws/news?token=\(token)")
            #expect(third.status == 101)
            #expect(logs.records("upgrade accepted").count == 2)
            await third.socket?.close()
        }
    }
}
