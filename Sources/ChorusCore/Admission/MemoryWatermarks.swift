/// When memory use closes and reopens admission (`--memory-high-watermark`, `--memory-low-watermark`): closed at
/// or above the high watermark, open again only below the low one. The gap between them (hysteresis) keeps a
/// server hovering around one line from flapping its readiness with every sample.
package struct MemoryWatermarks: Sendable, Equatable {
    /// The memory limit the percentages apply to, in bytes.
    package let limitBytes: Int
    /// Use at or above this closes admission.
    package let highBytes: Int
    /// Use below this reopens it.
    package let lowBytes: Int

    /// - Parameters:
    ///   - highPercent: percent of `limitBytes` that closes admission (1...100).
    ///   - lowPercent: percent below which it reopens (below `highPercent`).
    package init(limitBytes: Int, highPercent: Int, lowPercent: Int) {
        precondition(limitBytes > 0 && 0 < lowPercent && lowPercent < highPercent && highPercent <= 100)
        self.limitBytes = limitBytes
        self.highBytes = Int((Double(limitBytes) * Double(highPercent) / 100).rounded(.up))
        self.lowBytes = Int((Double(limitBytes) * Double(lowPercent) / 100).rounded(.up))
    }

    /// Whether upgrades are admitted once `usedBytes` has been sampled, given whether they were admitted before.
    package func admits(usedBytes: Int, wasAdmitting: Bool) -> Bool {
        wasAdmitting ? usedBytes < self.highBytes : usedBytes < self.lowBytes
    }
}
