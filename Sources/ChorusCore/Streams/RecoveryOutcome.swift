/// How a subscription's request to recover from an offset ended (the `chorus_recoveries_total` label).
package enum RecoveryOutcome: Int, CaseIterable, Sendable {
    /// The missed messages were replayed (possibly none).
    case recovered
    /// The client's epoch is not the stream's: history was lost meanwhile.
    case epochMismatch
    /// The history no longer holds the message after the client's offset.
    case tooOld
    /// More than `--recovery-max-messages` would have been replayed.
    case tooMany
    /// History is off (`--history-size 0`).
    case disabled

    /// The metric label.
    package var label: String {
        switch self {
        case .recovered: "recovered"
        case .epochMismatch: "epoch_mismatch"
        case .tooOld: "too_old"
        case .tooMany: "too_many"
        case .disabled: "disabled"
        }
    }
}
