/// Why `chorus.v1` subscribers of a channel were told to resynchronise (the `chorus_resyncs_total` label).
package enum ResyncReason: Int, CaseIterable, Sendable {
    /// Offsets were skipped: messages published in the cluster never reached this node (its Redis subscription was
    /// not back yet, or not yet made).
    case gap
    /// The cluster's stream started a new epoch (Redis lost the channel's state).
    case newEpoch

    package var label: String {
        switch self {
        case .gap: "gap"
        case .newEpoch: "epoch"
        }
    }
}
