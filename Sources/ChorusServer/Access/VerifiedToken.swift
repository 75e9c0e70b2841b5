import ChorusCore
import NIOCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A connection token that passed `TokenVerifier`: who it names, until when, and what it allows.
package struct VerifiedToken: Sendable {
    /// The `sub` claim.
    package var subject: String
    /// The `exp` claim.
    package var expiresAt: Date
    /// The `channels` and `publish` claims, parsed; shared with other tokens of the same claims.
    package var grant: ChannelGrant

    /// When the connection it opened must close, on the loop's clock: `exp` from now, clamped to
    /// [now, now + 10^9 s] so that a distant or past `exp` still gives a valid deadline.
    package var expiryDeadline: NIODeadline {
        let remaining = self.expiresAt.timeIntervalSinceNow
        return .now() + .nanoseconds(Int64(max(0, min(remaining, 1e9)) * 1e9))
    }
}
