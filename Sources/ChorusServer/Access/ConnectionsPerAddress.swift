import NIOConcurrencyHelpers

/// Open WebSocket connections per client address, for `--max-connections-per-ip`.
///
/// A place is taken when the upgrade policy admits a connection (an `AddressPlace` in its ticket) and given back
/// when the connection is gone, like the server-wide capacity; an address with no connection left has no entry.
package final class ConnectionsPerAddress: Sendable {
    package let limit: Int
    private let counts = NIOLockedValueBox([IPAddress: Int]())

    package init(limit: Int) {
        self.limit = limit
    }

    /// True if `address` is below the limit (checked at the upgrade; `reserve` decides).
    package func hasRoom(for address: IPAddress) -> Bool {
        self.counts.withLockedValue { ($0[address] ?? 0) < self.limit }
    }

    /// Takes a place for `address`; false when it already has `limit` connections.
    package func reserve(_ address: IPAddress) -> Bool {
        self.counts.withLockedValue { counts in
            let count = counts[address] ?? 0
            guard count < self.limit else { return false }
            counts[address] = count + 1
            return true
        }
    }

    /// Gives back a place taken by `reserve`.
    package func release(_ address: IPAddress) {
        self.counts.withLockedValue { counts in
            guard let count = counts[address] else {
                preconditionFailure("connection place released for an address that holds none")
            }
            counts[address] = count > 1 ? count - 1 : nil
        }
    }

    /// Connections open from `address`.
    package func count(of address: IPAddress) -> Int {
        self.counts.withLockedValue { $0[address] ?? 0 }
    }
}
