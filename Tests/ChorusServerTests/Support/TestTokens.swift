import Crypto
import Foundation

/// Connection tokens built by hand, so tests control every byte: valid ones, and each way of being invalid.
enum TestTokens {
    /// The HS256 secret of `TestServer.tokenConfiguration` (32+ bytes, as the server requires).
    static let secret = "chorus-test-secret-0123456789-abcdef"

    static let hs256Header = #"{"alg":"HS256","typ":"JWT"}"#

    /// A claims object; nil leaves a claim out. `expiresIn` is seconds from now (negative: already expired).
    static func claims(
        sub: String? = "user-42",
        expiresIn: Double? = 300,
        channels: [String]? = ["news", "user.42.*"],
        publish: [String]? = nil
    ) -> String {
        var fields: [String] = []
        if let sub { fields.append(#""sub":"\#(sub)""#) }
        if let expiresIn { fields.append(#""exp":\#(Date().timeIntervalSince1970 + expiresIn)"#) }
        if let channels { fields.append(#""channels":[\#(channels.map { "\"\($0)\"" }.joined(separator: ","))]"#) }
        if let publish { fields.append(#""publish":[\#(publish.map { "\"\($0)\"" }.joined(separator: ","))]"#) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// `header.payload.signature`, signed with HMAC-SHA256 (or SHA-512) over the first two parts.
    static func signed(
        header: String = hs256Header,
        claims: String = TestTokens.claims(),
        secret: String = TestTokens.secret,
        sha512: Bool = false
    ) -> String {
        let input = base64url(Array(header.utf8)) + "." + base64url(Array(claims.utf8))
        let key = SymmetricKey(data: Array(secret.utf8))
        let signature: [UInt8] =
            sha512
            ? Array(HMAC<SHA512>.authenticationCode(for: Array(input.utf8), using: key))
            : Array(HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: key))
        return input + "." + base64url(signature)
    }

    /// An unsigned token (`alg: none`, empty signature).
    static func unsigned(claims: String = TestTokens.claims()) -> String {
        base64url(Array(#"{"alg":"none","typ":"JWT"}"#.utf8)) + "." + base64url(Array(claims.utf8)) + "."
    }

    static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
