import NIOCore
import NIOEmbedded
import Testing

@testable import ChorusCore

@Suite("Token expiry in the shard")
struct TokenExpiryTests {
    @Test("connections are closed with 1008 once their token's second has come, once, and only they")
    func expireTokens() {
        let shard = Shard(eventLoop: EmbeddedEventLoop(), settings: ShardSettings())
        let start = NIODeadline.uptimeNanoseconds(1_000 * 1_000_000_000)
        let soon = RecordingSink()
        let later = RecordingSink()
        let untokened = RecordingSink()
        shard.setTokenExpiry(shard.register(soon), start + .milliseconds(1500))
        shard.setTokenExpiry(shard.register(later), start + .seconds(10))
        _ = shard.register(untokened)

        shard.expireTokens(now: start + .seconds(1))
        #expect(soon.closes.isEmpty && later.closes.isEmpty)
        // Rounded up to whole seconds: never closed before exp.
        shard.expireTokens(now: start + .milliseconds(1999))
        #expect(soon.closes.isEmpty)
        shard.expireTokens(now: start + .seconds(2))
        #expect(soon.closes.count == 1)
        #expect(soon.closes.first?.0 == .policyViolation && soon.closes.first?.1 == "token expired")
        #expect(soon.closes.first?.2 == .tokenExpired)
        shard.expireTokens(now: start + .seconds(5))
        #expect(soon.closes.count == 1 && later.closes.isEmpty)
        shard.expireTokens(now: start + .seconds(10))
        #expect(later.closes.count == 1)
        shard.expireTokens(now: start + .seconds(1_000_000))
        #expect(untokened.closes.isEmpty)
    }

    @Test("a released block forgets its token expiry, so the next connection in it is not closed")
    func resetOnRelease() {
        let shard = Shard(eventLoop: EmbeddedEventLoop(), settings: ShardSettings())
        let start = NIODeadline.uptimeNanoseconds(50 * 1_000_000_000)
        let first = shard.register(RecordingSink())
        shard.setTokenExpiry(first, start + .seconds(1))
        shard.release(first, reason: .normal)
        let next = RecordingSink()
        let reused = shard.register(next)
        #expect(reused.index == first.index && shard.block(reused)?.tokenExpirySecond == 0)
        shard.expireTokens(now: start + .seconds(2))
        #expect(next.closes.isEmpty)
        #expect(ChorusCore.CloseReason.tokenExpired.label == "token_expired")
        // The expiry lives in the padding after the generation: tokens cost the block no bytes.
        #expect(MemoryLayout<ConnectionBlock>.stride <= 80)
    }
}
