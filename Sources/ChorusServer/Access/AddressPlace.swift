import ChorusCore

/// A connection's place among its client address's (`--max-connections-per-ip`), held with its admission ticket.
final class AddressPlace: OwnAdmissionPlace {
    private let connections: ConnectionsPerAddress
    private let address: IPAddress

    init(connections: ConnectionsPerAddress, address: IPAddress) {
        self.connections = connections
        self.address = address
    }

    func release() {
        self.connections.release(self.address)
    }
}
