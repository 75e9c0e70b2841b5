/// A token bucket for `--max-upgrades-per-second`: holds at most one second's worth of tokens and refills
/// continuously, so a burst of `rate` upgrades passes at once and a steady stream passes at `rate` per second.
///
/// Time is given in nanoseconds of a monotonic clock; tokens are kept in nanoseconds of refill time (one token is
/// `1e9 / rate` ns), so the arithmetic is exact integers and a refill never loses a fraction.
package struct TokenBucket: Sendable, Equatable {
    /// Tokens added per second, and the most the bucket holds.
    package let rate: Int
    /// The refill time of one token, in nanoseconds.
    package let tokenNanoseconds: UInt64
    /// What the bucket holds, in nanoseconds of refill time (at most one second).
    private var filled: UInt64
    /// When `filled` was last brought up to date.
    private var updated: UInt64

    /// A full bucket at `now`.
    package init(rate: Int, now: UInt64) {
        precondition(rate > 0, "a token bucket needs a positive rate")
        self.rate = rate
        self.tokenNanoseconds = max(1, 1_000_000_000 / UInt64(rate))
        self.filled = Self.capacity
        self.updated = now
    }

    /// One second of refill time: `rate` tokens.
    private static let capacity: UInt64 = 1_000_000_000

    /// Takes a token if one is there at `now`; false leaves the bucket as it was.
    package mutating func take(now: UInt64) -> Bool {
        self.refill(now: now)
        guard self.filled >= self.tokenNanoseconds else { return false }
        self.filled -= self.tokenNanoseconds
        return true
    }

    /// Whether `take` would succeed at `now`, without taking anything.
    package func hasToken(now: UInt64) -> Bool {
        var copy = self
        copy.refill(now: now)
        return copy.filled >= copy.tokenNanoseconds
    }

    private mutating func refill(now: UInt64) {
        // A clock read on another thread may lag the last update by a little: never go backwards.
        guard now > self.updated else { return }
        self.filled = min(Self.capacity, self.filled + (now - self.updated))
        self.updated = now
    }
}
