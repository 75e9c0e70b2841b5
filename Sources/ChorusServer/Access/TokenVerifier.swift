import ChorusCore
import JWTKit
import NIOConcurrencyHelpers

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Checks connection tokens (JWTs) with the keys from `--jwt-secret` (HS256) and `--jwt-public-key` (RS256 or
/// ES256), using jwt-kit's parser and algorithms.
///
/// The token's `alg` header picks the key, and only the algorithms of the configured keys are accepted: `none`,
/// HS512, or HS256 when only a public key is configured are refused before any signature is computed, which
/// closes the classic confusion attacks (an RS256 public key used as an HMAC secret). Verification runs
/// synchronously on the event loop that handles the upgrade: it is one HMAC or one signature check.
package struct TokenVerifier: Sendable {
    /// The configured algorithms by their JWT name (`HS256`, `RS256`, `ES256`).
    private let algorithms: [String: any JWTAlgorithm]
    private let parser = DefaultJWTParser()
    private let grants = GrantCache()

    /// Longest token accepted, in bytes; a bound on the work an unauthenticated request can cause.
    static let maxTokenBytes = 8192

    /// The verifier for `configuration`'s keys, or nil when no key is configured (tokens are off).
    package static func make(configuration: ServerConfiguration) async throws(ConfigurationError) -> TokenVerifier? {
        var keys: [JWTKeyCollection] = []
        if let secret = configuration.jwtSecret {
            keys.append(await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256))
        }
        if let path = configuration.jwtPublicKeyFile {
            switch try TokenPublicKey.load(path: path) {
            case .rsa(let key): keys.append(await JWTKeyCollection().add(rsa: key, digestAlgorithm: .sha256))
            case .ecdsa(let key): keys.append(await JWTKeyCollection().add(ecdsa: key))
            }
        }
        guard !keys.isEmpty else { return nil }
        var algorithms: [String: any JWTAlgorithm] = [:]
        for collection in keys {
            do {
                let algorithm = try await collection.getKey()
                algorithms[algorithm.name] = algorithm
            } catch {
                throw ConfigurationError("cannot use the JWT key: \(error)")
            }
        }
        return TokenVerifier(algorithms: algorithms)
    }

    private init(algorithms: [String: any JWTAlgorithm]) {
        self.algorithms = algorithms
    }

    /// The algorithms tokens may be signed with.
    package var acceptedAlgorithms: [String] { self.algorithms.keys.sorted() }

    /// Verifies `token` at `now`: structure, algorithm, signature, then the claims.
    package func verify(_ token: some StringProtocol, now: Date = Date()) throws(TokenRejection) -> VerifiedToken {
        let bytes = Array(token.utf8)
        guard bytes.count <= Self.maxTokenBytes, let lastDot = bytes.lastIndex(of: UInt8(ascii: ".")) else {
            throw .malformed
        }
        let parsed: (header: JWTHeader, payload: TokenClaims, signature: Data)
        do {
            parsed = try self.parser.parse(bytes, as: TokenClaims.self)
        } catch {
            throw .malformed
        }
        guard let name = parsed.header.alg, let algorithm = self.algorithms[name] else {
            throw .unsupportedAlgorithm
        }
        // The signing input is everything before the last dot: the encoded header and payload as sent.
        guard (try? algorithm.verify(parsed.signature, signs: bytes[..<lastDot])) == true else {
            throw .badSignature
        }
        // Only now are the claims worth reading: they come from the key holder.
        let claims = parsed.payload
        guard let expiry = claims.exp?.value else { throw .missingExpiry }
        guard now < expiry else { throw .expired }
        guard let subject = claims.sub?.value, !subject.isEmpty else { throw .missingSubject }
        let grant = try self.grants.grant(channels: claims.channels ?? [], publish: claims.publish ?? [])
        return VerifiedToken(subject: subject, expiresAt: expiry, grant: grant)
    }
}

/// Parsed permissions by their claims, so that the many connections of one kind of token share one
/// `ChannelGrant` (and one parse). Bounded: when full it starts over, which costs only sharing.
private final class GrantCache: Sendable {
    private struct Key: Hashable {
        var channels: [String]
        var publish: [String]
    }

    private static let capacity = 1024
    private let grants = NIOLockedValueBox([Key: ChannelGrant]())

    func grant(channels: [String], publish: [String]) throws(TokenRejection) -> ChannelGrant {
        let key = Key(channels: channels, publish: publish)
        if let grant = self.grants.withLockedValue({ $0[key] }) { return grant }
        var subscribePatterns: [ChannelPattern] = []
        var publishPatterns: [ChannelPattern] = []
        for text in channels {
            guard let pattern = ChannelPattern(text) else { throw .badChannels }
            subscribePatterns.append(pattern)
        }
        for text in publish {
            guard let pattern = ChannelPattern(text) else { throw .badChannels }
            publishPatterns.append(pattern)
        }
        let grant = ChannelGrant(subscribe: subscribePatterns, publish: publishPatterns)
        return self.grants.withLockedValue { grants in
            if let existing = grants[key] { return existing }
            if grants.count >= Self.capacity { grants.removeAll(keepingCapacity: true) }
            grants[key] = grant
            return grant
        }
    }
}
