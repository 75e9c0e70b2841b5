import JWTKit

/// The claims Chorus reads from a connection token. Every field is optional here so that a missing claim gets
/// its own precise 401 reason from `TokenVerifier` instead of a generic decoding failure.
package struct TokenClaims: JWTPayload, Equatable {
    /// The client's identity (logged with its connection).
    package var sub: SubjectClaim?
    /// When the token stops being accepted; required. A connection open at that moment is closed with 1008.
    package var exp: ExpirationClaim?
    /// Channels the client may follow: names or prefix patterns such as `user.42.*` (`*` for all).
    package var channels: [String]?
    /// Channels the client may publish to, with the same patterns; none when absent.
    package var publish: [String]?

    package init(sub: SubjectClaim?, exp: ExpirationClaim?, channels: [String]?, publish: [String]? = nil) {
        self.sub = sub
        self.exp = exp
        self.channels = channels
        self.publish = publish
    }

    /// Chorus checks the claims itself (`TokenVerifier.verify`), with its own reasons.
    package func verify(using algorithm: some JWTAlgorithm) async throws {}
}
