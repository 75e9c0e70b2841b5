import ChorusCore
import NIOConcurrencyHelpers

/// State shared by every connection of one server: readiness, capacity and the counters kept outside the shards.
public final class ServerState: Sendable {
    /// The places of `--max-connections`, taken by admitted upgrades on either transport.
    package let capacity: ConnectionCapacity
    /// The memory and upgrade-rate gate, nil when neither `--max-upgrades-per-second` nor a memory limit is set.
    package let gate: AdmissionGate?
    /// Memory-aware admission, nil when no memory limit is known.
    package let memory: MemoryAdmission?
    private let accepting = NIOLockedValueBox(true)
    private let rejections = NIOLockedValueBox([Int](repeating: 0, count: HandshakeRejectionReason.allCases.count))
    /// Plain GETs of WebSocket paths (`UpgradePolicy.probe`), by the refusal they were told (the last: none).
    private let probes = NIOLockedValueBox([Int](repeating: 0, count: HandshakeRejectionReason.allCases.count + 1))
    private let acceptFailures = NIOLockedValueBox(0)
    /// The status page's live-feed connections (`--status-page`).
    package let statusViewers = StatusViewers()

    /// - Parameter maxConnections: the server's connection limit.
    public convenience init(maxConnections: Int = .max) {
        self.init(maxConnections: maxConnections, maxUpgradesPerSecond: nil, memoryLimit: nil)
    }

    /// - Parameters:
    ///   - maxUpgradesPerSecond: `--max-upgrades-per-second`, nil for none.
    ///   - memoryLimit: the memory limit in force (`MemoryLimit.discover`), nil for none.
    package init(
        maxConnections: Int,
        maxUpgradesPerSecond: Int?,
        memoryLimit: MemoryLimit?,
        memoryHighWatermark: Int = 85,
        memoryLowWatermark: Int = 75
    ) {
        self.capacity = ConnectionCapacity(limit: maxConnections)
        let gate =
            maxUpgradesPerSecond == nil && memoryLimit == nil
            ? nil : AdmissionGate(maxUpgradesPerSecond: maxUpgradesPerSecond)
        self.gate = gate
        self.memory = memoryLimit.map { limit in
            MemoryAdmission(limit: limit, highPercent: memoryHighWatermark, lowPercent: memoryLowWatermark, gate: gate!)
        }
    }

    /// True until graceful shutdown begins; `/readyz` answers from it.
    package var isAccepting: Bool { self.accepting.withLockedValue { $0 } }

    /// Marks the start of graceful shutdown.
    package func stopAccepting() { self.accepting.withLockedValue { $0 = false } }

    /// Counts a refused handshake.
    package func countRejection(_ reason: HandshakeRejectionReason) {
        self.rejections.withLockedValue { $0[reason.rawValue] += 1 }
    }

    /// Counts a plain GET of a WebSocket path and the refusal it was told (nil: none, it got 426).
    package func countProbe(_ reason: HandshakeRejectionReason?) {
        self.probes.withLockedValue { $0[reason?.rawValue ?? HandshakeRejectionReason.allCases.count] += 1 }
    }

    /// Probes told `reason` (nil: none).
    package func probes(_ reason: HandshakeRejectionReason?) -> Int {
        self.probes.withLockedValue { $0[reason?.rawValue ?? HandshakeRejectionReason.allCases.count] }
    }

    /// Counts an accept that failed for lack of descriptors or memory (the epoll transport pauses and retries).
    package func countAcceptFailure() {
        self.acceptFailures.withLockedValue { $0 += 1 }
    }

    /// Accepts that failed (see `countAcceptFailure`).
    package var acceptFailureCount: Int { self.acceptFailures.withLockedValue { $0 } }

    /// Refused handshakes for `reason`.
    package func rejections(_ reason: HandshakeRejectionReason) -> Int {
        self.rejections.withLockedValue { $0[reason.rawValue] }
    }
}
