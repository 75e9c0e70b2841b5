import NIOConcurrencyHelpers
import NIOCore

/// The server-wide gate every upgrade passes before its access checks, whichever transport carries it: closed
/// while memory use is over the high watermark (set by the server's periodic memory sample, never measured per
/// request), and past `--max-upgrades-per-second` (a token bucket).
///
/// One small lock guards the flag and the bucket together: an upgrade takes it once, allocates nothing, and holds
/// it for a comparison and a subtraction. A server with neither feature configured has no gate at all.
package final class AdmissionGate: Sendable {
    /// Why the gate refused an upgrade.
    package enum Refusal: Sendable, Equatable {
        /// Memory use is over the high watermark and has not yet come back under the low one.
        case memory
        /// `--max-upgrades-per-second` upgrades were admitted in the last second.
        case rate

        /// The `Retry-After` seconds a refused client is told, drawn at random from this range so that the
        /// clients refused together come back spread over a window rather than together again. A rate refusal
        /// clears in a second; memory comes back as connections close, and by 5 s a load balancer polling
        /// `/readyz` has usually taken the server out of rotation, so the retry lands elsewhere.
        package var retryAfterSeconds: ClosedRange<Int> {
            switch self {
            case .rate: 1...5
            case .memory: 5...15
            }
        }
    }

    private struct State {
        var memoryAdmits = true
        var bucket: TokenBucket?
    }

    private let state: NIOLockedValueBox<State>

    /// - Parameter maxUpgradesPerSecond: the bucket's rate, nil for no rate limit.
    package init(maxUpgradesPerSecond: Int?, now: NIODeadline = .now()) {
        let bucket = maxUpgradesPerSecond.map { TokenBucket(rate: $0, now: now.uptimeNanoseconds) }
        self.state = NIOLockedValueBox(State(bucket: bucket))
    }

    /// Admits one upgrade (taking a token when rate-limited), or says why not. A memory refusal takes no token.
    package func admit(now: NIODeadline = .now()) -> Refusal? {
        self.state.withLockedValue { state in
            guard state.memoryAdmits else { return .memory }
            guard state.bucket?.take(now: now.uptimeNanoseconds) ?? true else { return .rate }
            return nil
        }
    }

    /// What `admit` would answer now, taking nothing (for the plain-GET probe of a refused client).
    package func peek(now: NIODeadline = .now()) -> Refusal? {
        self.state.withLockedValue { state in
            guard state.memoryAdmits else { return .memory }
            guard state.bucket?.hasToken(now: now.uptimeNanoseconds) ?? true else { return .rate }
            return nil
        }
    }

    /// Whether memory use lets upgrades in (true until a memory sample says otherwise).
    package var memoryAdmits: Bool {
        get { self.state.withLockedValue { $0.memoryAdmits } }
        set { self.state.withLockedValue { $0.memoryAdmits = newValue } }
    }
}
