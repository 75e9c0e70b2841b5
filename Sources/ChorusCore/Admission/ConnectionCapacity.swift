import NIOConcurrencyHelpers
import NIOCore

/// The server's connection limit (`--max-connections`): places taken by admitted upgrades and given back when
/// their connections go, whichever transport carries them; the drain at shutdown waits for the last one.
package final class ConnectionCapacity: Sendable {
    package let limit: Int
    private let places = NIOLockedValueBox(Places())

    private struct Places {
        var taken = 0
        var whenNone: [EventLoopPromise<Void>] = []
    }

    package init(limit: Int) {
        self.limit = limit
    }

    /// Takes a place for a new connection; false when `limit` are taken.
    package func reserve() -> Bool {
        self.places.withLockedValue { places in
            guard places.taken < self.limit else { return false }
            places.taken += 1
            return true
        }
    }

    /// Gives back a place taken by `reserve`.
    package func release() {
        let waiters = self.places.withLockedValue { places in
            places.taken -= 1
            precondition(places.taken >= 0, "connection place released twice")
            defer { if places.taken == 0 { places.whenNone = [] } }
            return places.taken == 0 ? places.whenNone : []
        }
        for waiter in waiters { waiter.succeed() }
    }

    /// Places taken (connections open or being upgraded).
    package var taken: Int { self.places.withLockedValue { $0.taken } }

    /// Succeeds once no place is taken (used to wait for a drain).
    ///
    /// The caller owns `promise` and may complete it first (for example on a timeout); the later `succeed` is
    /// then ignored. Completing it also releases its callbacks, which the list would otherwise keep alive.
    package func succeedWhenNone(_ promise: EventLoopPromise<Void>) {
        let isEmpty = self.places.withLockedValue { places in
            if places.taken > 0 { places.whenNone.append(promise) }
            return places.taken == 0
        }
        if isEmpty { promise.succeed() }
    }

    /// Forgets every promise given to `succeedWhenNone`, for a caller that stopped waiting (its drain timed out):
    /// completing it when the last connection goes could happen while the event loops shut down.
    package func forgetWaiters() {
        self.places.withLockedValue { $0.whenNone = [] }
    }
}
