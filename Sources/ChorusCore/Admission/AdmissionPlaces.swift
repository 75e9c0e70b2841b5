/// A place an admitted connection holds of its own beyond the server-wide one (its client address's share under
/// `--max-connections-per-ip`).
package protocol OwnAdmissionPlace: AnyObject, Sendable {
    /// Gives the place back.
    func release()
}

/// The places an admitted connection holds until it goes: one of the server's capacity and, with a per-address
/// limit, one of its client address. Given back by `release()`, exactly once, by the transport holding them.
///
/// Without a per-address limit every connection's places are the same value (the shared capacity): a transport
/// keeps places per connection only when `own` is set, so an idle connection pays nothing for them.
package struct AdmissionPlaces: Sendable {
    package let capacity: ConnectionCapacity
    package let own: (any OwnAdmissionPlace)?

    package init(capacity: ConnectionCapacity, own: (any OwnAdmissionPlace)?) {
        self.capacity = capacity
        self.own = own
    }

    /// Gives every place back.
    package func release() {
        self.own?.release()
        self.capacity.release()
    }
}
