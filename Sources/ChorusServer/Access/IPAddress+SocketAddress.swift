import NIOCore

extension IPAddress {
    /// A socket peer's address, read from its bytes: no text in between, so deciding who a request comes from
    /// allocates nothing (it runs for every publish). nil for a Unix socket.
    ///
    /// The offsets are POSIX's, on Linux and the BSDs alike: `sin_addr` at 4 in `sockaddr_in`, `sin6_addr` at 8
    /// in `sockaddr_in6`, both in network byte order.
    package init?(_ address: SocketAddress) {
        switch address {
        case .v4:
            let v4 = address.withSockAddr { pointer, _ in
                UnsafeRawPointer(pointer).loadUnaligned(fromByteOffset: 4, as: UInt32.self)
            }
            self.init(high: 0, low: 0xFFFF_0000_0000 | UInt64(UInt32(bigEndian: v4)))
        case .v6:
            let (high, low) = address.withSockAddr { pointer, _ in
                let raw = UnsafeRawPointer(pointer)
                return (
                    UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                    UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
                )
            }
            self.init(high: high, low: low)
        case .unixDomainSocket:
            return nil
        }
    }
}
