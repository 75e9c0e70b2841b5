import NIOHTTP1

/// Who may scrape `/metrics`: with `--metrics-token`, only a request whose `Authorization` is exactly
/// `Bearer <token>`; without one, anybody who reaches the listener.
package struct MetricsAuthorizer: Sendable {
    /// The whole expected header value, or nil when no token is set.
    private let expected: [UInt8]?

    package init(token: String?) {
        self.expected = token.map { Array("Bearer \($0)".utf8) }
    }

    /// nil when the request may scrape, else the rejection to send: 401 without credentials, 403 with wrong ones.
    package func check(_ headers: HTTPHeaders) -> HTTPRejection? {
        guard let expected = self.expected else { return nil }
        let presented = Array((headers.first(name: "authorization") ?? "").utf8)
        // Constant time, so that timing does not reveal how much of a guess was right.
        guard !PublishAuthorizer.constantTimeEquals(presented, expected) else { return nil }
        return HTTPRejection(
            presented.isEmpty ? .unauthorized : .forbidden,
            "metrics require Authorization: Bearer <token>",
            headers: [("WWW-Authenticate", "Bearer")]
        )
    }
}
