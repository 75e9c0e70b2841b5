/// An IPv4 or IPv6 address as a 128-bit number, parsed without the C library and compared without allocating.
///
/// IPv4 addresses are kept in their IPv4-mapped IPv6 form (`::ffff:a.b.c.d`), so a peer reported either way
/// by the socket counts as the same client and matches the same networks.
package struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The upper and lower 64 bits, in network order.
    package var high: UInt64
    package var low: UInt64

    package init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// True for IPv4 (and IPv4-mapped IPv6) addresses.
    package var isIPv4: Bool { self.high == 0 && self.low >> 32 == 0xFFFF }

    /// 127.0.0.0/8 (also IPv4-mapped) or ::1.
    package var isLoopback: Bool {
        (self.isIPv4 && (self.low >> 24) & 0xFF == 127) || (self.high == 0 && self.low == 1)
    }

    /// Parses dotted IPv4 (`192.0.2.1`) or IPv6 text (`2001:db8::1`, `::ffff:192.0.2.1`); a zone (`%eth0`) is
    /// ignored. nil for anything else.
    package init?(_ text: some StringProtocol) {
        var text = Substring(text)
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }
        if !text.contains(":") {
            guard let v4 = Self.parseIPv4(text) else { return nil }
            self.init(high: 0, low: 0xFFFF_0000_0000 | UInt64(v4))
            return
        }
        guard let groups = Self.parseIPv6(text) else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<4 { high = high << 16 | UInt64(groups[index]) }
        for index in 4..<8 { low = low << 16 | UInt64(groups[index]) }
        self.init(high: high, low: low)
    }

    /// Four decimal octets without leading zeros (which some parsers read as octal).
    private static func parseIPv4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                part == "0" || !part.hasPrefix("0"), let octet = UInt32(part), octet <= 255
            else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    /// Eight 16-bit groups; `::` stands for one or more zero groups; the last 32 bits may be dotted IPv4.
    private static func parseIPv6(_ text: Substring) -> [UInt16]? {
        let halves = text.split(separator: "::", maxSplits: 1, omittingEmptySubsequences: false)
        guard halves.count <= 2, !halves.contains(where: { $0.contains("::") }) else { return nil }
        func groups(_ part: Substring, allowIPv4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, field) in fields.enumerated() {
                if allowIPv4Tail, index == fields.count - 1, field.contains(".") {
                    guard let v4 = parseIPv4(field) else { return nil }
                    result.append(UInt16(v4 >> 16))
                    result.append(UInt16(v4 & 0xFFFF))
                } else {
                    guard (1...4).contains(field.count), let group = UInt16(field, radix: 16) else { return nil }
                    result.append(group)
                }
            }
            return result
        }
        if halves.count == 1 {
            guard let all = groups(halves[0], allowIPv4Tail: true), all.count == 8 else { return nil }
            return all
        }
        guard let head = groups(halves[0], allowIPv4Tail: false),
            let tail = groups(halves[1], allowIPv4Tail: true),
            head.count + tail.count <= 7
        else { return nil }
        return head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
    }

    package var description: String {
        if self.isIPv4 {
            let v4 = UInt32(truncatingIfNeeded: self.low)
            return "\(v4 >> 24).\(v4 >> 16 & 0xFF).\(v4 >> 8 & 0xFF).\(v4 & 0xFF)"
        }
        var groups: [String] = []
        for half in [self.high, self.low] {
            for shift in stride(from: 48, through: 0, by: -16) {
                groups.append(String(half >> UInt64(shift) & 0xFFFF, radix: 16))
            }
        }
        return groups.joined(separator: ":")
    }
}
