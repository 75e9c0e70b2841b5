import ArgumentParser
import ChorusServer

/// `chorus token`: signs an HS256 connection token, for development and trying things out. Production
/// applications sign tokens themselves, with the same secret and claims.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print a signed HS256 connection token (for development).",
        discussion: """
            Example: chorus token --secret "$CHORUS_JWT_SECRET" --sub user-42 --channels news,user.42.* --ttl 60m
            """
    )

    @Option(help: "The HS256 secret the server was given with --jwt-secret (default: env CHORUS_JWT_SECRET).")
    var secret: String?
    @Option(help: "The client's identity (the sub claim).")
    var sub: String
    @Option(help: "Comma-separated channels or patterns the client may follow, e.g. news,user.42.* (* for all).")
    var channels: String = ""
    @Option(help: "Comma-separated channels or patterns the client may publish to (default: none).")
    var publish: String?
    @Option(help: "How long the token is valid: 500ms, 10s, 2m or a number of seconds.")
    var ttl: String = "3600"

    func run() async throws {
        guard let secret = self.secret ?? Chorus.environment()["CHORUS_JWT_SECRET"] else {
            throw ValidationError("give --secret or set CHORUS_JWT_SECRET")
        }
        let lifetime: Duration
        do {
            lifetime = try TokenSigner.lifetime(self.ttl)
        } catch {
            throw ValidationError("--ttl: \(error.description)")
        }
        print(
            try await TokenSigner.hs256(
                secret: secret,
                subject: self.sub,
                channels: Self.list(self.channels),
                publish: self.publish.map(Self.list),
                lifetime: lifetime
            )
        )
    }

    private static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { String($0) }
    }
}
