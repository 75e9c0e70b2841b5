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
        /// `--max-upgrades-per-second` upgrades were admitted in the last second; `retryAfter` is the client's
        /// turn (see `AdmissionGate.admit`).
        case rate(retryAfter: Int)

        /// The `Retry-After` seconds a refused client is told. Memory comes back as connections close, and by 5 s a
        /// load balancer polling `/readyz` has usually taken the server out of rotation, so the retry lands
        /// elsewhere: drawn at random from 5–15 s, so that clients refused together do not come back together.
        package var retryAfterSeconds: Int {
            switch self {
            case .rate(let retryAfter): retryAfter
            case .memory: Int.random(in: 5...15)
            }
        }
    }

    /// The longest turn a rate refusal hands out; a client told this comes back and is given a new turn.
    package static let maxRetryAfterSeconds = 60

    private struct State {
        var memoryAdmits = true
        var bucket: TokenBucket?
        /// The next free retry turn (uptime nanoseconds): refused clients are given turns one token's refill apart,
        /// so that they come back at the rate the bucket admits instead of all at once or at random.
        var nextTurn: UInt64 = 0
    }

    private let state: NIOLockedValueBox<State>

    /// - Parameter maxUpgradesPerSecond: the bucket's rate, nil for no rate limit.
    package init(maxUpgradesPerSecond: Int?, now: NIODeadline = .now()) {
        let bucket = maxUpgradesPerSecond.map { TokenBucket(rate: $0, now: now.uptimeNanoseconds) }
        self.state = NIOLockedValueBox(State(bucket: bucket))
    }

    /// Admits one upgrade (taking a token when rate-limited), or says why not. A memory refusal takes no token.
    ///
    /// A rate refusal gives the client a turn: the first free one at least a second away, the next refused client
    /// the one after it (a token's refill later). 18,000 clients reconnecting at once against 5,000 per second are
    /// told 1, 1, …, 2, 2, …, 3 s, and come back at about the rate they can be admitted.
    package func admit(now: NIODeadline = .now()) -> Refusal? {
        self.state.withLockedValue { state in
            guard state.memoryAdmits else { return .memory }
            guard var bucket = state.bucket else { return nil }
            defer { state.bucket = bucket }
            if bucket.take(now: now.uptimeNanoseconds) { return nil }
            let turn = Self.turn(&state, bucket: bucket, now: now.uptimeNanoseconds)
            state.nextTurn = turn + bucket.tokenNanoseconds
            return .rate(retryAfter: Self.seconds(until: turn, from: now.uptimeNanoseconds))
        }
    }

    /// What `admit` would answer now, taking nothing (for the plain-GET probe of a refused client): a rate refusal
    /// names the next free turn without taking it.
    package func peek(now: NIODeadline = .now()) -> Refusal? {
        self.state.withLockedValue { state in
            guard state.memoryAdmits else { return .memory }
            guard let bucket = state.bucket, !bucket.hasToken(now: now.uptimeNanoseconds) else { return nil }
            let turn = Self.turn(&state, bucket: bucket, now: now.uptimeNanoseconds)
            return .rate(retryAfter: Self.seconds(until: turn, from: now.uptimeNanoseconds))
        }
    }

    private static let second: UInt64 = 1_000_000_000

    /// The first free turn at least a second from `now`, and no further than the longest turn.
    private static func turn(_ state: inout State, bucket: TokenBucket, now: UInt64) -> UInt64 {
        let latest = now + UInt64(Self.maxRetryAfterSeconds) * Self.second
        return min(latest, max(now + Self.second, state.nextTurn))
    }

    /// Whole seconds from `now` to `turn` (`Retry-After` has no fractions), rounded down: the clients told N come
    /// back together at N s, when the bucket has refilled N seconds' worth for them.
    private static func seconds(until turn: UInt64, from now: UInt64) -> Int {
        max(1, Int((turn - now) / Self.second))
    }

    /// Whether memory use lets upgrades in (true until a memory sample says otherwise).
    package var memoryAdmits: Bool {
        get { self.state.withLockedValue { $0.memoryAdmits } }
        set { self.state.withLockedValue { $0.memoryAdmits = newValue } }
    }
}
