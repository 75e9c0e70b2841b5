import JWTKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The key of `--jwt-public-key`: an RSA (RS256) or P-256 (ES256) public key in PEM form.
package enum TokenPublicKey: Sendable {
    case rsa(Insecure.RSA.PublicKey)
    case ecdsa(ES256PublicKey)

    /// Reads and parses the PEM file at `path`. The error names the file, never its contents.
    package static func load(path: String) throws(ConfigurationError) -> TokenPublicKey {
        let pem: String
        do {
            pem = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
        } catch {
            throw ConfigurationError("cannot read the public key file '\(path)'")
        }
        return try Self.parse(pem: pem, path: path)
    }

    /// Parses PEM text: an RSA key first, then a P-256 key.
    package static func parse(pem: String, path: String = "PEM") throws(ConfigurationError) -> TokenPublicKey {
        if let key = try? Insecure.RSA.PublicKey(pem: pem) { return .rsa(key) }
        if let key = try? ES256PublicKey(pem: pem) { return .ecdsa(key) }
        throw ConfigurationError("'\(path)' holds no RSA or P-256 (ES256) public key in PEM form")
    }
}
