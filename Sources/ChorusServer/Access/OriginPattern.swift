/// One `--allowed-origin` value: an exact origin (`https://app.example.com`, `http://localhost:3000`), a host
/// with any scheme (`app.example.com`), or a wildcard for subdomains (`*.example.com`, `https://*.example.com`).
///
/// Compared case-insensitively. A pattern with a port requires that port; an exact pattern without one
/// requires the origin to have none; a wildcard without one accepts any port. `*.example.com` matches
/// `a.example.com` and `a.b.example.com`, not `example.com` itself.
package struct OriginPattern: Hashable, Sendable, CustomStringConvertible {
    package let scheme: Substring?
    package let host: Substring
    package let isWildcard: Bool
    package let port: Substring?
    package let description: String

    /// nil when `text` is not such a pattern (empty host, a path, a `*` other than a leading `*.`).
    package init?(_ text: String) {
        let lowered = text.lowercased()
        var rest = Substring(lowered)
        if let separator = rest.firstRange(of: "://") {
            let scheme = rest[..<separator.lowerBound]
            guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }) else {
                return nil
            }
            self.scheme = scheme
            rest = rest[separator.upperBound...]
        } else {
            self.scheme = nil
        }
        guard let (host, port) = Self.splitHostPort(rest) else { return nil }
        if host.hasPrefix("*.") {
            self.isWildcard = true
            self.host = host.dropFirst()  // keeps the dot: ".example.com"
        } else {
            self.isWildcard = false
            self.host = host
        }
        guard !self.host.contains("*"), self.host.count > (self.isWildcard ? 1 : 0) else { return nil }
        self.port = port
        self.description = text
    }

    /// True if the `Origin` header value `origin` is allowed by this pattern.
    package func matches(_ origin: String) -> Bool {
        let lowered = origin.lowercased()
        guard let separator = lowered.firstRange(of: "://") else { return false }
        let scheme = lowered[..<separator.lowerBound]
        guard let (host, port) = Self.splitHostPort(lowered[separator.upperBound...]) else { return false }
        if let expected = self.scheme, expected != scheme { return false }
        if self.isWildcard {
            guard host.count > self.host.count, host.hasSuffix(self.host) else { return false }
            return self.port == nil || self.port == port
        }
        return host == self.host && self.port == port
    }

    /// `host[:port]` (IPv6 hosts in brackets); nil for a path, query or empty host.
    private static func splitHostPort(_ text: Substring) -> (host: Substring, port: Substring?)? {
        guard !text.isEmpty, !text.contains("/"), !text.contains("?"), !text.contains("#"), !text.contains("@")
        else { return nil }
        let portSeparator: String.Index?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let after = text[text.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else { return nil }
            portSeparator = after.isEmpty ? nil : after.startIndex
        } else {
            portSeparator = text.firstIndex(of: ":")
        }
        guard let portSeparator else { return (text, nil) }
        let port = text[text.index(after: portSeparator)...]
        guard !port.isEmpty, port.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let host = text[..<portSeparator]
        return host.isEmpty ? nil : (host, port)
    }
}
