import Crypto
import NIOCore
import NIOHTTP1

/// Who may `POST /publish`: the holder of one of the `--api-key`s as a bearer token, or, with no key set,
/// loopback clients.
package struct PublishAuthorizer: Sendable {
    /// SHA-256 of each key. Comparing digests of equal length hides the keys' lengths from timing too.
    private let keyDigests: [[UInt8]]
    /// Proxies whose `X-Forwarded-For` names the client: behind one, "loopback" is decided on the client it
    /// forwards for, since every request then comes from the proxy's (often loopback) address.
    private let trustedProxies: [IPNetwork]

    package init(apiKeys: [String], trustedProxies: [IPNetwork] = []) {
        self.keyDigests = apiKeys.map { Self.digest(Array($0.utf8)) }
        self.trustedProxies = trustedProxies
    }

    /// nil when the request may publish, else the rejection to send.
    package func check(_ headers: HTTPHeaders, peer: SocketAddress?) -> HTTPRejection? {
        guard !self.keyDigests.isEmpty else { return self.checkLoopback(headers, peer: peer) }
        guard let authorization = headers.first(name: "authorization") else {
            return HTTPRejection(
                .unauthorized,
                "publishing requires Authorization: Bearer <key>",
                headers: [("WWW-Authenticate", "Bearer")]
            )
        }
        let prefix = "bearer "
        guard authorization.count > prefix.count, authorization.lowercased().hasPrefix(prefix) else {
            return HTTPRejection(.unauthorized, "expected a bearer token", headers: [("WWW-Authenticate", "Bearer")])
        }
        let presented = Array(authorization.utf8.dropFirst(prefix.utf8.count))
        guard Self.matchesAny(presented, digests: self.keyDigests) else {
            return HTTPRejection(.forbidden, "invalid API key")
        }
        return nil
    }

    /// Without API keys: nil for a loopback client. Through a trusted proxy the client is the one its
    /// `X-Forwarded-For` names, and a proxied request that names none is refused: a proxy that does not forward
    /// the address would otherwise make every client of the internet look like loopback.
    private func checkLoopback(_ headers: HTTPHeaders, peer: SocketAddress?) -> HTTPRejection? {
        let refusal = HTTPRejection(.forbidden, "publishing without an API key is allowed from loopback only")
        guard let client = ClientAddress.resolve(peer: peer, headers: headers, trustedProxies: self.trustedProxies),
            client.isLoopback
        else { return refusal }
        if !headers.contains(name: "x-forwarded-for"), self.trustedProxies.contains(where: { $0.contains(client) }) {
            return HTTPRejection(
                .forbidden,
                "publishing without an API key is allowed from loopback only, and this request came through a "
                    + "trusted proxy without X-Forwarded-For"
            )
        }
        return nil
    }

    /// True if `presented` is one of the keys whose digests are given. Every key is compared, in constant time,
    /// whichever matches: neither how much of a guess was right nor which key it resembled shows in the timing.
    package static func matchesAny(_ presented: [UInt8], digests: [[UInt8]]) -> Bool {
        let presentedDigest = Self.digest(presented)
        var matched = false
        for digest in digests {
            // Non-short-circuiting on purpose: `||` would skip the comparisons after a match.
            matched = Self.constantTimeEquals(presentedDigest, digest) || matched
        }
        return matched
    }

    /// Compares without an early exit, so timing does not reveal how much of a guess was right.
    package static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: lhs.count ^ rhs.count)
        for index in 0..<max(lhs.count, rhs.count) {
            let left = index < lhs.count ? lhs[index] : 0
            let right = index < rhs.count ? rhs[index] : 0
            difference |= left ^ right
        }
        return difference == 0 && lhs.count == rhs.count
    }

    /// SHA-256 of `bytes`.
    package static func digest(_ bytes: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: bytes))
    }

}
