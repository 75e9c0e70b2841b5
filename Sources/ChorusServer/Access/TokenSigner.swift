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
    /// `exp` is a whole second (rounded up): JWT allows a fractional NumericDate, but many verifiers do not.
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
            exp: ExpirationClaim(value: Date(timeIntervalSince1970: (now.timeIntervalSince1970 + seconds).rounded(.up))),
            channels: channels,
            publish: publish
        )
        let keys = await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(claims)
    }

    /// A lifetime written like the server's durations: `500ms`, `10s`, `2m` or seconds; it must be positive (a
    /// token that is expired when it is printed helps nobody).
    package static func lifetime(_ text: String) throws(ConfigurationError) -> Duration {
        let nanoseconds = try ServerConfiguration.duration(text).nanoseconds
        guard nanoseconds > 0 else { throw ConfigurationError("the lifetime must be positive, got '\(text)'") }
        return .nanoseconds(nanoseconds)
    }
}
