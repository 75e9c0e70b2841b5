import ChorusCore

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
}
