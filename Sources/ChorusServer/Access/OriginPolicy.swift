/// The `--allowed-origin` list: which browser origins may open WebSocket connections.
package struct OriginPolicy: Sendable {
    package let patterns: [OriginPattern]

    package init(_ patterns: [OriginPattern]) {
        self.patterns = patterns
    }

    /// True if an upgrade with this `Origin` header (nil: none) may proceed. Without patterns every origin is
    /// allowed. A request without `Origin` does not come from a browser page, which is what the check protects
    /// (cross-site WebSocket hijacking); other clients can send any `Origin` they like, so it is let through.
    package func allows(_ origin: String?) -> Bool {
        guard !self.patterns.isEmpty, let origin else { return true }
        return self.patterns.contains { $0.matches(origin) }
    }
}
