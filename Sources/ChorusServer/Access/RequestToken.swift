import NIOHTTP1

/// Where a WebSocket upgrade request carries its connection token. Browsers cannot set headers on a WebSocket
/// request, so besides `Authorization: Bearer <jwt>` Chorus accepts `?token=<jwt>` and a subprotocol: the client
/// offers `chorus` and `chorus.token.<jwt>` (`new WebSocket(url, ["chorus", "chorus.token." + jwt])`) and the
/// server selects `chorus`, never echoing the token.
package enum RequestToken {
    /// The subprotocol Chorus selects when a client offers it.
    package static let subprotocol = "chorus"
    /// The subprotocol of the `chorus.v1` wire protocol, selected before `chorus` when both are offered.
    package static let chorusV1Subprotocol = "chorus.v1"
    /// The prefix of the subprotocol that carries a token.
    package static let subprotocolPrefix = "chorus.token."

    /// The token in `head`, looked for in the `Authorization` header, then the offered subprotocols, then the
    /// query; nil when there is none. A non-bearer `Authorization` header is refused rather than skipped.
    package static func find(in head: HTTPRequestHead) throws(TokenRejection) -> Substring? {
        if let authorization = head.headers.first(name: "authorization") {
            let prefix = "bearer "
            guard authorization.count > prefix.count, authorization.prefix(prefix.count).lowercased() == prefix else {
                throw TokenRejection("expected Authorization: Bearer <token>")
            }
            return authorization.dropFirst(prefix.count)
        }
        for offered in head.headers[canonicalForm: "sec-websocket-protocol"]
        where offered.hasPrefix(Self.subprotocolPrefix) {
            return offered.dropFirst(Self.subprotocolPrefix.count)
        }
        for pair in Route.split(head.uri).query?.split(separator: "&") ?? [] where pair.hasPrefix("token=") {
            // A JWT is base64url and dots: nothing in it needs percent-decoding.
            return pair.dropFirst("token=".count)
        }
        return nil
    }

    /// The subprotocol to answer with: `chorus` when offered. Throws when the token subprotocol is offered
    /// without `chorus`, since the server may only select an offered protocol and will not echo a token.
    package static func selectedSubprotocol(in head: HTTPRequestHead) throws(HTTPRejection) -> String? {
        // Most requests offer none: skip building the list.
        guard head.headers.contains(name: "sec-websocket-protocol") else { return nil }
        let offered = head.headers[canonicalForm: "sec-websocket-protocol"]
        if offered.contains(where: { $0 == Self.chorusV1Subprotocol }) { return Self.chorusV1Subprotocol }
        if offered.contains(where: { $0 == Self.subprotocol }) { return Self.subprotocol }
        if offered.contains(where: { $0.hasPrefix(Self.subprotocolPrefix) }) {
            throw HTTPRejection(
                .badRequest,
                "offer the chorus or chorus.v1 subprotocol beside chorus.token.<jwt>",
                handshake: .badRequest
            )
        }
        return nil
    }
}
