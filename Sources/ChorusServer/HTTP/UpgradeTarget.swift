/// Which WebSocket endpoint a request target's path names, the echo path first: read from the target's bytes, so
/// the epoll transport's upgrade decides without a `String`. `Route` decides its WebSocket routes by it too.
package enum UpgradeTarget {
    case subscriber
    case echo
    /// The status page's live feed (`/status/live`; served only with `--status-page`).
    case statusFeed
    /// No WebSocket endpoint (404).
    case other

    package init(_ target: UnsafeRawBufferPointer, echoPath: String?) {
        let path = target[..<(target.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex)]
        if let echoPath, path.elementsEqual(echoPath.utf8) {
            self = .echo
        } else if path.elementsEqual("/ws".utf8) || path.starts(with: "/ws/".utf8) {
            self = .subscriber
        } else if path.elementsEqual(Self.statusFeedPath.utf8) {
            self = .statusFeed
        } else {
            self = .other
        }
    }

    /// The live feed's path.
    package static let statusFeedPath = "/status/live"
}
