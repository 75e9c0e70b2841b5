/// A block of addresses in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`; a bare address is a block of one).
///
/// Used for `--trusted-proxy`: only peers inside these blocks may say who the client is (`X-Forwarded-For`).
package struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    package let address: IPAddress
    /// Leading bits that must match, counted in the 128-bit form (an IPv4 `/8` is 104 here).
    package let prefixLength: Int

    /// Parses `address/prefix` or a bare address; the address bits past the prefix must be zero, so a typo
    /// such as `10.0.0.1/8` is refused rather than silently widened. nil when invalid.
    package init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        let maximum = address.isIPv4 ? 32 : 128
        var length = maximum
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                let value = Int(parts[1]), value <= maximum
            else { return nil }
            length = value
        }
        self.prefixLength = length + (128 - maximum)
        guard address.masked(to: self.prefixLength) == address else { return nil }
        self.address = address
    }

    /// True if `address` lies in this block.
    package func contains(_ address: IPAddress) -> Bool {
        address.masked(to: self.prefixLength) == self.address
    }

    package var description: String {
        let length = self.address.isIPv4 && self.prefixLength >= 96 ? self.prefixLength - 96 : self.prefixLength
        return "\(self.address)/\(length)"
    }
}

extension IPAddress {
    /// The address with every bit after the first `bits` cleared.
    fileprivate func masked(to bits: Int) -> IPAddress {
        func mask(_ bits: Int) -> UInt64 {
            bits <= 0 ? 0 : bits >= 64 ? .max : ~(UInt64.max >> UInt64(bits))
        }
        return IPAddress(high: self.high & mask(bits), low: self.low & mask(bits - 64))
    }
}
