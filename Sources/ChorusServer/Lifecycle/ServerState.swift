import NIOConcurrencyHelpers

/// State shared by every connection of one server: readiness and the counters kept outside the shards.
public final class ServerState: Sendable {
    private let accepting = NIOLockedValueBox(true)
    private let rejections = NIOLockedValueBox([Int](repeating: 0, count: HandshakeRejectionReason.allCases.count))
    private let acceptFailures = NIOLockedValueBox(0)

    public init() {}

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
