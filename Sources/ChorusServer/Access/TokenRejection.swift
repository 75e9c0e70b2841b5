/// Why a connection token was refused: a short reason for the 401 body. Never contains the token itself.
package struct TokenRejection: Error, Equatable, Sendable {
    package var reason: String

    package init(_ reason: String) {
        self.reason = reason
    }

    static let missing = TokenRejection(
        "a token is required: ?token=, Authorization: Bearer, or the chorus.token.<jwt> subprotocol"
    )
    static let malformed = TokenRejection("malformed token")
    static let unsupportedAlgorithm = TokenRejection("unsupported token algorithm")
    static let badSignature = TokenRejection("invalid token signature")
    static let missingExpiry = TokenRejection("token has no exp claim")
    static let expired = TokenRejection("token expired")
    static let missingSubject = TokenRejection("token has no sub claim")
    static let badChannels = TokenRejection("token has an invalid channels or publish claim")
}
