/// A validated channel (topic) name: 1–128 characters from `[A-Za-z0-9_.:-]`.
///
/// The restricted alphabet keeps names safe in URLs, logs and Redis channel names without escaping.
public struct ChannelName: Hashable, Sendable, CustomStringConvertible {
    /// Longest accepted name, in characters (equal to bytes, since only ASCII is allowed).
    package static let maxLength = 128

    package let value: String

    public init(validating name: some StringProtocol) throws(ChannelNameError) {
        try Self.validate(name.utf8)
        self.value = String(name)
    }

    /// A name read from bytes (a request target): the string is built only once the bytes are valid, and is
    /// held inline up to 15 bytes.
    package init(validatingUTF8 bytes: Slice<UnsafeRawBufferPointer>) throws(ChannelNameError) {
        try Self.validate(bytes)
        self.value = String(decoding: bytes, as: UTF8.self)
    }

    private static func validate(_ bytes: some Sequence<UInt8>) throws(ChannelNameError) {
        var count = 0
        for byte in bytes {
            guard Self.isAllowed(byte) else {
                throw ChannelNameError(reason: "channel name contains a character outside [A-Za-z0-9_.:-]")
            }
            count += 1
        }
        guard count > 0 else {
            throw ChannelNameError(reason: "channel name is empty")
        }
        guard count <= Self.maxLength else {
            throw ChannelNameError(reason: "channel name is longer than 128 characters")
        }
    }

    public var description: String {
        self.value
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"),
            UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}

/// Why a string is not a valid channel name; the reason is short enough for a close frame or HTTP body.
public struct ChannelNameError: Error, Equatable, Sendable {
    package var reason: String

    package init(reason: String) {
        self.reason = reason
    }
}
