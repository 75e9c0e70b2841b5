/// Where a published message came from: the `source` label of `chorus_messages_published_total` and
/// `chorus_publishes_overloaded_total`.
public enum PublishSource: Int, CaseIterable, Sendable {
    /// `POST /publish/{channel}`.
    case http
    /// `{"publish": …}` from a connected client.
    case client
    /// Another node, through the cluster bus.
    case cluster
    /// Chorus itself: the status page's report on its system channel, once a second while watched.
    case system

    /// The label used in logs and metrics.
    package var label: String {
        switch self {
        case .http: "http"
        case .client: "client"
        case .cluster: "cluster"
        case .system: "system"
        }
    }
}
