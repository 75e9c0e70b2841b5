import JWTKit
import NIOCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Signs HS256 connection tokens: for `chorus token` (development) and tests. Applications sign their own
/// tokens with any JWT library; the claims are in `TokenClaims`.
package enum TokenSigner {
    /// A token for `subject`, valid for `lifetime` from `now`, allowing `channels` and publishing to `publish`.
    package static func hs256(
        secret: String,
        subject: String,
        channels: [String],
        publish: [String]? = nil,
        lifetime: Duration,
        now: Date = Date()
    ) async throws -> String {
        let seconds = Double(lifetime.components.seconds) + Double(lifetime.components.attoseconds) / 1e18
        let claims = TokenClaims(
            sub: SubjectClaim(value: subject),
            exp: ExpirationClaim(value: now.addingTimeInterval(seconds)),
            channels: channels,
            publish: publish
        )
        let keys = await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(claims)
    }

    /// A lifetime written like the server's durations: `500ms`, `10s`, `2m` or seconds.
    package static func lifetime(_ text: String) throws(ConfigurationError) -> Duration {
        .nanoseconds(try ServerConfiguration.duration(text).nanoseconds)
    }
}
