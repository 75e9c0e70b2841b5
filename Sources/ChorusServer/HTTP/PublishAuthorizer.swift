import Crypto
import NIOCore
import NIOHTTP1

/// Who may `POST /publish`: the holder of one of the `--api-key`s as a bearer token, or, with no key set,
/// loopback peers.
package struct PublishAuthorizer: Sendable {
    /// SHA-256 of each key. Comparing digests of equal length hides the keys' lengths from timing too.
    private let keyDigests: [[UInt8]]

    package init(apiKeys: [String]) {
        self.keyDigests = apiKeys.map { Self.digest(Array($0.utf8)) }
    }

    /// nil when the request may publish, else the rejection to send.
    package func check(_ headers: HTTPHeaders, peer: SocketAddress?) -> HTTPRejection? {
        guard !self.keyDigests.isEmpty else {
            guard let peer, Self.isLoopback(peer) else {
                return HTTPRejection(.forbidden, "publishing without an API key is allowed from loopback only")
            }
            return nil
        }
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

    /// 127.0.0.0/8, ::1 and IPv4-mapped loopback.
    package static func isLoopback(_ address: SocketAddress) -> Bool {
        guard let ip = address.ipAddress else { return false }
        return ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
    }
}
