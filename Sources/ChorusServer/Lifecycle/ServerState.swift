import ChorusCore
import NIOConcurrencyHelpers

/// State shared by every connection of one server: readiness, capacity and the counters kept outside the shards.
public final class ServerState: Sendable {
    /// The places of `--max-connections`, taken by admitted upgrades on either transport.
    package let capacity: ConnectionCapacity
    private let accepting = NIOLockedValueBox(true)
    private let rejections = NIOLockedValueBox([Int](repeating: 0, count: HandshakeRejectionReason.allCases.count))
    private let acceptFailures = NIOLockedValueBox(0)
    /// The status page's live-feed connections (`--status-page`).
    package let statusViewers = StatusViewers()

    /// - Parameter maxConnections: the server's connection limit.
    public init(maxConnections: Int = .max) {
        self.capacity = ConnectionCapacity(limit: maxConnections)
    }

    /// True until graceful shutdown begins; `/readyz` answers from it.
    package var isAccepting: Bool { self.accepting.withLockedValue { $0 } }

    /// Marks the start of graceful shutdown.
    package func stopAccepting() { self.accepting.withLockedValue { $0 = false } }

    /// Counts a refused handshake.
    package func countRejection(_ reason: HandshakeRejectionReason) {
        self.rejections.withLockedValue { $0[reason.rawValue] += 1 }
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
