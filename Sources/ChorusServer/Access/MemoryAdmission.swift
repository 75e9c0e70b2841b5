import ChorusCore
import NIOConcurrencyHelpers

/// Memory-aware admission: sampled on a timer (`sample()`, every `--memory-sample-interval`), never per request.
/// Over the high watermark it closes the `AdmissionGate` (new upgrades get 503) and `/readyz` answers 503; below
/// the low watermark it opens them again. Open connections are never closed for it.
package final class MemoryAdmission: Sendable {
    package let limit: MemoryLimit
    package let watermarks: MemoryWatermarks
    private let gate: AdmissionGate
    private let last = NIOLockedValueBox(Reading(usedBytes: 0, admits: true))

    /// The latest sample.
    package struct Reading: Sendable, Equatable {
        /// The memory use compared against the limit, in bytes.
        package var usedBytes: Int
        /// Whether upgrades are admitted after it.
        package var admits: Bool
    }

    package init(limit: MemoryLimit, highPercent: Int, lowPercent: Int, gate: AdmissionGate) {
        self.limit = limit
        self.watermarks = MemoryWatermarks(limitBytes: limit.bytes, highPercent: highPercent, lowPercent: lowPercent)
        self.gate = gate
    }

    /// Reads memory use, opens or closes the gate, and returns the new reading when admission changed (for the
    /// log), else nil. An unreadable figure changes nothing.
    package func sample() -> Reading? {
        guard let used = self.limit.usedBytes() else { return nil }
        return self.last.withLockedValue { last in
            let admits = self.watermarks.admits(usedBytes: used, wasAdmitting: last.admits)
            let changed = admits != last.admits
            last = Reading(usedBytes: used, admits: admits)
            if changed { self.gate.memoryAdmits = admits }
            return changed ? last : nil
        }
    }

    /// The latest reading (for `/metrics` and `/readyz`).
    package var reading: Reading { self.last.withLockedValue { $0 } }
}
