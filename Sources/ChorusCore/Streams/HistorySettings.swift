import NIOCore

/// How much of each channel's stream is kept for recovery (`--history-size`, `--history-ttl`,
/// `--history-max-bytes`, `--recovery-max-messages`).
public struct HistorySettings: Sendable, Equatable {
    /// Messages kept per channel; 0 keeps none (offsets and epochs are still assigned).
    package var size = 0
    /// How long a channel's history is kept after its last publish.
    package var ttl: TimeAmount = .minutes(5)
    /// All channels' history and stream state together, in bytes; the least recently published channels go first
    /// (and their epoch changes).
    package var maxBytes = 64 * 1024 * 1024
    /// A recovery that would replay more messages than this answers `recovered:false` instead.
    package var recoveryMaxMessages = 300
    /// How long a channel's offset and epoch are kept after its last publish when its history is gone (its state is
    /// a few dozen bytes; the byte budget bounds them too).
    package var streamTTL: TimeAmount = .hours(24)

    public init() {}

    /// Whether any history is kept.
    package var isOn: Bool { self.size > 0 }
}
