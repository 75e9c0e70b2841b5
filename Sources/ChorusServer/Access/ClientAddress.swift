import NIOCore
import NIOHTTP1

/// Who a request comes from, for the per-address connection limit.
package enum ClientAddress {
    /// The client's address: the TCP peer, unless the peer is a trusted proxy, in which case the nearest
    /// address in `X-Forwarded-For` that is not itself a trusted proxy (read from the right, since each proxy
    /// appends the address it saw and only the entries added by trusted proxies can be believed).
    ///
    /// An entry that is not an address stops the walk at the proxy that forwarded it, so a broken header
    /// cannot hand its sender someone else's identity. nil only when the peer has no IP address (a Unix
    /// socket), which the per-address limit then does not count.
    package static func resolve(
        peer: SocketAddress?,
        headers: HTTPHeaders,
        trustedProxies: [IPNetwork]
    ) -> IPAddress? {
        guard let peer, var client = IPAddress(peer) else { return nil }
        guard !trustedProxies.isEmpty, Self.isTrusted(client, trustedProxies) else { return client }
        // Several headers are one list, in order (RFC 9110, 5.3).
        let hops = headers[canonicalForm: "x-forwarded-for"]
        for hop in hops.reversed() {
            guard let address = IPAddress(hop.trimmingSpaces()) else { return client }
            client = address
            if !Self.isTrusted(address, trustedProxies) { return client }
        }
        return client
    }

    private static func isTrusted(_ address: IPAddress, _ proxies: [IPNetwork]) -> Bool {
        proxies.contains { $0.contains(address) }
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result.removeFirst() }
        while let last = result.last, last == " " || last == "\t" { result.removeLast() }
        return result
    }
}
