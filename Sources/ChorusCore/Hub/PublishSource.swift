/// Where a published message came from (a metric label later).
public enum PublishSource: Int, CaseIterable, Sendable {
    /// `POST /publish/{channel}`.
    case http
    /// `{"publish": …}` from a connected client.
    case client
    /// Another node, through the cluster bus.
    case cluster

    /// The label used in logs and metrics.
    package var label: String {
        switch self {
        case .http: "http"
        case .client: "client"
        case .cluster: "cluster"
        }
    }
}
