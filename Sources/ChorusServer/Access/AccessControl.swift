import Logging

/// Everything `UpgradePolicy` needs to decide who may connect, built once at start-up from the configuration:
/// the token verifier, the allowed origins, the per-address counts and the trusted proxies.
package struct AccessControl: Sendable {
    /// nil when tokens are off (no `--jwt-secret` and no `--jwt-public-key`).
    package var tokens: TokenVerifier?
    /// `--allowed-origin`; allows every origin when empty.
    package var origins: OriginPolicy
    /// Open connections per client address; nil when `--max-connections-per-ip` is off.
    package var perAddress: ConnectionsPerAddress?
    /// `--trusted-proxy`: peers whose `X-Forwarded-For` is believed.
    package var trustedProxies: [IPNetwork]
    /// Where accepted tokens are logged (at debug, with their `sub`; never the token).
    package var logger: Logger

    package init(
        tokens: TokenVerifier? = nil,
        origins: OriginPolicy = OriginPolicy([]),
        perAddress: ConnectionsPerAddress? = nil,
        trustedProxies: [IPNetwork] = [],
        logger: Logger = Logger(label: "chorus.access")
    ) {
        self.tokens = tokens
        self.origins = origins
        self.perAddress = perAddress
        self.trustedProxies = trustedProxies
        self.logger = logger
    }

    /// The access control `configuration` asks for. Throws when a key cannot be loaded.
    package static func make(
        configuration: ServerConfiguration,
        logger: Logger
    ) async throws(ConfigurationError) -> AccessControl {
        AccessControl(
            tokens: try await TokenVerifier.make(configuration: configuration),
            origins: OriginPolicy(configuration.allowedOrigins),
            perAddress: configuration.maxConnectionsPerIP.map { ConnectionsPerAddress(limit: $0) },
            trustedProxies: configuration.trustedProxies,
            logger: logger
        )
    }
}
