import NIOHTTP1

/// The one table of paths Chorus serves on its HTTP side.
package enum Route: Equatable, Sendable {
    /// `GET /ws/{channel}` or `GET /ws?channel=a&channel=b`: a WebSocket upgrade (only as an upgrade).
    case webSocket
    /// `GET {--echo-path}`: a WebSocket upgrade to the echo endpoint (only as an upgrade; only when configured).
    case echo
    /// `POST /publish/{channel}`.
    case publish(channel: Substring)
    /// `GET /history/{channel}?since=N&epoch=E&limit=M`.
    case history(channel: Substring)
    /// `GET /healthz`: the process runs.
    case health
    /// `GET /readyz`: accepting connections.
    case readiness
    /// `GET /metrics`: Prometheus text format.
    case metrics
    /// `GET /status`: the live status page (only with `--status-page`).
    case statusPage
    /// `GET /status/live`: the status page's feed, a WebSocket upgrade (only as an upgrade; only with `--status-page`).
    case statusFeed
    /// `GET /chorus.js`: the JavaScript client.
    case script
    /// `GET /`: a short page linking to the others (`HomePage`).
    case home
    /// Anything else.
    case notFound

    /// The path part of `uri` (before `?`) and its query (after), without decoding.
    package static func split(_ uri: String) -> (path: Substring, query: Substring?) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri[...], nil) }
        return (uri[..<mark], uri[uri.index(after: mark)...])
    }

    /// The route for `uri`; `echoPath` is the configured echo endpoint's path (nil: no echo endpoint).
    package init(uri: String, echoPath: String? = nil) {
        // The WebSocket paths are decided where the upgrade policy decides them.
        var target = uri
        switch target.withUTF8({ UpgradeTarget(UnsafeRawBufferPointer($0), echoPath: echoPath) }) {
        case .echo:
            self = .echo
            return
        case .subscriber:
            self = .webSocket
            return
        case .statusFeed:
            self = .statusFeed
            return
        case .other:
            break
        }
        let path = Self.split(uri).path
        switch path {
        case "/healthz": self = .health
        case "/readyz": self = .readiness
        case "/metrics": self = .metrics
        case "/status": self = .statusPage
        case "/chorus.js": self = .script
        case "/": self = .home
        default:
            if path.hasPrefix("/publish/") {
                self = .publish(channel: path.dropFirst("/publish/".count))
            } else if path.hasPrefix("/history/") {
                self = .history(channel: path.dropFirst("/history/".count))
            } else {
                self = .notFound
            }
        }
    }

    /// The methods this route answers (for 405 responses).
    package var allowedMethods: [HTTPMethod] {
        switch self {
        case .webSocket, .echo, .health, .readiness, .metrics, .history, .statusPage, .statusFeed, .script,
            .home:
            [.GET]
        case .publish: [.POST]
        case .notFound: []
        }
    }
}
