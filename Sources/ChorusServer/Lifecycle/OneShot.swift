import NIOConcurrencyHelpers

/// A result set once and awaited by anyone, at any time: the server's listening addresses.
///
/// Not an `EventLoopPromise`: a future's callbacks hop to its event loop, and the server shuts its loops down
/// when start-up fails, so a caller that asked for the address after that would wait forever (seen in a test
/// that starts a server with a bad key file).
final class OneShot<Value: Sendable>: Sendable {
    private struct State {
        var result: Result<Value, any Error>?
        var waiters: [CheckedContinuation<Value, any Error>] = []
    }
    private let state = NIOLockedValueBox(State())

    /// Sets the result (the first one wins) and wakes every waiter.
    func complete(_ result: Result<Value, any Error>) {
        let waiters = self.state.withLockedValue { state -> [CheckedContinuation<Value, any Error>] in
            guard state.result == nil else { return [] }
            state.result = result
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }

    /// The result, once set.
    var value: Value {
        get async throws {
            try await withCheckedThrowingContinuation { continuation in
                let result = self.state.withLockedValue { state -> Result<Value, any Error>? in
                    if let result = state.result { return result }
                    state.waiters.append(continuation)
                    return nil
                }
                if let result { continuation.resume(with: result) }
            }
        }
    }
}
