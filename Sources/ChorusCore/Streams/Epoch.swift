/// The name of one life of a channel's stream: 8 random characters from `[A-Za-z0-9]`, replaced whenever the
/// stream's history may have been lost (a restart without Redis, the stream evicted or expired). An offset means
/// something only together with its epoch.
///
/// Eight characters are stored inline in the string (no allocation) and make a collision between two lives of the
/// same channel about one in 2·10¹⁴.
public struct Epoch: Hashable, Sendable, CustomStringConvertible {
    /// Longest epoch accepted from a client or from Redis, in bytes.
    package static let maxLength = 32

    package let value: String

    /// An epoch received from elsewhere (a client's `since`, a Redis message): 1–32 characters from
    /// `[A-Za-z0-9_-]`, so that it needs no escaping in JSON or the binary envelope.
    package init?(_ value: some StringProtocol) {
        guard !value.isEmpty, value.utf8.count <= Self.maxLength,
            value.utf8.allSatisfy({ Self.isAllowed($0) })
        else { return nil }
        self.value = String(value)
    }

    private init(unchecked value: String) {
        self.value = value
    }

    /// A new random epoch.
    package static func random() -> Epoch {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
        var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0)
        let value = withUnsafeMutableBytes(of: &bytes) { raw in
            for index in raw.indices {
                raw[index] = alphabet[Int(generator.next(upperBound: UInt8(alphabet.count)))]
            }
            return String(decoding: raw, as: UTF8.self)
        }
        return Epoch(unchecked: value)
    }

    public var description: String { self.value }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}
